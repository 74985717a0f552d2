/**
 * The one way the POP3 server answers: a status line, `+OK ...` or `-ERR ...`, and for
 * some commands the lines of a multi-line response after it (RFC 1939 3).
 *
 *   S: +OK 2 messages (320 octets)      <- status line
 *   S: 1 120                            <- lines of the response
 *   S: 2 200
 *   S: .                                <- a dot alone ends it
 *
 * A message line that itself starts with a dot would look like the end, or like
 * nothing at all, so it is "dot-stuffed": the server puts one more dot in front
 * (`.hidden` travels as `..hidden`) and the client takes it off again.
 */

/**
 * Extended response codes: a machine-readable reason in brackets after -ERR, so a
 * mail client can tell "wrong password" from "try again later" (RFC 2449 8, RFC 3206).
 */
export type ResponseCode =
  /** RFC 2449 8.1.1: the maildrop is locked by another session. */
  | 'IN-USE'
  /** RFC 3206 5: the credentials were wrong (announced by the AUTH-RESP-CODE capability). */
  | 'AUTH'
  /** RFC 3206 4: a temporary problem on the server: try again later. */
  | 'SYS/TEMP';

export interface Reply {
  ok: boolean;
  /** The rest of the status line. CR and LF in it are sent as spaces: one reply is one status line. */
  text: string;
  code?: ResponseCode;
  /** Present (even empty) for a multi-line response: its lines, without line ends or dot-stuffing. */
  lines?: readonly (string | Buffer)[];
}

export function ok(text: string, lines?: readonly (string | Buffer)[]): Reply {
  return lines === undefined ? { ok: true, text } : { ok: true, text, lines };
}

export function err(text: string, code?: ResponseCode): Reply {
  return code === undefined ? { ok: false, text } : { ok: false, text, code };
}

const CRLF = Buffer.from('\r\n');
const DOT = 0x2e;
const END = Buffer.from('.\r\n');

/** The reply as bytes on the wire: the status line, then (multi-line) the dot-stuffed lines and the final dot. */
export function encodeReply(reply: Reply): Buffer {
  const parts: Buffer[] = [Buffer.from(statusLine(reply) + '\r\n')];
  if (reply.lines) {
    for (const line of reply.lines) {
      const bytes = typeof line === 'string' ? Buffer.from(oneLine(line)) : line;
      // RFC 1939 3: "If any line of the multi-line response begins with the termination
      // octet, the line is 'byte-stuffed' by pre-pending the termination octet to that line."
      if (bytes[0] === DOT) parts.push(Buffer.from('.'));
      parts.push(bytes, CRLF);
    }
    parts.push(END);
  }
  return Buffer.concat(parts);
}

/** `+OK text` or `-ERR [CODE] text`, without the CRLF: what the log shows. */
export function statusLine(reply: Reply): string {
  const words = [reply.ok ? '+OK' : '-ERR'];
  if (reply.code) words.push(`[${reply.code}]`);
  if (reply.text) words.push(oneLine(reply.text));
  return words.join(' ');
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}
