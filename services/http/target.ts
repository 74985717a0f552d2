/**
 * The request target: the second word of the request line (RFC 9112 §3.2).
 * Pure functions, so every trick a client can play on a path is tested in one place.
 */

/** A request target the server refuses to interpret; answered with 400 Bad Request. */
export class BadTargetError extends Error {
  constructor(readonly target: string, readonly reason: string) {
    super(reason);
    this.name = 'BadTargetError';
  }
}

export interface Target {
  /** The path as the client sent it, still percent-encoded: `/guide/caf%C3%A9.html`. */
  rawPath: string;
  /** What followed the `?`, without it; '' when there was none. */
  query: string;
}

/**
 * Split a request target into path and query. Three forms are legal for a server
 * (RFC 9112 §3.2): origin-form `/path?query` (what browsers send), absolute-form
 * `http://host/path` (what clients send to a proxy; servers must accept it too) and
 * asterisk-form `*`, only for `OPTIONS * HTTP/1.1` (returned as '*').
 */
export function splitTarget(target: string): Target | '*' {
  if (target === '*') return '*';
  let rest = target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (absolute) rest = target.slice(absolute[0].length) || '/';
  if (rest.startsWith('?')) rest = '/' + rest;
  if (!rest.startsWith('/')) throw new BadTargetError(target, 'the request target must start with "/"');
  const q = rest.indexOf('?');
  return q < 0 ? { rawPath: rest, query: '' } : { rawPath: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * Percent-decode a path exactly once (RFC 3986 §2.1): `%2e%2e` becomes `..`, `%2f`
 * becomes `/`, and the result is then checked by the jail like any other path.
 * Decoding twice would let `%252e%252e` turn into `..` after the check: never do.
 *
 * Refused with BadTargetError (-> 400):
 * - a `%` not followed by two hex digits (malformed, RFC 3986 §2.1);
 * - bytes that are not UTF-8 once decoded;
 * - NUL (`%00`): C code behind a server would stop reading the name there;
 * - a backslash, raw or `%5c`: a path separator on Windows, `..\..\` climbs there.
 */
export function decodePath(rawPath: string): string {
  if (rawPath.includes('\\')) throw new BadTargetError(rawPath, 'a backslash is not a path separator in a URL');
  if (/%(?![0-9a-fA-F]{2})/.test(rawPath)) {
    throw new BadTargetError(rawPath, 'bad percent-encoding: "%" must be followed by two hex digits, as in %20');
  }
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new BadTargetError(rawPath, 'the percent-encoded bytes are not UTF-8');
  }
  if (path.includes('\0')) throw new BadTargetError(rawPath, 'the path contains a NUL byte (%00)');
  if (path.includes('\\')) throw new BadTargetError(rawPath, 'a backslash (%5C) is not a path separator in a URL');
  return path;
}
