import type { Framer, TOO_LONG } from '../common/lineSession';
import { isTag } from './parser';

/**
 * Cutting IMAP commands out of the TCP byte stream (RFC 9051 2.2, 4.3, 7.5; RFC 7888).
 *
 * Most of an IMAP command is a line ending in CRLF, but an argument may be a *literal*:
 * a line that ends with `{n}` announces that n octets of any kind follow, then the
 * command goes on. A message sent by APPEND travels this way, and so may a password:
 *
 *   C: a1 APPEND Sent {310}
 *   S: + Ready for 310 octets           <- a "synchronizing" literal waits for this
 *   C: (310 octets: the message) CRLF
 *   S: a1 OK [APPENDUID 1764806400 4] APPEND completed
 *
 *   C: a2 LOGIN alice {5+}              <- LITERAL+ (RFC 7888): no waiting
 *   C: alice CRLF
 *
 * So the framer is a small state machine: read a line; if it ends in a literal's
 * announcement, read exactly that many octets, whatever they hold (CRLF included), then
 * read the next line of the same command. It never looks inside a literal.
 *
 * Limits, before any octet is stored:
 *   - maxText: the command's text outside its literals (`maxLineLength`);
 *   - maxLiteral: one literal, and all literals of a command together. Before login the
 *     session sets it to maxText (a name or a password is all a client may send then);
 *     after login it is the APPEND limit (`maxLiteralSize`).
 * A synchronizing literal over the limit is refused before the client sends it (it is
 * waiting for our "+"); a non-synchronizing one is already on its way, so its octets are
 * read and thrown away, and the command is refused when it ends (RFC 7888 4).
 */

/** What the framer hands the session, in order. */
export type ImapItem =
  /** A whole command: its octets without the final CRLF, literals inline (`{5}` CRLF `alice`). */
  | { kind: 'command'; tag: string; raw: Buffer }
  /** A synchronizing literal of `size` octets was announced and fits: the client waits for "+". */
  | { kind: 'continue'; tag: string; size: number }
  /** A command refused by a limit; its tag is '*' when it had none usable. */
  | { kind: 'refused'; tag: string; why: 'line-too-long' | 'literal-too-big'; size?: number; synchronizing?: boolean };

/** `{123}`, `{123+}` or `~{123}` (a literal8, RFC 3516) at the end of a line. */
const LITERAL_AT_END = /~?\{(\d{1,20})(\+?)\}$/;

/** How much of a refused command's current line is kept: enough to see a literal's announcement at its end. */
const TAIL = 32;

export class ImapFramer implements Framer<ImapItem> {
  /** The command's pieces so far: lines with their CRLF, and literals. */
  private parts: Buffer[] = [];
  /** The line being read (its first part, or its last octets when the command is refused). */
  private line: Buffer = Buffer.alloc(0);
  /** Octets of text (outside literals) in this command so far, CRLFs included. */
  private text = 0;
  /** Octets of literals in this command so far. */
  private literals = 0;
  /** Octets of a literal still to come. */
  private literalLeft = 0;
  /** The command's tag, once its first line is complete. */
  private tag?: string;
  /** Why the command in progress is refused; its octets are then read and dropped. */
  private refusal?: Extract<ImapItem, { kind: 'refused' }>;

  constructor(
    /** The longest command text outside literals, in octets, CRLFs included. */
    private readonly maxText: number,
    /** The largest literal (and the largest sum of literals in one command); the session changes it at login. */
    public maxLiteral: number,
  ) {}

  push(chunk: Buffer): (ImapItem | typeof TOO_LONG)[] {
    const items: ImapItem[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - at);
        if (!this.refusal) this.parts.push(Buffer.from(chunk.subarray(at, at + take))); // a copy: the chunk is not kept
        this.literalLeft -= take;
        at += take;
        continue;
      }
      const lf = chunk.indexOf(0x0a, at);
      if (lf === -1) {
        this.grow(chunk.subarray(at));
        break;
      }
      this.grow(chunk.subarray(at, lf + 1));
      at = lf + 1;
      const item = this.endOfLine();
      if (item) items.push(item);
    }
    return items;
  }

  reset(): number {
    const dropped = this.parts.reduce((n, p) => n + p.length, 0) + this.line.length;
    this.startCommand();
    this.literalLeft = 0;
    return dropped;
  }

  /** Add octets to the line in progress, refusing the command once its text is over the limit. */
  private grow(bytes: Buffer): void {
    if (this.refusal) {
      // Only the end matters now: does this line announce a literal that will follow?
      this.line = Buffer.from(Buffer.concat([this.line, bytes.subarray(-TAIL)]).subarray(-TAIL));
      return;
    }
    this.line = Buffer.concat([this.line, bytes]); // a copy: the chunk is not kept
    if (this.text + this.line.length > this.maxText) {
      this.refusal = { kind: 'refused', tag: this.tag ?? tagOf(this.line), why: 'line-too-long' };
      this.parts = [];
      this.line = Buffer.from(this.line.subarray(-TAIL));
    }
  }

  /** A line (of a command, or of a refused one) has ended with LF. */
  private endOfLine(): ImapItem | undefined {
    const line = this.line;
    this.line = Buffer.alloc(0);
    const end = line.length >= 2 && line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1;
    const literal = LITERAL_AT_END.exec(line.toString('latin1', Math.max(0, end - TAIL), end));
    if (!this.refusal) {
      this.text += line.length;
      this.tag ??= tagOf(line);
    }
    if (!literal) return this.finish(line.subarray(0, end));
    const size = Number(literal[1]);
    const synchronizing = literal[2] === '';
    if (this.refusal) {
      // A refused command goes on; a synchronizing literal will not come (the client waits for "+").
      if (synchronizing) return this.finish(line);
      this.literalLeft = size;
      return undefined;
    }
    if (size > this.maxLiteral - this.literals) {
      this.refusal = { kind: 'refused', tag: this.tag!, why: 'literal-too-big', size, synchronizing };
      this.parts = [];
      if (synchronizing) return this.finish(line); // nothing more of it comes: the client waits for "+"
      this.literalLeft = size; // already on its way: read it and drop it (RFC 7888 4)
      return undefined;
    }
    this.parts.push(line);
    this.literals += size;
    this.literalLeft = size;
    return synchronizing ? { kind: 'continue', tag: this.tag!, size } : undefined;
  }

  /** The command is complete: hand it over (or its refusal) and start on the next one. */
  private finish(lastLine: Buffer): ImapItem {
    const refusal = this.refusal;
    const item: ImapItem = refusal ?? { kind: 'command', tag: this.tag!, raw: Buffer.concat([...this.parts, lastLine]) };
    this.startCommand();
    return item;
  }

  private startCommand(): void {
    this.parts = [];
    this.line = Buffer.alloc(0);
    this.text = 0;
    this.literals = 0;
    this.tag = undefined;
    this.refusal = undefined;
  }
}

/** The tag of a command's first line, or '*' when it has none usable (the refusal is then untagged). */
function tagOf(line: Buffer): string {
  const space = line.indexOf(0x20);
  const end = space === -1 ? line.length : space;
  const tag = line.toString('latin1', 0, Math.min(end, 64)).replace(/\r?\n$/, '');
  return end <= 64 && isTag(tag) ? tag : '*';
}
