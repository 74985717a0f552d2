/**
 * The host key: made once in the data directory (mode 0600), the same after a restart,
 * and its fingerprint is the one OpenSSH's tools print for it.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, silentSink } from '../../../services/common/logger';
import { fingerprint, hostKeyFile, hostKeyFromText, newEd25519Key } from '../../../services/sftp/hostKey';
import { SftpServer } from '../../../services/sftp/server';
import { LAB_DIR } from '../../helpers/paths';
import { run } from '../../helpers/process';
import { sftpBatch, startSftp } from './clients';

test('made once, kept with mode 0600, and the same after a restart on the same data directory', async () => {
  const first = await startSftp();
  const file = hostKeyFile(first.dataDir);
  try {
    expect(first.server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(first.logs.matching(/ info host key .*note="made a new host key in /)).toHaveLength(1);
    const text = await readFile(file, 'utf8');
    await first.stop(true);

    const second = await startSftp({ base: first.base });
    expect(second.server.hostKeyFingerprint).toBe(first.server.hostKeyFingerprint);
    expect(second.server.hostPublicKey).toBe(first.server.hostPublicKey);
    expect(await readFile(file, 'utf8')).toBe(text);
    expect(second.logs.matching(/made a new host key/)).toHaveLength(0);
    await second.stop(true);

    // A key file others could read is put back to 0600 (sshd would refuse it).
    await chmod(file, 0o644);
    const third = await startSftp({ base: first.base });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(third.server.hostKeyFingerprint).toBe(first.server.hostKeyFingerprint);
    await third.logs.waitFor(/ info host key .*note=".*was readable by others; its mode is now 0600"/);
    await third.stop();
  } finally {
    await first.stop().catch(() => {});
  }
});

test('the fingerprint is what ssh-keygen -lf and ssh-keyscan show', async () => {
  const lab = await startSftp();
  try {
    // ssh-keygen reads the stored private key, the .pub next to it, and a line exported from the server.
    const exported = path.join(lab.base, 'exported.pub');
    await writeFile(exported, `${lab.server.hostPublicKey} exported\n`);
    for (const file of [hostKeyFile(lab.dataDir), `${hostKeyFile(lab.dataDir)}.pub`, exported]) {
      const keygen = await run('ssh-keygen', ['-lf', file]);
      expect(keygen.code).toBe(0);
      expect(keygen.stdout).toMatch(new RegExp(`^256 ${escape(lab.server.hostKeyFingerprint)} .*\\(ED25519\\)$`, 'm'));
    }
    // What the server sends on the wire, as ssh-keyscan collects it.
    const scan = await run('ssh-keyscan', ['-p', String(lab.port), '-t', 'ed25519', '127.0.0.1']);
    expect(scan.stdout.trim()).toBe(`[127.0.0.1]:${lab.port} ${lab.server.hostPublicKey}`);
    // And the ssh client prints the same fingerprint on first contact ("authenticity of host ... can't be established").
    const first = await sftpBatch(lab, ['pwd'], { options: ['-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${path.join(lab.base, 'kh')}`, '-o', 'LogLevel=DEBUG1'] });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`Server host key: ssh-ed25519 ${lab.server.hostKeyFingerprint}`);
    expect(first.stderr).toContain(`Permanently added '[127.0.0.1]:${lab.port}' (ED25519)`);
    expect((await run('ssh-keygen', ['-lf', path.join(lab.base, 'kh')])).stdout).toContain(lab.server.hostKeyFingerprint);
  } finally {
    await lab.stop();
  }
});

test('a host key given as an option is used as is; a broken key file is an error that says what to do', async () => {
  const log = createLogger('sftp', { sink: silentSink });
  const key = newEd25519Key('test');
  const server = new SftpServer({ log, hostKey: key });
  expect(server.hostKeyFingerprint).toBe(hostKeyFromText(key).fingerprint);
  const lab = await startSftp();
  try {
    await lab.stop(true);
    await writeFile(hostKeyFile(lab.dataDir), 'not a key\n');
    expect(() => new SftpServer({ log, dataDir: lab.dataDir })).toThrow(/cannot read the SSH host key .*delete the file and a new key is made/);
  } finally {
    await lab.stop();
  }
});

test('fingerprint(): SHA-256 of the key blob, base64 without padding, as OpenSSH', async () => {
  const line = (await readFile(path.join(LAB_DIR, 'keys/alice.pub'), 'utf8')).split(' ');
  const keygen = await run('ssh-keygen', ['-lf', path.join(LAB_DIR, 'keys/alice.pub')]);
  expect(keygen.stdout).toContain(fingerprint(Buffer.from(line[1]!, 'base64')));
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
