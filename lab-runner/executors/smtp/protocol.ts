import { parseReplies } from '../../../services/smtp/replyParser';
import { takeLine, type ReplyParser } from '../../wire';

/**
 * The runner's side of SMTP. Reply parsing and dot-stuffing are the SMTP service's
 * own (services/smtp/replyParser.ts, dotStuff.ts): one implementation of the rules.
 * What the runner adds: cutting exactly one reply off the stream with its raw bytes
 * for the transcript, and composing a message as a mail client does. Pure.
 */

export interface SmtpReply {
  code: number;
  /** Each line's text after the code. */
  lines: string[];
  /** The lines joined with a space. */
  text: string;
}

/** One reply: up to the first line whose code is followed by a space, not `-` (RFC 5321 4.2.1). */
export const smtpReply: ReplyParser<SmtpReply> = (data) => {
  let at = 0;
  for (;;) {
    const next = takeLine(data, at);
    if (!next) return undefined;
    at = next.end;
    if (next.line[3] !== '-') break;
  }
  const [reply] = parseReplies(data.subarray(0, at).toString('latin1')).replies; // throws on a line that is no reply
  return { reply: { code: reply!.code, lines: reply!.lines, text: reply!.lines.join(' ') }, raw: data.subarray(0, at), rest: data.subarray(at) };
};

/**
 * A simple RFC 5322 message from its parts, as a mail client writes it: From, To, Date,
 * the Message-ID when given (RFC 5322 3.6.4: a mail program names each message it
 * writes), Subject, the other headers, a blank line, the body.
 */
export function composeMessage(parts: { from: string; to: string[]; subject?: string; headers?: Record<string, string>; body?: string; date?: Date; messageId?: string }): string {
  const lines = [`From: <${parts.from}>`, `To: ${parts.to.map((t) => `<${t}>`).join(', ')}`, `Date: ${(parts.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`];
  if (parts.messageId !== undefined) lines.push(`Message-ID: ${parts.messageId}`);
  if (parts.subject !== undefined) lines.push(`Subject: ${parts.subject}`);
  for (const [name, value] of Object.entries(parts.headers ?? {})) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${parts.body ?? ''}`;
}

/** A new Message-ID, `<time.random@host>` (RFC 5322 3.6.4: unique, the right side a domain the writer uses). */
export function newMessageId(host: string, random: string, date = new Date()): string {
  return `<${date.getTime().toString(36)}.${random}@${host}>`;
}

