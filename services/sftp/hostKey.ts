import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { utils, type ParsedKey } from 'ssh2';
import { sshString, uint32 } from './packets';

/**
 * The server's host key: how an SSH client knows it reached the same server as last
 * time (RFC 4251 4.1). The client remembers the key in ~/.ssh/known_hosts on the first
 * connection ("The authenticity of host ... can't be established") and refuses to go on
 * when it ever changes ("REMOTE HOST IDENTIFICATION HAS CHANGED").
 *
 * So the key is made once and kept in the lab's data directory, like sshd's
 * /etc/ssh/ssh_host_ed25519_key: `<dataDir>/sftp/ssh_host_key` (mode 0600, OpenSSH's own
 * private key format), with `ssh_host_key.pub` next to it for `ssh-keygen -lf`.
 * Resetting the lab (deleting the data directory) makes a new one, as reinstalling a
 * server would.
 */

export interface HostKey {
  /** The private key file's text (OpenSSH format), what ssh2's Server takes in `hostKeys`. */
  privateKey: string;
  /** The public key as a known_hosts / authorized_keys line: `ssh-ed25519 AAAA...`. */
  publicKey: string;
  /** `SHA256:<base64>`, exactly what `ssh-keygen -lf` and the ssh client print. */
  fingerprint: string;
  /** `ssh-ed25519`. */
  type: string;
}

export function hostKeyFile(dataDir: string): string {
  return path.join(dataDir, 'sftp', 'ssh_host_key');
}

/**
 * The data directory's host key, made on the first call. Synchronous: it runs once at
 * start-up, and the fingerprint is known as soon as the server object exists.
 * Two servers starting at once on one data directory end with the same key: the file
 * is written under a temporary name and linked into place, and linking never replaces.
 */
export function loadOrCreateHostKey(dataDir: string, onNote?: (message: string) => void): HostKey {
  const file = hostKeyFile(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(path.dirname(file), { recursive: true });
    text = createKeyFile(file);
    onNote?.(`made a new host key in ${file}`);
  }
  // sshd refuses a host key others can read; we fix the mode instead of refusing.
  if ((statSync(file).mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
    onNote?.(`${file} was readable by others; its mode is now 0600`);
  }
  const key = hostKeyFromText(text, file);
  writeFileSync(`${file}.pub`, `${key.publicKey} wirelab-sftp-host-key\n`, { mode: 0o644 });
  return key;
}

/** Parse a private host key (OpenSSH or PEM text) and work out its public half and fingerprint. */
export function hostKeyFromText(text: string | Buffer, source = 'the host key'): HostKey {
  const parsed = utils.parseKey(text);
  const key: ParsedKey | Error | undefined = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) {
    const why = key instanceof Error ? key.message : 'not a private key';
    throw new Error(`${source}: cannot read the SSH host key (${why}); delete the file and a new key is made on the next start`);
  }
  const blob = key.getPublicSSH();
  return { privateKey: text.toString(), publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint: fingerprint(blob), type: key.type };
}

/**
 * OpenSSH's fingerprint of a public key: SHA-256 over the key blob (the bytes that the
 * base64 of a `.pub` line holds), in base64 without the `=` padding.
 */
export function fingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

function createKeyFile(file: string): string {
  const text = newEd25519Key('wirelab-sftp-host-key');
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readFileSync(file, 'utf8'); // another server made it first: use that one
  } finally {
    unlinkSync(temp);
  }
}

/**
 * A new Ed25519 key pair from node:crypto, written in the `openssh-key-v1` format
 * (OpenSSH's PROTOCOL.key), unencrypted: what `ssh-keygen -t ed25519 -N ''` writes.
 */
export function newEd25519Key(comment: string): string {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const type = 'ssh-ed25519';
  const publicBlob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, sshString(type), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const padding = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from([1, 2, 3, 4, 5, 6, 7].slice(0, padding))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'), // cipher
    sshString('none'), // kdf
    sshString(''), // kdf options
    uint32(1), // one key
    sshString(publicBlob),
    sshString(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}
