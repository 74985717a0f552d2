/**
 * The pure parts of the SFTP extensions: the VERSION packet's bytes, the fields of an
 * extended request, and which clients send SYMLINK's target first.
 */
import { readStrings, sshString, uint64s, versionPacket } from '../../../services/sftp/packets';
import { SftpStatusError } from '../../../services/sftp/replies';
import { symlinkTargetFirst } from '../../../services/sftp/session';

test('VERSION: length, type 2, version 3, then name and revision of each extension as SSH strings', () => {
  expect(versionPacket({})).toEqual(Buffer.from([0, 0, 0, 5, 2, 0, 0, 0, 3]));
  const packet = versionPacket({ 'hardlink@openssh.com': '1' });
  expect(packet.readUInt32BE(0)).toBe(packet.length - 4);
  expect(packet.subarray(4, 9)).toEqual(Buffer.from([2, 0, 0, 0, 3]));
  expect(packet.subarray(9)).toEqual(Buffer.concat([sshString('hardlink@openssh.com'), sshString('1')]));
});

test('extended request fields: exactly the strings asked for, or BAD_MESSAGE', () => {
  expect(readStrings(Buffer.concat([sshString('/a.txt'), sshString('/b.txt')]), 2)).toEqual(['/a.txt', '/b.txt']);
  expect(readStrings(sshString('/ü.txt'), 1)).toEqual(['/ü.txt']);
  const bad = [undefined, sshString('/a.txt'), Buffer.from([0, 0, 0, 9, 0x2f]), Buffer.concat([sshString('/a'), sshString('/b'), Buffer.from([0])])];
  for (const data of bad) {
    expect(() => readStrings(data, 2)).toThrow(SftpStatusError);
    try {
      readStrings(data, 2);
    } catch (e) {
      expect((e as SftpStatusError).status).toBe('BAD_MESSAGE');
    }
  }
});

test('statvfs numbers are uint64s, big-endian', () => {
  expect(uint64s([1n, 2n ** 40n])).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0]));
});

test('SYMLINK order by client: target first for OpenSSH, paramiko, Go; the draft\'s order for others', () => {
  for (const software of ['OpenSSH_9.2p1', 'paramiko_2.12.0', 'Go', 'dropbear_2022.83']) expect(symlinkTargetFirst(software)).toBe(true);
  for (const software of ['ssh2js1.17.0', 'WinSCP_release_6.3', 'libssh_0.10.4', 'Gone_1.0', '']) expect(symlinkTargetFirst(software)).toBe(false);
});
