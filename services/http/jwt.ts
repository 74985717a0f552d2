import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * JSON Web Tokens (RFC 7519), HS256 only, written out by hand so you can read how
 * one is made. A token is three base64url parts joined by dots:
 *
 *   base64url({"alg":"HS256","typ":"JWT"})      the header (RFC 7515 §4)
 *   base64url({"sub":"alice","iat":..,"exp":..}) the claims (RFC 7519 §4.1)
 *   base64url(HMAC-SHA256(key, header + "." + claims))   the signature
 *
 * Anyone can decode the first two parts (paste a token into a base64 decoder): a JWT
 * is signed, not encrypted. Only the holder of the key can make a valid signature,
 * so the server can trust the claims without remembering anything: no sessions.
 */

export interface Claims {
  /** Subject: who the token is about (the user name). */
  sub: string;
  /** Issued at, in seconds since 1970. */
  iat: number;
  /** Expires at, in seconds since 1970. */
  exp: number;
}

export type Verdict = { ok: true; claims: Claims } | { ok: false; reason: string };

const HEADER = { alg: 'HS256', typ: 'JWT' };

export function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

function hmac(key: Buffer, signingInput: string): string {
  return createHmac('sha256', key).update(signingInput).digest('base64url');
}

export function signJwt(claims: Claims, key: Buffer): string {
  const signingInput = `${base64url(JSON.stringify(HEADER))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${hmac(key, signingInput)}`;
}

/** Check a token's form, signature and expiry. `now` is in seconds since 1970. */
export function verifyJwt(token: string, key: Buffer, now: number): Verdict {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) {
    return { ok: false, reason: 'not a JWT: expected three base64url parts, header.payload.signature' };
  }
  const [header, payload, signature] = parts as [string, string, string];

  // RFC 8725 §3.1: never let the token choose its algorithm. A header saying "none"
  // (no signature) or another algorithm is refused, whatever the rest says.
  const alg = (decodePart(header) as { alg?: unknown } | undefined)?.alg;
  if (alg !== 'HS256') return { ok: false, reason: `unsupported algorithm ${JSON.stringify(alg)}; this server signs with HS256` };

  // Compare the signatures in constant time, so the time a wrong guess takes does not
  // leak how many of its first bytes were right.
  const expected = Buffer.from(hmac(key, `${header}.${payload}`));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'bad signature: the token was not issued by this server, or was changed' };
  }

  const claims = decodePart(payload) as Partial<Claims> | undefined;
  if (typeof claims?.sub !== 'string' || typeof claims.iat !== 'number' || typeof claims.exp !== 'number') {
    return { ok: false, reason: 'the token lacks the sub, iat and exp claims' };
  }
  // RFC 7519 §4.1.4: the token must not be accepted on or after its exp time.
  if (now >= claims.exp) return { ok: false, reason: 'the token has expired; log in again' };
  return { ok: true, claims: { sub: claims.sub, iat: claims.iat, exp: claims.exp } };
}

function decodePart(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
