/**
 * The syntax of IMAP commands (RFC 9051 9, the formal syntax): pure functions on the
 * bytes of one command, as the framer (framer.ts) cut it out of the stream, literals
 * included. Nothing here touches a socket or a disk, so each rule is unit-tested alone.
 *
 * A command is a tag, a space, a command name and its arguments:
 *
 *   a1 FETCH 1:4 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])
 *   a2 LOGIN alice {5}        <- a literal: 5 octets follow the CRLF, sent as they are
 *   alice
 *
 * The pieces arguments are made of (RFC 9051 4):
 *   atom      FLAGS, INBOX, 1:4       letters and most punctuation, no spaces
 *   quoted    "Sent Items"             with \" and \\ as the only escapes, one line
 *   literal   {5}CRLF alice            any bytes, announced by their count
 *   list      (FLAGS UID)              values in parentheses
 *   NIL                                nothing at all
 * An "astring" is an atom or a string (quoted or literal): a mailbox name, a user name.
 */

/** A command whose syntax is wrong: the server answers `tag BAD` with this text. */
export class ParseError extends Error {}

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * atom-specials (RFC 9051 9): `( ) { SP CTL % * " \ ]`. Every other printable ASCII
 * character may be part of an atom. `]` is allowed in an astring (resp-specials), so
 * `BODY[HEADER]` style words parse; `%` and `*` are allowed in LIST patterns.
 */
function isAtomChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== DQUOTE && c !== BACKSLASH && c !== 0x5d;
}
const isAstringChar = (c: number): boolean => isAtomChar(c) || c === 0x5d;
const isListChar = (c: number): boolean => isAstringChar(c) || c === 0x25 || c === 0x2a;

/** Reads the parts of one command, left to right; every method throws ParseError on a mismatch. */
export class Reader {
  pos = 0;
  constructor(readonly bytes: Buffer) {}

  get atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  peek(): number | undefined {
    return this.bytes[this.pos];
  }

  /** The next octets, upper-cased, without moving: for choosing between forms. */
  peekWord(): string {
    let end = this.pos;
    while (end < this.bytes.length && isAstringChar(this.bytes[end]!) && this.bytes[end] !== 0x5b) end++;
    return this.bytes.toString('latin1', this.pos, end).toUpperCase();
  }

  /** Exactly one space: IMAP separates arguments by one SP, never more (RFC 9051 9). */
  sp(): void {
    const c = this.peek();
    if (c !== undefined && c >= 0x80) throw new ParseError('8-bit text must be in a quoted string or a literal');
    if (c !== SP) throw new ParseError(this.atEnd ? 'missing arguments' : `expected a space at octet ${this.pos + 1}`);
    this.pos++;
  }

  /** Consume `c` if it is next. */
  accept(c: string): boolean {
    if (this.bytes[this.pos] !== c.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  expect(c: string): void {
    if (!this.accept(c)) throw new ParseError(`expected "${c}" at octet ${this.pos + 1}`);
  }

  /** The command is over: nothing may follow its last argument. */
  end(): void {
    if (!this.atEnd) throw new ParseError(`unexpected text after the arguments: ${JSON.stringify(this.rest(30))}`);
  }

  private rest(max: number): string {
    return this.bytes.toString('latin1', this.pos, Math.min(this.bytes.length, this.pos + max));
  }

  private run(test: (c: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.bytes.length && test(this.bytes[this.pos]!)) this.pos++;
    return this.bytes.toString('latin1', start, this.pos);
  }

  /** 1*ATOM-CHAR. */
  atom(what = 'a word'): string {
    const text = this.run(isAtomChar);
    if (text === '') throw new ParseError(`expected ${what} at octet ${this.pos + 1}`);
    return text;
  }

  /** An atom, upper-cased: command names, keywords, option names. */
  keyword(what?: string): string {
    return this.atom(what).toUpperCase();
  }

  /** number = 1*DIGIT, an unsigned 32-bit value (RFC 9051 9); number64 where `max` says. */
  number(max = 0xffffffff): number {
    const digits = this.run((c) => c >= 0x30 && c <= 0x39);
    if (digits === '') throw new ParseError(`expected a number at octet ${this.pos + 1}`);
    const n = Number(digits);
    if (!Number.isSafeInteger(n) || n > max) throw new ParseError(`number out of range: ${digits}`);
    return n;
  }

  nzNumber(): number {
    const n = this.number();
    if (n === 0) throw new ParseError('expected a number greater than 0');
    return n;
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE: one line, `\"` and `\\` the only escapes. */
  quoted(): Buffer {
    this.expect('"');
    const out: number[] = [];
    for (;;) {
      const c = this.bytes[this.pos++];
      if (c === undefined || c === CR || c === LF) throw new ParseError('unterminated quoted string');
      if (c === DQUOTE) return Buffer.from(out);
      if (c === BACKSLASH) {
        const next = this.bytes[this.pos++];
        if (next !== DQUOTE && next !== BACKSLASH) throw new ParseError('in a quoted string only \\" and \\\\ may be escaped');
        out.push(next);
      } else out.push(c);
    }
  }

  /**
   * literal = "{" number ["+"] "}" CRLF *OCTET (RFC 9051 4.3, RFC 7888). The framer has
   * already put the announced octets right after the CRLF; `~{n}` is a literal8 (binary
   * content, RFC 3516), allowed only where `binary` says.
   */
  literal(binary = false): Buffer {
    if (binary) this.accept('~');
    this.expect('{');
    const size = this.number();
    this.accept('+');
    this.expect('}');
    if (this.bytes[this.pos] !== CR || this.bytes[this.pos + 1] !== LF) throw new ParseError('a literal\'s "}" must end the line');
    this.pos += 2;
    if (this.pos + size > this.bytes.length) throw new ParseError('literal shorter than announced');
    const data = this.bytes.subarray(this.pos, this.pos + size);
    this.pos += size;
    return data;
  }

  /** string = quoted / literal. */
  string(): Buffer {
    const c = this.peek();
    if (c === DQUOTE) return this.quoted();
    if (c === 0x7b) return this.literal();
    throw new ParseError(`expected a quoted string or a literal at octet ${this.pos + 1}`);
  }

  /** astring = 1*ASTRING-CHAR / string, as UTF-8 text. */
  astring(what = 'a name'): string {
    const c = this.peek();
    if (c === DQUOTE || c === 0x7b) return this.string().toString('utf8');
    const text = this.run(isAstringChar);
    if (text === '') throw new ParseError(`expected ${what} at octet ${this.pos + 1}`);
    return text;
  }

  /** nstring = string / NIL. */
  nstring(): Buffer | null {
    if (this.peekWord() === 'NIL') {
      this.pos += 3;
      return null;
    }
    return this.string();
  }

  /** list-mailbox = 1*list-char / string: a LIST pattern, with `%` and `*`. */
  listMailbox(): string {
    const c = this.peek();
    if (c === DQUOTE || c === 0x7b) return this.string().toString('utf8');
    const text = this.run(isListChar);
    if (text === '') throw new ParseError(`expected a mailbox pattern at octet ${this.pos + 1}`);
    return text;
  }

  /** A fetch item's name, up to a `[` if any: letters, digits and dots, upper-cased (`BODY.PEEK`). */
  fetchName(): string {
    const name = this.run((c) => c === 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)).toUpperCase();
    if (name === '') throw new ParseError(`expected a fetch item at octet ${this.pos + 1}`);
    return name;
  }

  /** A section's text part: letters and dots, upper-cased (`HEADER.FIELDS.NOT`). */
  sectionText(): string {
    return this.run((c) => c === 0x2e || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)).toUpperCase();
  }

  /** "(" item *(SP item) ")", or "()" when `empty` allows it. */
  list<T>(item: (r: Reader) => T, empty = true): T[] {
    this.expect('(');
    const items: T[] = [];
    if (this.accept(')')) {
      if (!empty) throw new ParseError('empty list');
      return items;
    }
    for (;;) {
      items.push(item(this));
      if (this.accept(')')) return items;
      if (this.atEnd) throw new ParseError('a list is not closed: expected ")"');
      this.sp();
    }
  }
}

// ---------------------------------------------------------------------------
// The command line: tag and name.

/**
 * tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 9). The client picks it; the server
 * repeats it on the command's completion so the client knows which command finished.
 */
export function isTag(text: string): boolean {
  if (text === '') return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isAstringChar(c) || c === 0x2b) return false;
  }
  return true;
}

export interface CommandLine {
  tag: string;
  /** The command name, upper-cased (names are case-insensitive). */
  name: string;
  /** Positioned after the name: at the space before the arguments, or at the end. */
  args: Reader;
}

/**
 * Split a command into its tag, its name and a reader for the arguments. Throws
 * ParseError when there is no usable tag (the answer is then untagged `* BAD`) or no name.
 */
export function parseCommandLine(raw: Buffer): CommandLine {
  const r = new Reader(raw);
  const space = raw.indexOf(SP);
  const tag = raw.toString('latin1', 0, space === -1 ? raw.length : space);
  if (!isTag(tag)) throw new ParseError(tag === '' ? 'empty command line' : 'invalid tag: a tag is letters, digits and most punctuation, without spaces, quotes, parentheses or "+"');
  r.pos = tag.length;
  if (space === -1) return { tag, name: '', args: r };
  r.sp();
  const name = r.atEnd ? '' : r.keyword('a command name');
  return { tag, name, args: r };
}

// ---------------------------------------------------------------------------
// Sequence sets (RFC 9051 9, sequence-set; RFC 5182 for "$").

/** `*` is "the last message" (its number, or the highest UID); a range may be given backwards. */
export type SeqNumber = number | '*';
export type SequenceSet = { saved: true } | { saved: false; ranges: [SeqNumber, SeqNumber][] };

export function sequenceSet(r: Reader): SequenceSet {
  if (r.accept('$')) return { saved: true };
  const ranges: [SeqNumber, SeqNumber][] = [];
  const seqNumber = (): SeqNumber => (r.accept('*') ? '*' : r.nzNumber());
  do {
    const from = seqNumber();
    ranges.push([from, r.accept(':') ? seqNumber() : from]);
  } while (r.accept(','));
  return { saved: false, ranges };
}

/**
 * The numbers a set names among `all` (message numbers 1..n, or the mailbox's UIDs in
 * order), in ascending order, each once. For UIDs, numbers that name no message are left
 * out; `*` is the highest one there is (RFC 9051 6.4.9: "UID range of 559:* always
 * includes the UID of the last message in the mailbox, even if 559 is higher").
 */
export function resolveSet(ranges: readonly [SeqNumber, SeqNumber][], all: readonly number[]): number[] {
  const last = all.length > 0 ? all[all.length - 1]! : 0;
  const value = (n: SeqNumber): number => (n === '*' ? last : n);
  return all.filter((n) => ranges.some(([a, b]) => {
    const lo = Math.min(value(a), value(b));
    const hi = Math.max(value(a), value(b));
    return n >= lo && n <= hi;
  }));
}

/** Numbers as a compact sequence set: `1:3,7,9:10` (for COPYUID, APPENDUID and ESEARCH ALL). */
export function formatSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(i === j ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

// ---------------------------------------------------------------------------
// Flags (RFC 9051 2.3.2).

/** The system flags; any other `\Word` is a flag this server does not know. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

/** flag = "\Answered" / ... / keyword / flag-extension; system flags in their canonical case. */
export function flag(r: Reader): string {
  const backslash = r.accept('\\');
  const word = r.atom('a flag');
  if (!backslash) return word;
  const known = [...SYSTEM_FLAGS, '\\Recent'].find((f) => f.toLowerCase() === `\\${word.toLowerCase()}`);
  return known ?? `\\${word}`;
}

/** flag-list = "(" [flag *(SP flag)] ")". */
export function flagList(r: Reader): string[] {
  return r.list(flag);
}

// ---------------------------------------------------------------------------
// Dates (RFC 9051 9: date, date-time).

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A calendar day, as SEARCH compares them ("disregarding time and timezone"). */
export interface Day {
  year: number;
  month: number; // 1-12
  day: number;
}

function parseDayText(text: string): Day {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  const month = m ? MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase()) + 1 : 0;
  if (!m || month === 0 || Number(m[1]) < 1 || Number(m[1]) > 31) throw new ParseError(`expected a date like 1-Feb-2026, got ${JSON.stringify(text)}`);
  return { year: Number(m[3]), month, day: Number(m[1]) };
}

/** date = date-text / DQUOTE date-text DQUOTE; date-text = 1*2DIGIT "-" month "-" 4DIGIT. */
export function date(r: Reader): Day {
  if (r.peek() === DQUOTE) return parseDayText(r.quoted().toString('latin1'));
  return parseDayText(r.atom('a date'));
}

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE, as in APPEND. */
export function dateTime(r: Reader): Date {
  const text = r.quoted().toString('latin1');
  const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(text);
  const month = m ? MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase()) : -1;
  if (!m || month === -1) throw new ParseError(`expected a date-time like "01-Feb-2026 10:00:00 +0000", got ${JSON.stringify(text)}`);
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(utc)) throw new ParseError(`not a date: ${text}`);
  return new Date(utc - offset * 60_000);
}

/** `04-Dec-2026 20:43:08 +0000`: how INTERNALDATE is shown (in UTC, with a two-digit day). */
export function formatDateTime(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

// ---------------------------------------------------------------------------
// SEARCH (RFC 9051 6.4.4).

export type DateWhich = 'internal' | 'sent';
export type SearchKey =
  | { op: 'all' }
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'recent' | 'new' | 'old' }
  | { op: 'header'; field: string; value: string }
  | { op: 'body' | 'text'; value: string }
  | { op: 'date'; which: DateWhich; cmp: 'before' | 'on' | 'since'; day: Day }
  | { op: 'size'; cmp: 'larger' | 'smaller'; octets: number }
  | { op: 'seq' | 'uid'; set: SequenceSet }
  | { op: 'not'; key: SearchKey }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'and'; keys: SearchKey[] };

/** The flag each flag key tests, and whether it must be set. */
const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS = ['BCC', 'CC', 'FROM', 'SUBJECT', 'TO'];
const DATE_KEYS: Record<string, [DateWhich, 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

/** search-key, one of them (a parenthesized list is one key: all of them must match). */
export function searchKey(r: Reader): SearchKey {
  if (r.peek() === 0x28) return { op: 'and', keys: r.list(searchKey, false) };
  const c = r.peek();
  if (c === 0x24 || c === 0x2a || (c !== undefined && c >= 0x30 && c <= 0x39)) return { op: 'seq', set: sequenceSet(r) };
  const word = r.keyword('a search key');
  const text = (): string => {
    r.sp();
    return r.astring('a search string');
  };
  if (word in FLAG_KEYS) {
    const [f, set] = FLAG_KEYS[word]!;
    return { op: 'flag', flag: f, set };
  }
  if (HEADER_KEYS.includes(word)) return { op: 'header', field: word, value: text() };
  if (word in DATE_KEYS) {
    const [which, cmp] = DATE_KEYS[word]!;
    r.sp();
    return { op: 'date', which, cmp, day: date(r) };
  }
  switch (word) {
    case 'ALL':
      return { op: 'all' };
    case 'RECENT':
    case 'NEW':
    case 'OLD':
      return { op: word.toLowerCase() as 'recent' | 'new' | 'old' };
    case 'KEYWORD':
    case 'UNKEYWORD':
      r.sp();
      return { op: 'flag', flag: r.atom('a keyword'), set: word === 'KEYWORD' };
    case 'HEADER': {
      const field = text();
      return { op: 'header', field, value: text() };
    }
    case 'BODY':
    case 'TEXT':
      return { op: word === 'BODY' ? 'body' : 'text', value: text() };
    case 'LARGER':
    case 'SMALLER':
      r.sp();
      return { op: 'size', cmp: word === 'LARGER' ? 'larger' : 'smaller', octets: r.number(Number.MAX_SAFE_INTEGER) };
    case 'UID':
      r.sp();
      return { op: 'uid', set: sequenceSet(r) };
    case 'NOT':
      r.sp();
      return { op: 'not', key: searchKey(r) };
    case 'OR': {
      r.sp();
      const a = searchKey(r);
      r.sp();
      return { op: 'or', a, b: searchKey(r) };
    }
    default:
      throw new ParseError(`unknown search key ${word}`);
  }
}

/** What ESEARCH returns (RFC 4731, in RFC 9051 6.4.4.1); SAVE keeps the result as `$` (RFC 5182). */
export type SearchReturn = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';
const SEARCH_RETURNS: readonly SearchReturn[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'];

export interface SearchArgs {
  /** Undefined: the plain IMAP4rev1 `* SEARCH` form (unless IMAP4rev2 is enabled). */
  returns?: SearchReturn[];
  charset?: string;
  key: SearchKey;
}

/** search = "SEARCH" [search-return-opts] [SP "CHARSET" SP charset] 1*(SP search-key). */
export function searchArgs(r: Reader): SearchArgs {
  const args: Partial<SearchArgs> = {};
  r.sp();
  if (r.peekWord() === 'RETURN') {
    r.keyword();
    r.sp();
    args.returns = r.list((x) => {
      const word = x.keyword('a search return option') as SearchReturn;
      if (!SEARCH_RETURNS.includes(word)) throw new ParseError(`unknown search return option ${word}`);
      return word;
    });
    r.sp();
  }
  if (r.peekWord() === 'CHARSET') {
    r.keyword();
    r.sp();
    args.charset = r.astring('a charset').toUpperCase();
    r.sp();
  }
  const keys = [searchKey(r)];
  while (!r.atEnd) {
    r.sp();
    keys.push(searchKey(r));
  }
  return { ...args, key: keys.length === 1 ? keys[0]! : { op: 'and', keys } };
}

// ---------------------------------------------------------------------------
// FETCH (RFC 9051 6.4.5).

/**
 * section-spec: a part number (`1.2`) and/or a text part: HEADER, HEADER.FIELDS (...),
 * HEADER.FIELDS.NOT (...), TEXT, or MIME (only after a part number).
 */
export interface Section {
  part: number[];
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  fields?: string[];
}

export type FetchAtt =
  | { kind: 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'UID' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  /** BODY[section]<partial>, BODY.PEEK[...], BINARY[...] and BINARY.PEEK[...] (RFC 3516). */
  | { kind: 'section'; binary: boolean; peek: boolean; section: Section; partial?: { start: number; count: number } }
  | { kind: 'BINARY.SIZE'; part: number[] };

const SIMPLE_ATTS = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'UID', 'ENVELOPE', 'BODYSTRUCTURE', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT'] as const;

/** The macros (RFC 9051 6.4.5): ALL, FAST and FULL stand for lists of items. */
const MACROS: Record<string, FetchAtt[]> = {
  ALL: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }],
  FAST: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }],
  FULL: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }, { kind: 'BODY' }],
};

/** A header field name: printable ASCII except ":" and space (RFC 5322 3.6.8), as an astring. */
function headerFieldName(r: Reader): string {
  const name = r.astring('a header field name');
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new ParseError(`not a header field name: ${JSON.stringify(name)}`);
  return name;
}

function section(r: Reader, binary: boolean): Section {
  r.expect('[');
  const part: number[] = [];
  const s: Section = { part };
  while (r.peek() !== undefined && r.peek()! >= 0x30 && r.peek()! <= 0x39) {
    part.push(r.nzNumber());
    if (!r.accept('.')) break;
  }
  if (!r.accept(']')) {
    if (binary) throw new ParseError('BINARY takes only part numbers: BINARY[1.2]');
    const word = r.sectionText();
    if (word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT') {
      r.sp();
      s.fields = r.list(headerFieldName, false);
    } else if (word === 'MIME' && part.length === 0) throw new ParseError('MIME needs a part number: BODY[1.MIME]');
    else if (word !== 'HEADER' && word !== 'TEXT' && word !== 'MIME') throw new ParseError(`unknown section ${word}`);
    s.text = word;
    r.expect(']');
  }
  return s;
}


function fetchAtt(r: Reader): FetchAtt {
  const start = r.pos;
  const word = r.fetchName();
  if (word === 'BODY' || word === 'BODY.PEEK' || word === 'BINARY' || word === 'BINARY.PEEK') {
    const binary = word.startsWith('BINARY');
    if (r.peek() !== 0x5b) {
      if (word === 'BODY') return { kind: 'BODY' };
      throw new ParseError(`${word} needs a section: ${word}[]`);
    }
    const s = section(r, binary);
    let partial: { start: number; count: number } | undefined;
    if (r.accept('<')) {
      const from = r.number();
      r.expect('.');
      const count = r.nzNumber();
      r.expect('>');
      partial = { start: from, count };
    }
    return { kind: 'section', binary, peek: word.endsWith('.PEEK'), section: s, partial };
  }
  if (word === 'BINARY.SIZE') {
    const s = section(r, true);
    return { kind: 'BINARY.SIZE', part: s.part };
  }
  const simple = SIMPLE_ATTS.find((a) => a === word);
  if (!simple) {
    r.pos = start;
    throw new ParseError(`unknown fetch item ${word}`);
  }
  return { kind: simple };
}

/** fetch-att list: a macro, one item, or "(" items ")". */
export function fetchAtts(r: Reader): FetchAtt[] {
  if (r.peek() === 0x28) return r.list(fetchAtt, false);
  const word = r.peekWord();
  if (word in MACROS) {
    r.keyword();
    return MACROS[word]!;
  }
  return [fetchAtt(r)];
}

/** How a section is named in the response: `BODY[1.HEADER.FIELDS (SUBJECT FROM)]<0>`. */
export function sectionName(att: Extract<FetchAtt, { kind: 'section' }>): string {
  const { section: s } = att;
  const parts = [s.part.join('.'), s.text ?? ''].filter((p) => p !== '').join('.');
  const fields = s.fields ? ` (${s.fields.map((f) => f.toUpperCase()).join(' ')})` : '';
  const origin = att.partial ? `<${att.partial.start}>` : '';
  return `${att.binary ? 'BINARY' : 'BODY'}[${parts}${fields}]${origin}`;
}

// ---------------------------------------------------------------------------
// STORE (RFC 9051 6.4.6).

export interface StoreArgs {
  set: SequenceSet;
  /** + adds, - removes, = replaces. */
  mode: '+' | '-' | '=';
  silent: boolean;
  flags: string[];
}

export function storeArgs(r: Reader): StoreArgs {
  r.sp();
  const set = sequenceSet(r);
  r.sp();
  const mode = r.accept('+') ? '+' : r.accept('-') ? '-' : '=';
  const item = r.keyword('FLAGS or FLAGS.SILENT');
  if (item !== 'FLAGS' && item !== 'FLAGS.SILENT') throw new ParseError(`STORE changes FLAGS or FLAGS.SILENT, not ${item}`);
  r.sp();
  let flags: string[];
  if (r.peek() === 0x28) flags = flagList(r);
  else {
    flags = [flag(r)];
    while (!r.atEnd) {
      r.sp();
      flags.push(flag(r));
    }
  }
  r.end();
  return { set, mode, silent: item === 'FLAGS.SILENT', flags };
}
