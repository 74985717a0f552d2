import type { SFTPWrapper } from 'ssh2';
import { SftpStatusError } from './replies';

/**
 * The bytes of SFTP packets that ssh2's server API does not make, and the reading of
 * the fields of an extended request. SFTP packets are `uint32 length, byte type,
 * uint32 request-id, fields...`, where a string is a uint32 length and its bytes
 * (draft-ietf-secsh-filexfer-02 3, RFC 4251 5).
 *
 * Two packets go out through ssh2's internals (the SFTP object's `_protocol` and its
 * `outgoing` channel window; checked with ssh2 1.17, and the tests with OpenSSH's
 * sftp and paramiko fail at once if that changes):
 *
 * - SSH_FXP_VERSION with extension pairs (draft-02 4): ssh2 answers every INIT with a
 *   bare `version 3`. A client uses an OpenSSH extension only when the server names it
 *   there (OpenSSH's `sftp` says "Server does not support statvfs@openssh.com
 *   extension" otherwise), so offerExtensions() swaps in a VERSION that names ours.
 * - SSH_FXP_EXTENDED_REPLY (draft-02 8): the answer to an extended request that is more
 *   than a STATUS, such as statvfs's numbers.
 */

/** Packet types (draft-02 3). */
const SSH_FXP_VERSION = 2;
const SSH_FXP_EXTENDED_REPLY = 201;

/** What ssh2 keeps on its SFTP object and does not document. */
interface Ssh2SftpInternals {
  _protocol: { channelData(id: number, data: Buffer): void };
  outgoing: { id: number; window: number; packetSize: number; state: string };
  /** Packets waiting for the client to open its window; ssh2 alone sends them, in order. */
  _buffer: Buffer[];
  /** The client's version says OpenSSH or dropbear: ssh2 then swaps SYMLINK's two paths. */
  _isOpenSSH: boolean;
}

const internals = (sftp: SFTPWrapper): Ssh2SftpInternals => sftp as unknown as Ssh2SftpInternals;

/** ssh2's own answer to INIT: length 5, VERSION, version 3, no extensions. */
const BARE_VERSION = Buffer.from([0, 0, 0, 5, SSH_FXP_VERSION, 0, 0, 0, 3]);

/** `uint32 length, byte VERSION, uint32 3`, then each extension's name and version as two strings. */
export function versionPacket(extensions: Readonly<Record<string, string>>): Buffer {
  const pairs = Object.entries(extensions).flatMap(([name, version]) => [sshString(name), sshString(version)]);
  const body = Buffer.concat([Buffer.from([SSH_FXP_VERSION, 0, 0, 0, 3]), ...pairs]);
  return Buffer.concat([uint32(body.length), body]);
}

/**
 * Make the session's VERSION name `extensions`. The VERSION is the first packet the
 * server sends on the channel: this catches that one write, sends the longer packet
 * instead (counting the extra bytes against the client's window, as ssh2 counted its
 * own), and steps out of the way.
 */
export function offerExtensions(sftp: SFTPWrapper, extensions: Readonly<Record<string, string>>): void {
  const ssh2 = internals(sftp);
  const protocol = ssh2._protocol;
  const version = versionPacket(extensions);
  ssh2._protocol = new Proxy(protocol, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (key !== 'channelData') return typeof value === 'function' ? value.bind(target) : value;
      return (id: number, data: Buffer): void => {
        ssh2._protocol = protocol;
        const extra = version.length - data.length;
        if (!data.equals(BARE_VERSION) || ssh2.outgoing.window < extra) return protocol.channelData(id, data);
        ssh2.outgoing.window -= extra;
        protocol.channelData(id, version);
      };
    },
  });
}

/**
 * Send an EXTENDED_REPLY. Only when it fits into the client's window now, and nothing
 * else waits for it (it must not overtake those packets): false otherwise, and the
 * request gets a FAILURE instead. A reply is about 100 bytes; clients open windows of
 * megabytes, so this happens only to a client that stopped reading.
 */
export function sendExtendedReply(sftp: SFTPWrapper, reqid: number, body: Buffer): boolean {
  const ssh2 = internals(sftp);
  const out = ssh2.outgoing;
  const packet = Buffer.concat([uint32(5 + body.length), Buffer.from([SSH_FXP_EXTENDED_REPLY]), uint32(reqid), body]);
  if (out.state !== 'open') return true; // the channel is gone: nobody to answer
  if (ssh2._buffer.length > 0 || out.window < packet.length || out.packetSize < packet.length) return false;
  out.window -= packet.length;
  ssh2._protocol.channelData(out.id, packet);
  return true;
}

/** Did ssh2 swap SYMLINK's two paths before handing them over (it does for OpenSSH and dropbear clients)? */
export function ssh2SwapsSymlinkPaths(sftp: SFTPWrapper): boolean {
  return internals(sftp)._isOpenSSH === true;
}

/** The fields of an extended request, after its name: strings (paths) and nothing after them. */
export function readStrings(data: Buffer | undefined, count: number): string[] {
  const strings: string[] = [];
  let at = 0;
  const bytes = data ?? Buffer.alloc(0);
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw new SftpStatusError('BAD_MESSAGE', `expected ${count} strings in the request`);
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) throw new SftpStatusError('BAD_MESSAGE', 'a string runs past the end of the request');
    strings.push(bytes.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  if (at !== bytes.length) throw new SftpStatusError('BAD_MESSAGE', 'bytes left over after the request');
  return strings;
}

/** A uint64 per field, as statvfs@openssh.com answers (OpenSSH's PROTOCOL 4.4). */
export function uint64s(values: readonly bigint[]): Buffer {
  const out = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => out.writeBigUInt64BE(v, 8 * i));
  return out;
}

/** A uint32, big-endian (RFC 4251 5). */
export function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** An SSH string: its length as a uint32, then its bytes (RFC 4251 5); text is UTF-8. */
export function sshString(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}
