/**
 * Reading SMTP replies as a client (RFC 5321 4.2). A reply is one or more lines that
 * share a three-digit code; every line but the last has a `-` after the code, the last
 * has a space (or nothing else at all):
 *
 *     250-mail.example.test Nice to meet you
 *     250-PIPELINING
 *     250 8BITMIME
 *
 * TCP delivers bytes, not lines: a reply may arrive in pieces, or several at once. So
 * the parser is pure and incremental: hand it everything received so far, get back the
 * complete replies and the rest, which waits for more bytes.
 */

export interface SmtpReply {
  code: number;
  /** The text of each line after `250-` / `250 `. */
  lines: string[];
}

export class ReplyParseError extends Error {
  constructor(readonly line: string) {
    super(`not an SMTP reply line: ${JSON.stringify(line.slice(0, 120))}`);
    this.name = 'ReplyParseError';
  }
}

const REPLY_LINE = /^(\d{3})(?:([ -])(.*))?$/;

/**
 * Split `text` into complete replies and what is left over. Lines end with CRLF; a bare
 * LF is accepted too (be liberal in what you accept). Throws ReplyParseError on a line
 * that is not a reply line, or a multi-line reply whose code changes midway.
 */
export function parseReplies(text: string): { replies: SmtpReply[]; rest: string } {
  const replies: SmtpReply[] = [];
  let start = 0; // where the reply being read began
  let at = 0; // where the next line begins
  let current: SmtpReply | undefined;
  for (;;) {
    const end = text.indexOf('\n', at);
    if (end < 0) return { replies, rest: text.slice(start) };
    const line = text.slice(at, end).replace(/\r$/, '');
    at = end + 1;
    const match = REPLY_LINE.exec(line);
    if (!match) throw new ReplyParseError(line);
    const code = Number(match[1]);
    if (current && current.code !== code) throw new ReplyParseError(line);
    current ??= { code, lines: [] };
    current.lines.push(match[3] ?? '');
    if (match[2] !== '-') {
      replies.push(current);
      current = undefined;
      start = at;
    }
  }
}

/** A reply as it was on the wire, lines joined with `\n`: `250-mail.example.test\n250 SIZE 10485760`. */
export function formatReply(reply: SmtpReply): string {
  return reply.lines.map((line, i) => `${reply.code}${i < reply.lines.length - 1 ? '-' : ' '}${line}`).join('\n');
}

/** A reply on one line for a log or a bounce: `550 5.1.1 <nobody@example.test>: no such user`. */
export function replyText(reply: SmtpReply): string {
  return `${reply.code} ${reply.lines.join(' ')}`.trim();
}
