import { TOO_LONG, type Framer } from '../common/lineSession';
/**
 * Command lines out of a TCP byte stream: pure functions, unit-tested on their own.
 *
 * TCP delivers bytes, not lines: one `data` event may hold half a command, or three
 * commands at once (a client that pipelines, RFC 2449 6.6). So the server keeps the bytes
 * after the last line end and hands them back with the next chunk:
 *
 *   let pending = Buffer.alloc(0);
 *   socket.on('data', (chunk) => {
 *     const { lines, rest, tooLong } = parseLines(Buffer.concat([pending, chunk]));
 *     pending = rest;
 *     ...
 *   });
 */

/**
 * RFC 2449 4 limits a command line to 255 octets, the CRLF included. A limit also stops
 * a client from filling the server's memory with one endless line.
 */
export const MAX_COMMAND_LINE = 255;

export interface ParsedLines {
  /** Complete lines, in order, without their line ends. */
  lines: string[];
  /** The bytes after the last line end: the start of a line still arriving. Pass them back with the next chunk. */
  rest: Buffer;
  /**
   * A line, complete or still arriving, is longer than the limit. `lines` holds the
   * lines before it (answer those first), `rest` is empty: the server answers -ERR
   * and closes, because it cannot tell where the next command would start.
   */
  tooLong: boolean;
}

/**
 * Cut complete lines out of `buffer`. A line ends with CRLF (RFC 1939 3); a bare LF is
 * accepted too, so `nc` without `-C` works. Length is counted as if every line ended
 * with CRLF, so the same line has the same length whichever end it came with.
 */
export function parseLines(buffer: Buffer, maxLineLength = MAX_COMMAND_LINE): ParsedLines {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const lf = buffer.indexOf(0x0a, start);
    const end = lf === -1 ? buffer.length : lf;
    const textEnd = end > start && buffer[end - 1] === 0x0d ? end - 1 : end;
    // A line still arriving is checked too: once it is over the limit it can only grow.
    if (textEnd - start + 2 > maxLineLength) return { lines, rest: Buffer.alloc(0), tooLong: true };
    if (lf === -1) return { lines, rest: buffer.subarray(start), tooLong: false };
    lines.push(buffer.toString('utf8', start, textEnd));
    start = lf + 1;
  }
}

export { parseCommand, type Command } from '../common/sessions';

/** The arguments of a command other than PASS: separated by spaces (RFC 1939 3), extra spaces tolerated. */
export function splitArgs(arg: string): string[] {
  return arg.split(' ').filter((a) => a !== '');
}

/** The engine's framer for POP3 (services/common/lineSession.ts): parseLines() with what it keeps between chunks. */
export class LineFramer implements Framer<string> {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxLineLength: number) {}

  push(chunk: Buffer): (string | typeof TOO_LONG)[] {
    const { lines, rest, tooLong } = parseLines(this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk, this.maxLineLength);
    this.pending = rest;
    return tooLong ? [...lines, TOO_LONG] : lines;
  }

  reset(): number {
    const dropped = this.pending.length;
    this.pending = Buffer.alloc(0);
    return dropped;
  }
}
