import { createHash } from 'node:crypto';

/**
 * A stored message as POP3 sends it: pure functions on bytes.
 *
 * Mail on the wire has CRLF line ends (RFC 5322 2.1, RFC 1939 3), but a file on a Unix
 * disk may have bare LF (one written by hand, or by a tool that is not an MTA). The
 * server sends every line with CRLF whatever the file holds, and counts octets the same
 * way, so the size LIST announces is the size RETR delivers.
 */

/**
 * The lines of a stored message, without line ends. CRLF and bare LF both end a line;
 * a last line without an end is still a line (it will be sent with CRLF).
 */
export function messageLines(raw: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < raw.length) {
    const lf = raw.indexOf(0x0a, start);
    const end = lf === -1 ? raw.length : lf;
    lines.push(raw.subarray(start, end > start && raw[end - 1] === 0x0d ? end - 1 : end));
    start = end + 1;
  }
  return lines;
}

/**
 * The size of a message in octets, as the client receives it: every line with CRLF, and
 * not counting the dots added by dot-stuffing (those belong to the transport, and the
 * client removes them). RFC 1939 11 asks for this exact size in STAT and LIST.
 */
export function octets(lines: readonly Buffer[]): number {
  let total = 0;
  for (const line of lines) total += line.length + 2;
  return total;
}

/**
 * TOP msg n (RFC 1939 7): the header, the blank line that ends it, and the first `n`
 * lines of the body. A message without a blank line is all header: it is sent whole.
 */
export function topOf(lines: readonly Buffer[], bodyLines: number): Buffer[] {
  const blank = lines.findIndex((line) => line.length === 0);
  if (blank === -1) return [...lines];
  return lines.slice(0, blank + 1 + bodyLines);
}

/**
 * The unique-id UIDL shows for a message (RFC 1939 7, UIDL): 1 to 70 characters from
 * 0x21 to 0x7E, the same in every session, so a client that "leaves mail on the server"
 * knows which messages it has already downloaded.
 *
 * The Maildir file name (without its `:2,flags` part) is unique and never changes for a
 * message's life, so it is the id. A name that does not fit the rule (a long host name,
 * a file copied in by hand) is replaced by a hash of it: just as stable.
 */
export function uidlOf(maildirUid: string): string {
  if (/^[\x21-\x7e]{1,70}$/.test(maildirUid)) return maildirUid;
  return 'sha1-' + createHash('sha1').update(maildirUid).digest('hex');
}
