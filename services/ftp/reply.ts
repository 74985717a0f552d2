import type { ReplyCode } from './codes';

/**
 * The one way the FTP server answers on the control connection (RFC 959 4.2).
 *
 * A reply is three digits, a space, and text, ending with CRLF:
 *
 *   S: 250 Directory successfully changed.
 *
 * A reply of several lines starts with the code and a hyphen, and ends with a line
 * that starts with the same code and a space; the client reads until that line:
 *
 *   S: 211-Features:
 *   S:  EPSV
 *   S:  SIZE
 *   S: 211 End
 *
 * A line in between must not look like that end line, so (RFC 959 4.2) a line that
 * starts with digits is indented by one space. FEAT (RFC 2389 3.2) and MLST
 * (RFC 3659 7.2) put a space in front of every line anyway.
 */
export interface Reply {
  code: ReplyCode;
  /** The first line's text. CR and LF in it are sent as spaces: one line is one line. */
  text: string;
  /** Present for a multi-line reply: the lines between the first and the last. */
  lines?: readonly string[];
  /** The last line's text (multi-line replies). Default: `End`. */
  end?: string;
}

export function reply(code: ReplyCode, text: string, lines?: readonly string[], end?: string): Reply {
  const out: Reply = { code, text };
  if (lines !== undefined) out.lines = lines;
  if (end !== undefined) out.end = end;
  return out;
}

/** The reply as it goes on the wire: one line, or the `code-` ... `code ` block. */
export function encodeReply(r: Reply): Buffer {
  if (r.lines === undefined) return Buffer.from(`${r.code} ${oneLine(r.text)}\r\n`);
  let out = `${r.code}-${oneLine(r.text)}\r\n`;
  for (const line of r.lines) {
    const text = oneLine(line);
    // A middle line that starts like "211 " or "211-" would end (or restart) the reply.
    out += (/^\d{3}[ -]/.test(text) ? ' ' + text : text) + '\r\n';
  }
  return Buffer.from(out + `${r.code} ${oneLine(r.end ?? 'End')}\r\n`);
}

/** `550 No such file` (the first line, without CRLF): what the log shows. */
export function replyLine(r: Reply): string {
  return `${r.code} ${oneLine(r.text)}`;
}

/**
 * A path inside a 257 reply, between double quotes. A quote in the name is doubled
 * (RFC 959 appendix II): `"/my ""best"" files"`.
 */
export function quotePath(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}
