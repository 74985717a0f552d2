/**
 * How the IMAP server answers (RFC 9051 2.2.2, 7): every response is one line ending in
 * CRLF, possibly with literals inside it, and starts with one of three things:
 *
 *   * 3 EXISTS                          untagged: data, or news the client did not ask for
 *   + Ready for 310 octets              a continuation request: "go on, send the rest"
 *   a1 OK [READ-WRITE] SELECT completed tagged: the end of the command tagged a1
 *
 * A tagged response's status is OK (done), NO (could not: the mailbox does not exist,
 * the password is wrong) or BAD (the command itself is wrong). A response code in
 * brackets tells a program why: [TRYCREATE], [AUTHENTICATIONFAILED], [TOOBIG] ...
 *
 * Values inside responses (FETCH data, LIST names) follow the same syntax as commands:
 * numbers, atoms, "quoted strings", {n} literals, (lists) and NIL.
 */

/** A piece of a response line: protocol text as it is, or a literal's octets (sent as `{n}` CRLF octets). */
export type Piece = string | Buffer;

export interface Response {
  /** `*`, `+`, or the command's tag. */
  tag: string;
  pieces: Piece[];
}

/** One response, or several sent together (untagged data, then the tagged completion). */
export type Reply = Response | readonly Response[];

export type Status = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

/** An atom in a value: sent as it is (`FLAGS`, `\Seen`, `EXISTS`). */
export class Atom {
  constructor(readonly text: string) {}
}
export const atom = (text: string): Atom => new Atom(text);

/**
 * Values written one after the other with no space and no parentheses. The grammar wants
 * it so in two places (RFC 9051 9): the addresses of an ENVELOPE field, `((...)(...))`,
 * and the parts of a multipart BODYSTRUCTURE, `((...)(...) "mixed" ...)`.
 */
export class Joined {
  constructor(readonly values: readonly Value[]) {}
}

/** Octets that may hold NUL: sent as a literal8, `~{n}` CRLF octets (RFC 3516 4.3, BINARY[]). */
export class Literal8 {
  constructor(readonly bytes: Buffer) {}
}

/**
 * A value in a response: null is NIL, a number is a number, a string is a string (quoted
 * when it can be, a literal when not), a Buffer is a literal, an array is a list.
 */
export type Value = null | number | string | Atom | Buffer | Literal8 | Joined | readonly Value[];

/**
 * A string as a quoted string when that is allowed (RFC 9051 4.3: one line of 7-bit
 * text without NUL, here also short), else as a literal: 8-bit text, CR or LF, long text.
 */
function stringPieces(text: string): Piece[] {
  if (text.length <= 1000 && /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(text)) return [`"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`];
  return [Buffer.from(text, 'utf8')];
}

/** The pieces of a value, for inside a response line. */
export function valuePieces(value: Value): Piece[] {
  if (value === null) return ['NIL'];
  if (typeof value === 'number') return [String(value)];
  if (typeof value === 'string') return stringPieces(value);
  if (value instanceof Atom) return [value.text];
  if (value instanceof Literal8) return ['~', value.bytes];
  if (value instanceof Joined) return value.values.flatMap((v) => valuePieces(v));
  if (Buffer.isBuffer(value)) return [value];
  const out: Piece[] = ['('];
  value.forEach((v, i) => {
    if (i > 0) out.push(' ');
    out.push(...valuePieces(v as Value));
  });
  out.push(')');
  return out;
}

/** Values separated by single spaces. */
export function spaced(values: readonly Value[]): Piece[] {
  const out: Piece[] = [];
  values.forEach((v, i) => {
    if (i > 0) out.push(' ');
    out.push(...valuePieces(v));
  });
  return out;
}

/** `* 3 EXISTS`, `* FLAGS (\Seen ...)`, `* 1 FETCH (...)`: untagged data. */
export function data(...values: Value[]): Response {
  return { tag: '*', pieces: spaced(values) };
}

/** A status response: `a1 OK [CODE] text` (tagged) or `* OK [CODE] text` (untagged). */
export function status(tag: string, name: Status, text: string, code?: string): Response {
  const words = [name, code === undefined ? undefined : `[${code}]`, oneLine(text)].filter((w) => w !== undefined && w !== '');
  return { tag, pieces: [words.join(' ')] };
}

export const ok = (tag: string, text: string, code?: string): Response => status(tag, 'OK', text, code);
export const no = (tag: string, text: string, code?: string): Response => status(tag, 'NO', text, code);
export const bad = (tag: string, text: string, code?: string): Response => status(tag, 'BAD', text, code);
export const bye = (text: string, code?: string): Response => status('*', 'BYE', text, code);

/** `+ text`: the server is ready for the rest (a literal, an AUTHENTICATE answer, IDLE's DONE). */
export function continuation(text: string): Response {
  return { tag: '+', pieces: [oneLine(text)] };
}

const CRLF = Buffer.from('\r\n');

/** The reply as octets on the wire. */
export function encode(reply: Reply): Buffer {
  const parts: Buffer[] = [];
  for (const r of responses(reply)) {
    parts.push(Buffer.from(`${r.tag} `));
    for (const piece of r.pieces) {
      if (typeof piece === 'string') parts.push(Buffer.from(piece, 'utf8'));
      else parts.push(Buffer.from(`{${piece.length}}\r\n`), piece);
    }
    parts.push(CRLF);
  }
  return Buffer.concat(parts);
}

export function responses(reply: Reply): readonly Response[] {
  return Array.isArray(reply) ? reply : [reply as Response];
}

/** The last response of a reply: the tagged completion, for the log line. */
export function summary(reply: Reply | undefined): string | undefined {
  const all = reply === undefined ? [] : responses(reply);
  const last = all[all.length - 1];
  if (!last) return undefined;
  const text = last.pieces.map((p) => (typeof p === 'string' ? p : `{${p.length}}`)).join('');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
