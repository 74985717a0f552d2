import { createHash, timingSafeEqual } from 'node:crypto';
import { utils, type ParsedKey, type PublicKeyAuthContext } from 'ssh2';

/**
 * Public-key login (RFC 4252 7). The client proves it holds the private key of a public
 * key the server knows for the user (lab/keys/<user>.pub here, ~/.ssh/authorized_keys on
 * a real server) in two steps:
 *
 *   C: publickey, alice, ssh-ed25519 <key>            (no signature: "would you take this key?")
 *   S: USERAUTH_PK_OK                                 yes, that key is alice's
 *   C: publickey, alice, ssh-ed25519 <key>, <signature over the session id and this request>
 *   S: USERAUTH_SUCCESS                               the signature checks out with the public key
 *
 * The first step is only a probe: answering "yes" proves nothing about the client. Only
 * a valid signature, made with the private key over data unique to this connection,
 * logs the client in. The password is never sent, and a recorded signature is useless
 * on another connection.
 */

export type PublicKeyVerdict =
  /** The key is the user's and the signature is valid: log in. */
  | 'accept'
  /** The key is the user's, no signature yet: answer PK_OK (ssh2: ctx.accept() without a signature). */
  | 'key-ok'
  /** Not a key of this user. */
  | 'unknown-key'
  /** The user's key, but the signature does not verify. */
  | 'bad-signature';

/**
 * The keys of an `authorized_keys`-style text, one `type base64 [comment]` per line;
 * blank lines and `#` comments are skipped, a line that is not a key is an error naming it.
 */
export function parsePublicKeys(text: string, source = 'public key file'): ParsedKey[] {
  const keys: ParsedKey[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const parsed = utils.parseKey(trimmed);
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
    if (!key || key instanceof Error) throw new Error(`${source}:${i + 1}: not an SSH public key (${key instanceof Error ? key.message : 'empty'})`);
    keys.push(key);
  });
  return keys;
}

/** A key that matches nothing, compared when the user has no keys so the work done is the same. */
const NOBODY = Buffer.from('\0no such key\0');

/**
 * Decide a publickey request against the user's keys. The offered key (its type and
 * its bytes) is compared with each of the user's keys in constant time, all of them,
 * so the time taken does not tell which key, or how much of one, matched.
 */
export function checkPublicKey(ctx: Pick<PublicKeyAuthContext, 'key' | 'signature' | 'blob' | 'hashAlgo'>, userKeys: readonly ParsedKey[]): PublicKeyVerdict {
  const offered = digest(ctx.key.algo, ctx.key.data);
  let match: ParsedKey | undefined;
  for (const key of userKeys.length > 0 ? userKeys : [undefined]) {
    const known = key ? digest(key.type, key.getPublicSSH()) : digest('', NOBODY);
    if (timingSafeEqual(offered, known) && key) match ??= key;
  }
  if (!match) return 'unknown-key';
  if (!ctx.signature) return 'key-ok';
  // ssh2 hands us the exact bytes the client signed (session id + this request) as `blob`.
  if (!ctx.blob) return 'bad-signature';
  let valid: boolean | Error;
  try {
    valid = match.verify(ctx.blob, ctx.signature, ctx.hashAlgo);
  } catch {
    valid = false;
  }
  return valid === true ? 'accept' : 'bad-signature';
}

function digest(algo: string, data: Buffer): Buffer {
  // Length-prefixed, so "type + data" cannot be confused with a different split of the same bytes.
  const length = Buffer.alloc(4);
  length.writeUInt32BE(Buffer.byteLength(algo));
  return createHash('sha256').update(length).update(algo).update(data).digest();
}
