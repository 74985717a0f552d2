import { TOO_LONG, type Framer } from '../common/lineSession';
/**
 * Command lines out of the control connection's byte stream: pure functions, unit-tested
 * on their own.
 *
 * TCP delivers bytes, not lines: one `data` event may hold half a command or three of
 * them. The parser is incremental: it takes the state left by the previous chunk and
 * returns the complete lines and the new state.
 *
 *   let state = INITIAL_LINE_STATE;
 *   socket.on('data', (chunk) => {
 *     const { items, state: next } = parseLines(state, chunk, 512);
 *     state = next;
 *     ...
 *   });
 *
 * The control connection is a Telnet connection (RFC 959 4.1, RFC 854): a line ends with
 * CR LF, and the byte 255 (IAC, "interpret as command") starts a Telnet command, such as
 * the IP ("interrupt process") and DM ("data mark") a client sends before ABOR
 * (RFC 959 4.1.3). Those are taken out here, so the server only ever sees text.
 */

/** What the parser carries from one chunk to the next. Start with INITIAL_LINE_STATE. */
export interface LineState {
  /** The start of a line still arriving. */
  readonly pending: Buffer;
  /** Bytes of a line that was too long are being dropped, up to its line end. */
  readonly discarding: boolean;
  /** The previous chunk ended with CR: an LF at the start of this one belongs to it. */
  readonly afterCR: boolean;
}

export const INITIAL_LINE_STATE: LineState = { pending: Buffer.alloc(0), discarding: false, afterCR: false };

/** Where a line over the limit stood among the others: the server answers 500 there. */
export { TOO_LONG };
export type LineItem = string | typeof TOO_LONG;

export interface ParsedLines {
  /** Complete lines, in order, without line ends and Telnet commands; TOO_LONG for a line over the limit. */
  items: LineItem[];
  state: LineState;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Cut complete lines out of what arrived. A line ends with CR LF (RFC 959 4.1); a bare LF
 * (`nc` without -C) and a bare CR end a line too. (The bare CR matters: a client that sends
 * `ABOR\r\n` as TCP urgent data, as Python's ftplib does, loses the last byte to the urgent
 * mark on Linux, and the server would otherwise wait for an LF that never comes.)
 *
 * A line is at most `maxLineLength` octets counted with a CR LF end. RFC 959 sets no limit,
 * but a server must: one endless line would fill its memory. A longer line yields one
 * TOO_LONG (as soon as it is known, even before its end has arrived); the rest of it is
 * dropped up to its line end, and the next line is read normally.
 */
export function parseLines(state: LineState, chunk: Buffer, maxLineLength: number): ParsedLines {
  const items: LineItem[] = [];
  let { discarding } = state;
  let start = 0;
  // An LF right after a CR that ended the previous chunk: the same line end.
  if (state.afterCR && chunk[0] === LF) start = 1;
  const buffer = state.pending.length > 0 && !discarding ? Buffer.concat([state.pending, chunk.subarray(start)]) : chunk.subarray(start);
  start = 0;
  for (;;) {
    const end = lineEnd(buffer, start);
    const length = (end === -1 ? buffer.length : end) - start;
    if (discarding) {
      if (end === -1) return { items, state: { pending: Buffer.alloc(0), discarding: true, afterCR: false } };
      discarding = false;
    } else if (length + 2 > maxLineLength) {
      // A line still arriving is checked too: once it is over the limit it can only grow.
      items.push(TOO_LONG);
      if (end === -1) return { items, state: { pending: Buffer.alloc(0), discarding: true, afterCR: false } };
    } else if (end === -1) {
      return { items, state: { pending: Buffer.from(buffer.subarray(start)), discarding: false, afterCR: false } };
    } else {
      items.push(decodeLine(buffer.subarray(start, end)));
    }
    // Step over the line end: CR LF, LF, or CR.
    if (buffer[end] === CR && buffer[end + 1] === LF) start = end + 2;
    else start = end + 1;
    if (start >= buffer.length) {
      const afterCR = buffer[end] === CR && end + 1 === buffer.length;
      return { items, state: { pending: Buffer.alloc(0), discarding: false, afterCR } };
    }
  }
}

/** The index of the next CR or LF at or after `from`, or -1. */
function lineEnd(buffer: Buffer, from: number): number {
  for (let i = from; i < buffer.length; i++) {
    const byte = buffer[i];
    if (byte === CR || byte === LF) return i;
  }
  return -1;
}

const IAC = 0xff;
/** WILL, WON'T, DO, DON'T: Telnet option negotiation, three bytes with the option. */
const NEGOTIATION_FIRST = 0xfb;
const NEGOTIATION_LAST = 0xfe;
/** Data mark: ends the Telnet "synch" a client sends with ABOR. */
const DM = 0xf2;

/**
 * A line's bytes as text: Telnet commands out (IAC IAC is a literal 255 byte), NUL out,
 * then UTF-8 (RFC 2640: paths are UTF-8; OPTS UTF8 ON says the client agrees).
 */
export function decodeLine(bytes: Buffer): string {
  // A data mark (DM, 242) sent as TCP urgent data may arrive without its IAC: a stray one
  // in front of the verb is dropped too.
  let first = 0;
  while (bytes[first] === DM) first++;
  if (first === 0 && !bytes.includes(IAC) && !bytes.includes(0)) return bytes.toString('utf8');
  const out: number[] = [];
  for (let i = first; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0) continue;
    if (byte !== IAC) {
      out.push(byte);
      continue;
    }
    const next = bytes[i + 1];
    if (next === IAC) {
      out.push(IAC);
      i += 1;
    } else if (next !== undefined && next >= NEGOTIATION_FIRST && next <= NEGOTIATION_LAST) {
      i += 2; // IAC WILL x and friends: not for FTP's purposes
    } else {
      i += 1; // IAC IP, IAC DM, ...: signals, not text
    }
  }
  return Buffer.from(out).toString('utf8');
}

export { parseCommand, type Command } from '../common/sessions';

/** The engine's framer for the control connection (services/common/lineSession.ts): parseLines() with its state. */
export class LineFramer implements Framer<string> {
  private state: LineState = INITIAL_LINE_STATE;

  constructor(private readonly maxLineLength: number) {}

  push(chunk: Buffer): LineItem[] {
    const { items, state } = parseLines(this.state, chunk, this.maxLineLength);
    this.state = state;
    return items;
  }

  reset(): number {
    const dropped = this.state.pending.length;
    this.state = INITIAL_LINE_STATE;
    return dropped;
  }
}
