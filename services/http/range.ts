/**
 * Range requests (RFC 9110 §14): "only bytes 1000 to 1999 of that file, please". A
 * download that broke off resumes where it stopped (`curl -C -`), a video player
 * jumps to the middle. The server says it can do this with `Accept-Ranges: bytes`;
 * the client asks with `Range: bytes=...`; the answer is 206 Partial Content with a
 * Content-Range saying which bytes these are, or 416 when none of them exist.
 *
 *   Range: bytes=0-99       the first 100 bytes
 *   Range: bytes=100-       from byte 100 to the end (what curl -C - sends)
 *   Range: bytes=-100       the last 100 bytes
 *   Range: bytes=0-0,-1     the first and the last byte: two parts, multipart/byteranges
 *
 * A pure function of the header and the file's size; static.ts sends the bytes.
 */

/** Bytes `start` to `end` of the file, both included, as Content-Range counts them. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeAnswer =
  /** 200 and the whole file: no Range, a unit other than bytes, or ranges not worth serving. */
  | { kind: 'whole' }
  /** 206 with these parts, in the order asked. */
  | { kind: 'partial'; ranges: ByteRange[] }
  /** 416: the header is not a byte range, or none of its ranges lies in the file. */
  | { kind: 'unsatisfiable' };

/**
 * What to send for `Range: <header>` on a file of `size` bytes, serving at most
 * `maxRanges` parts. Decided as nginx does:
 * - a unit other than `bytes` is ignored (RFC 9110 §14.2): the whole file;
 * - a range that is not `a-b`, `a-` or `-n`, or has its end before its start, makes
 *   the header invalid: 416 (§14.2 lets a server reject or ignore it);
 * - ranges that start past the end are dropped; if none is left: 416 (§15.5.17);
 * - an end past the file's end is the file's end (§14.1.2);
 * - more than `maxRanges` parts, or parts that add up to more than the file (overlaps,
 *   which would let a few bytes of request ask for many times the file): the whole
 *   file, with 200 (§14.2 allows ignoring Range; it warns of exactly this).
 */
export function parseRange(header: string | undefined, size: number, maxRanges: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const unit = /^bytes=/i.exec(header);
  if (!unit) return { kind: 'whole' };
  // An empty element in a list (`0-1,,4-5`) is skipped (RFC 9110 §5.6.1.2).
  const specs = header.slice(unit[0].length).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'unsatisfiable' };

  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const suffix = /^-(\d+)$/.exec(spec);
    if (suffix) {
      // The last n bytes; of an empty file, or n = 0, there are none (§14.1.1).
      const n = Number(suffix[1]);
      if (n > 0 && size > 0) ranges.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const span = /^(\d+)-(\d*)$/.exec(spec);
    if (!span) return { kind: 'unsatisfiable' };
    const start = Number(span[1]);
    const end = span[2] === '' ? Infinity : Number(span[2]);
    if (end < start) return { kind: 'unsatisfiable' };
    if (start < size) ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  const total = ranges.reduce((sum, r) => sum + (r.end - r.start + 1), 0);
  if (ranges.length > maxRanges || total > size) return { kind: 'whole' };
  return { kind: 'partial', ranges };
}

/** `bytes 0-99/1234`: which part of how much (RFC 9110 §14.4). */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
