/**
 * What every header decoder needs: a clear error for a header cut short, and the
 * usual ways of writing addresses down.
 */

/** A header that is too short or says something impossible: which layer, and why. */
export class DecodeError extends Error {
  constructor(readonly layer: string, message: string) {
    super(`${layer}: ${message}`);
    this.name = 'DecodeError';
  }
}

/** Throw unless `bytes` holds at least `length` bytes of `layer`'s header. */
export function need(bytes: Buffer, length: number, layer: string, what = 'header'): void {
  if (bytes.length < length) throw new DecodeError(layer, `${bytes.length} byte(s), too short for its ${length}-byte ${what}`);
}

/** `00:00:00:00:00:00`: a MAC address as Wireshark writes it. */
export function macText(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** `127.0.0.1`: four bytes in dotted decimal (RFC 791's notation). */
export function ipv4Text(bytes: Buffer): string {
  return [...bytes.subarray(0, 4)].join('.');
}

/**
 * `::1`, `fe80::1`: sixteen bytes as RFC 5952 section 4 writes them: eight groups in
 * lowercase hex without leading zeros, the longest run of two or more zero groups
 * (the first, if two are as long) replaced by `::`.
 */
export function ipv6Text(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  if (best.at < 0) return hex(groups);
  return `${hex(groups.slice(0, best.at))}::${hex(groups.slice(best.at + best.length))}`;
}
