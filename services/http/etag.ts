/**
 * Validators for conditional requests (RFC 9110 §8.8 and §13): the client keeps
 * the ETag or Last-Modified of its copy and asks "only if it changed"; the
 * server answers 304 Not Modified, with no body, when it did not.
 */

export interface FileVersion {
  size: number;
  mtimeMs: number;
}

/**
 * A strong ETag (RFC 9110 §8.8.3) made of the file's size and modification time,
 * as nginx does: cheap (no hashing), and it changes whenever the file is rewritten.
 */
export function etagFor(file: FileVersion): string {
  return `"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`;
}

/**
 * If-None-Match (RFC 9110 §13.1.2): true when one of the listed tags matches, or
 * the list is `*`. The comparison is weak (§8.8.3.2): `W/"x"` matches `"x"`.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const strip = (tag: string): string => tag.trim().replace(/^W\//, '');
  const ours = strip(etag);
  return header.split(',').some((tag) => strip(tag) === ours);
}

/**
 * If-Modified-Since (RFC 9110 §13.1.3): true when the file has not changed since
 * the given date. HTTP dates have one-second resolution, so compare whole seconds.
 * An unparsable date is ignored, as the RFC asks.
 */
export function notModifiedSince(header: string | undefined, mtimeMs: number): boolean {
  if (header === undefined) return false;
  const since = Date.parse(header);
  if (Number.isNaN(since)) return false;
  return Math.floor(mtimeMs / 1000) <= Math.floor(since / 1000);
}

/** An HTTP date (RFC 9110 §5.6.7, IMF-fixdate): `Sat, 21 Nov 2026 17:50:00 GMT`. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * If-Range (RFC 9110 §13.1.5): "send me the part I am missing, but only if the file is
 * still the one I have the rest of; if it changed, send it whole". Its value is an
 * entity tag, compared strongly (a weak tag never matches, §8.8.3.2), or an HTTP date
 * that must be exactly the file's Last-Modified. True when the Range may be used.
 */
export function ifRangeHolds(header: string | undefined, etag: string, mtimeMs: number): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && Math.floor(date / 1000) === Math.floor(mtimeMs / 1000);
}
