import { takeLine, type ReplyParser } from '../../wire';

/**
 * POP3 replies as a client reads them (RFC 1939 3): a status line `+OK ...` or
 * `-ERR ...`, and for some commands a multi-line body after `+OK` that ends with a
 * line holding only `.`; body lines that start with `.` were dot-stuffed by the
 * server and lose that dot here. Pure functions.
 */

export interface Pop3Reply {
  ok: boolean;
  /** The status line after `+OK ` / `-ERR `. */
  text: string;
  /** The body lines of a multi-line reply, un-stuffed. */
  lines?: string[];
}

export function statusLine(line: string): Pop3Reply {
  const match = /^(\+OK|-ERR)(?: (.*))?$/.exec(line);
  if (!match) throw new Error(`not a POP3 status line: ${JSON.stringify(line.slice(0, 100))}`);
  return { ok: match[1] === '+OK', text: match[2] ?? '' };
}

export const singleLine: ReplyParser<Pop3Reply> = (data) => {
  const first = takeLine(data);
  if (!first) return undefined;
  return { reply: statusLine(first.line), raw: data.subarray(0, first.end), rest: data.subarray(first.end) };
};

/** A reply that, when it is +OK, goes on until a line of just ".". */
export const multiLine: ReplyParser<Pop3Reply> = (data) => {
  const first = takeLine(data);
  if (!first) return undefined;
  const status = statusLine(first.line);
  if (!status.ok) return { reply: status, raw: data.subarray(0, first.end), rest: data.subarray(first.end) };
  const lines: string[] = [];
  let at = first.end;
  for (;;) {
    const next = takeLine(data, at);
    if (!next) return undefined;
    at = next.end;
    if (next.line === '.') return { reply: { ...status, lines }, raw: data.subarray(0, at), rest: data.subarray(at) };
    lines.push(next.line.startsWith('.') ? next.line.slice(1) : next.line);
  }
};

/** `LIST`/`UIDL` body lines: `1 1205` -> [1, "1205"]. */
export function numbered(lines: string[]): [number, string][] {
  return lines.map((l) => {
    const [n, value] = l.split(' ');
    return [Number(n), value ?? ''];
  });
}
