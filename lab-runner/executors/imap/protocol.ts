import { ParseError, Reader, sequenceSet } from '../../../services/imap/parser';
import type { ReplyParser } from '../../wire';

/**
 * IMAP responses as a client reads them (RFC 9051 2.2.2, 7, 9). Pure functions.
 *
 * Every response is a line, but a literal inside it (`{12}` CRLF, then 12 octets of
 * anything, line ends included) goes on past the line end: a message fetched with
 * BODY[] travels this way. So one response is cut off the stream by following each
 * literal's count, never by looking for the next CRLF alone. Then:
 *
 *   + Ready for 310 octets              a continuation request: go on
 *   * 3 EXISTS                          untagged, with a number first (EXISTS, EXPUNGE, FETCH)
 *   * LIST (\HasNoChildren) "." INBOX   untagged data
 *   * OK [UIDVALIDITY 1796419832] ...   an untagged status, with a response code in brackets
 *   a3 OK [READ-WRITE] SELECT completed the tagged end of the command tagged a3
 *
 * The values inside (FETCH data, LIST names, codes' arguments) are the syntax the
 * server's own parser reads in commands (services/imap/parser.ts: quoted strings and
 * literals come from its Reader): numbers, atoms, "quoted", {n} literals, (lists), NIL.
 */

/** A value in a response: NIL is null, a list is an array, atoms and strings are text. */
export type ImapValue = null | number | string | ImapValue[];

export const STATUSES = ['OK', 'NO', 'BAD', 'BYE', 'PREAUTH'] as const;
export type ImapStatus = (typeof STATUSES)[number];

export interface ResponseCode {
  /** `UIDVALIDITY`, `TRYCREATE`, `APPENDUID`... upper-cased. */
  name: string;
  /** What follows the name inside the brackets, as text (`1796419832`, `1796419832 4`). */
  args: string;
}

export interface ImapResponse {
  /** `*` untagged, `+` a continuation request, or the tag of the command it ends. */
  tag: string;
  /** `* 3 EXISTS`: 3. */
  number?: number;
  /** EXISTS, FETCH, LIST, CAPABILITY, SEARCH... or the status (OK, NO, BAD, BYE, PREAUTH). Absent for `+`. */
  type?: string;
  status?: ImapStatus;
  code?: ResponseCode;
  /** A status's words for people (after the code), or a continuation's text. */
  text: string;
  /** A data response's values after its type: `(\HasNoChildren) "." INBOX` as [['\HasNoChildren'], '.', 'INBOX']. */
  values: ImapValue[];
  /** The response as text, each literal's octets left out (`BODY[TEXT] {26}`): for lists and summaries. */
  line: string;
}

const LITERAL_AT_END = /~?\{(\d{1,12})\+?\}\r?\n$/;

/**
 * One response off the stream: up to the CRLF that ends it, literals followed by their
 * counts. Undefined while it is not all there.
 */
export const imapResponse: ReplyParser<ImapResponse> = (data) => {
  const line: string[] = [];
  let at = 0;
  for (;;) {
    const lf = data.indexOf(0x0a, at);
    if (lf < 0) return undefined;
    const text = data.toString('latin1', at, lf + 1);
    const literal = LITERAL_AT_END.exec(text);
    if (!literal) {
      line.push(text.replace(/\r?\n$/, ''));
      break;
    }
    line.push(text.replace(/\r?\n$/, ''));
    const end = lf + 1 + Number(literal[1]);
    if (data.length < end) return undefined;
    at = end;
  }
  const raw = data.subarray(0, data.indexOf(0x0a, at) + 1);
  return { reply: parseResponse(raw, line.join('')), raw, rest: data.subarray(raw.length) };
};

/** The parts of one whole response (its octets, literals inline). Throws ParseError on a line that is no IMAP response. */
export function parseResponse(raw: Buffer, line = raw.toString('utf8').replace(/\r?\n$/, '')): ImapResponse {
  const r = new Reader(raw.subarray(0, raw.length - (raw[raw.length - 2] === 0x0d ? 2 : 1)));
  const tag = word(r);
  if (tag === '') throw new ParseError(`not an IMAP response: ${JSON.stringify(line.slice(0, 80))}`);
  const response: ImapResponse = { tag, text: '', values: [], line: Buffer.from(line, 'latin1').toString('utf8') };
  if (tag === '+') {
    r.accept(' ');
    response.text = rest(r);
    return response;
  }
  if (!r.accept(' ')) throw new ParseError(`not an IMAP response: ${JSON.stringify(line.slice(0, 80))}`);
  let type = word(r);
  if (tag === '*' && /^\d+$/.test(type)) {
    // `* 3 EXISTS`, `* 1 FETCH (...)`: a message number, then what it is about.
    response.number = Number(type);
    r.accept(' ');
    type = word(r);
  }
  response.type = type.toUpperCase();
  if ((STATUSES as readonly string[]).includes(response.type)) {
    response.status = response.type as ImapStatus;
    r.accept(' ');
    const text = rest(r);
    // resp-text = ["[" resp-text-code "]" SP] text (RFC 9051 7.1)
    const code = /^\[([^\]]*)\] ?/.exec(text);
    if (code) {
      const [name, ...args] = code[1]!.split(' ');
      response.code = { name: name!.toUpperCase(), args: args.join(' ') };
    }
    response.text = code ? text.slice(code[0].length) : text;
    return response;
  }
  if (tag !== '*') throw new ParseError(`a tagged response must be OK, NO or BAD: ${JSON.stringify(line.slice(0, 80))}`);
  if (r.accept(' ')) response.values = values(r);
  return response;
}

/**
 * Values separated by spaces up to the end (of the response, or of a list at `)`). Two
 * lists may also follow each other with no space: the addresses of an ENVELOPE field
 * `((...)(...))` and the parts of a multipart BODYSTRUCTURE (RFC 9051 9).
 */
export function values(r: Reader): ImapValue[] {
  const out: ImapValue[] = [];
  while (!r.atEnd && r.peek() !== 0x29) {
    out.push(value(r));
    if (!r.accept(' ') && r.peek() !== 0x28) break;
  }
  return out;
}

/** One value: (list), "quoted", {n} literal, NIL, a number, or an atom (`BODY[HEADER.FIELDS (SUBJECT)]<0>` is one). */
export function value(r: Reader): ImapValue {
  const c = r.peek();
  if (c === 0x28) {
    r.expect('(');
    const list = values(r);
    r.expect(')');
    return list;
  }
  if (c === 0x22) return r.quoted().toString('utf8');
  if (c === 0x7b || (c === 0x7e && r.bytes[r.pos + 1] === 0x7b)) return r.literal(true).toString('utf8');
  const text = word(r);
  if (text === '') throw new ParseError(`expected a value at octet ${r.pos + 1}`);
  if (text.toUpperCase() === 'NIL') return null;
  return /^\d{1,15}$/.test(text) ? Number(text) : text;
}

/**
 * An atom as servers send them: anything up to a space or a parenthesis, where a
 * section in brackets may hold both (`BODY[HEADER.FIELDS (SUBJECT FROM)]`).
 */
function word(r: Reader): string {
  const start = r.pos;
  let depth = 0;
  while (!r.atEnd) {
    const c = r.bytes[r.pos]!;
    if (c === 0x5b) depth++;
    else if (c === 0x5d && depth > 0) depth--;
    else if (depth === 0 && (c === 0x20 || c === 0x28 || c === 0x29 || c === 0x0d || c === 0x0a)) break;
    r.pos++;
  }
  return r.bytes.toString('utf8', start, r.pos);
}

function rest(r: Reader): string {
  const text = r.bytes.toString('utf8', r.pos);
  r.pos = r.bytes.length;
  return text;
}

/** The values of a response code's arguments (`PERMANENTFLAGS (\Seen \*)`). */
export function codeValues(code: ResponseCode): ImapValue[] {
  try {
    return values(new Reader(Buffer.from(code.args, 'utf8')));
  } catch {
    return [];
  }
}

/** `1:3,7` as the numbers it names (a set from a server: COPYUID, ESEARCH ALL; no `*`). */
export function setNumbers(text: string): number[] {
  const set = sequenceSet(new Reader(Buffer.from(text, 'latin1')));
  if (set.saved) return [];
  const out: number[] = [];
  for (const [a, b] of set.ranges) {
    if (a === '*' || b === '*') continue;
    for (let n = Math.min(a, b); n <= Math.max(a, b) && out.length < 100000; n++) out.push(n);
  }
  return out;
}

/** A short line for the transcript's arrow. */
export function describeResponse(response: ImapResponse): string {
  return response.line.length > 100 ? `${response.line.slice(0, 97)}...` : response.line;
}

// ---------------------------------------------------------------------------
// Writing commands.

/** A piece of a command: protocol text, or octets to send as a literal (`{n}`, then the octets once the server says `+`). */
export type CommandPiece = string | { literal: Buffer };

/** atom-specials and everything else an atom may not hold (RFC 9051 9), `]` allowed as in astring. */
const ATOM = /^[^(){ \x00-\x1f\x7f%*"\\]+$/;

/**
 * A string argument (user name, password, mailbox name, search text): as an atom when
 * it is one, "quoted" when it is one line of 7-bit text, else as a literal.
 */
export function astring(text: string): CommandPiece {
  if (ATOM.test(text) && /^[\x21-\x7e]+$/.test(text)) return text;
  if (/^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(text)) return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return { literal: Buffer.from(text, 'utf8') };
}

/** A LIST pattern: like a string, but `*` and `%` may stand in an atom (list-mailbox, RFC 9051 9): `LIST "" *`. */
export function listPattern(text: string): CommandPiece {
  return /^[\x21-\x7e]+$/.test(text) && !/[(){"\\]/.test(text) ? text : astring(text);
}

/** A flag list for STORE and APPEND: `(\Seen \Flagged)`. */
export const flagList = (flags: readonly string[]): string => `(${flags.join(' ')})`;
