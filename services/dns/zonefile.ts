import { isIPv6 } from 'node:net';

/**
 * A parser for RFC 1035 zone files (master files, RFC 1035 section 5), the text an
 * instructor edits in lab/zones/. Pure: text in, a Zone out, or a ZoneFileError that
 * names the file and the line.
 *
 * What it reads:
 *   $ORIGIN lab.test.          the name that relative names are relative to
 *   $TTL 1h                    the TTL of records that give none (RFC 2308 4; BIND units)
 *   @  IN SOA ns admin ( ... ) `@` is the origin; parentheses let a record span lines
 *   www 3600 IN A 172.28.0.80  owner, optional TTL and class (either order), type, data
 *       IN AAAA fd00:28::80    a line that starts with a blank reuses the last owner
 *   ; comment                  to the end of the line, except inside "quotes"
 *
 * Names come out absolute, without the trailing dot, lowercased (DNS names compare
 * case-insensitively, RFC 4343), so the answering code can look them up as they are.
 * Record data uses dns-packet's shapes, so a record can be put on the wire as it is.
 */

export class ZoneFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    /** What is wrong, without the `file:line:` prefix. */
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ZoneFileError';
  }
}

/** The record types this server serves. */
export const RECORD_TYPES = ['SOA', 'NS', 'A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'PTR'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export interface SoaData {
  /** The primary name server. */
  mname: string;
  /** The administrator's mailbox, with the `@` written as a dot: admin.lab.test. */
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  /** Since RFC 2308: how long resolvers may cache a "no such name/data" answer. */
  minimum: number;
}

interface RecordBase {
  /** Owner name: absolute, no trailing dot, lowercase. */
  name: string;
  ttl: number;
  class: 'IN';
  /** The line of the zone file the record comes from, for messages. */
  line: number;
}

export type ZoneRecord = RecordBase &
  (
    | { type: 'A' | 'AAAA' | 'NS' | 'CNAME' | 'PTR'; data: string }
    | { type: 'MX'; data: { preference: number; exchange: string } }
    | { type: 'SOA'; data: SoaData }
    | { type: 'SRV'; data: { priority: number; weight: number; port: number; target: string } }
    | { type: 'TXT'; data: string[] }
  );

export type SoaRecord = Extract<ZoneRecord, { type: 'SOA' }>;

export interface Zone {
  /** The zone's apex: the owner of its SOA record, e.g. `lab.test`. */
  origin: string;
  file: string;
  soa: SoaRecord;
  records: readonly ZoneRecord[];
  /** Records by owner name, for lookups. */
  byName: ReadonlyMap<string, readonly ZoneRecord[]>;
}

export interface ParseOptions {
  /** Shown in error messages: `lab/zones/lab.test.zone`. */
  file: string;
  /** The origin before any $ORIGIN line (the server uses the file name minus `.zone`). */
  origin?: string;
  /** The TTL of records that give none when the file has no $TTL. Without either, such a record is an error. */
  defaultTtl?: number;
}

/** RFC 2181 8: a TTL is an unsigned 31-bit number of seconds. */
const MAX_TTL = 2 ** 31 - 1;
const MAX_U16 = 65535;
const MAX_U32 = 2 ** 32 - 1;

export function parseZoneFile(text: string, options: ParseOptions): Zone {
  const { file } = options;
  const fail = (line: number, reason: string): never => {
    throw new ZoneFileError(file, line, reason);
  };

  let origin = options.origin === undefined ? undefined : normalizeOrigin(options.origin, 0, fail);
  let defaultTtl = options.defaultTtl;
  let lastOwner: string | undefined;
  const records: ZoneRecord[] = [];

  for (const entry of tokenize(text, fail)) {
    const first = entry.tokens[0]!;

    if (!entry.indented && first.text.startsWith('$') && !first.quoted) {
      const directive = first.text.toUpperCase();
      const args = entry.tokens.slice(1);
      if (directive === '$ORIGIN' || directive === '$TTL') {
        if (args.length !== 1) fail(entry.line, `${directive} takes one value, got ${quote(args)}`);
        if (directive === '$ORIGIN') origin = parseName(args[0]!, origin, fail);
        else defaultTtl = parseTtl(args[0]!, fail);
      } else if (directive === '$INCLUDE' || directive === '$GENERATE') {
        fail(entry.line, `${first.text} is not supported by this server: write the records in this file`);
      } else {
        fail(entry.line, `unknown directive ${first.text} (known: $ORIGIN, $TTL)`);
      }
      continue;
    }

    // RFC 1035 5.1: a line that starts with a blank has the previous line's owner.
    let rest = entry.tokens;
    let owner: string;
    if (entry.indented) {
      if (lastOwner === undefined) return fail(entry.line, 'this line starts with a blank, so it reuses the owner of the record above, but there is none');
      owner = lastOwner;
    } else {
      owner = parseName(first, origin, fail);
      rest = rest.slice(1);
    }
    lastOwner = owner;

    // [TTL] [class] type, where the TTL and the class may come in either order.
    let ttl: number | undefined;
    let klass: string | undefined;
    while (rest.length > 0) {
      const token = rest[0]!;
      if (ttl === undefined && looksLikeTtl(token.text)) ttl = parseTtl(token, fail);
      else if (klass === undefined && CLASSES.has(token.text.toUpperCase())) klass = token.text.toUpperCase();
      else break;
      rest = rest.slice(1);
    }
    if (klass !== undefined && klass !== 'IN') fail(entry.line, `class ${klass} is not served here: this server only knows class IN`);
    const typeToken = rest[0];
    if (!typeToken) return fail(entry.line, `a record for ${owner} needs a type (A, MX, ...) and its data`);
    const type = typeToken.text.toUpperCase();
    if (!isRecordType(type)) {
      return fail(typeToken.line, `unknown or unsupported record type ${quote([typeToken])} (this server knows ${RECORD_TYPES.join(', ')})`);
    }
    ttl ??= defaultTtl;
    if (ttl === undefined) return fail(entry.line, `the record for ${owner} has no TTL: give it one, or put a $TTL line at the top of the file`);

    const data = parseRdata(type, rest.slice(1), origin, entry.line, fail);
    records.push({ name: owner, ttl, class: 'IN', line: entry.line, type, data } as ZoneRecord);
  }

  return buildZone(file, records, fail);
}

// ---------------------------------------------------------------------------
// Record data, one parser per type (RFC 1035 3.3 and 3.4, RFC 3596, RFC 2782)

type Fail = (line: number, reason: string) => never;

function parseRdata(type: RecordType, fields: Token[], origin: string | undefined, line: number, fail: Fail): ZoneRecord['data'] {
  const need = (count: number, what: string): void => {
    if (fields.length !== count) fail(line, `${type} needs ${what}, got ${quote(fields)}`);
  };
  const name = (token: Token): string => parseName(token, origin, fail);
  const u16 = (token: Token, what: string): number => parseNumber(token, `${type} ${what}`, MAX_U16, fail);

  switch (type) {
    case 'A':
      need(1, 'an IPv4 address');
      if (!isIPv4(fields[0]!.text)) fail(line, `A needs an IPv4 address like 172.28.0.80, got ${quote(fields)}`);
      return fields[0]!.text;
    case 'AAAA': {
      need(1, 'an IPv6 address');
      const address = fields[0]!.text.toLowerCase();
      // isIPv6 also accepts a zone suffix (fe80::1%eth0), which has no meaning in DNS.
      if (!isIPv6(address) || address.includes('%')) fail(line, `AAAA needs an IPv6 address like fd00:28::80, got ${quote(fields)}`);
      return address;
    }
    case 'NS':
    case 'CNAME':
    case 'PTR':
      need(1, 'one domain name');
      return name(fields[0]!);
    case 'MX':
      need(2, 'a preference and an exchange');
      return { preference: u16(fields[0]!, 'preference'), exchange: name(fields[1]!) };
    case 'SRV':
      need(4, 'a priority, a weight, a port and a target');
      return {
        priority: u16(fields[0]!, 'priority'),
        weight: u16(fields[1]!, 'weight'),
        port: u16(fields[2]!, 'port'),
        target: name(fields[3]!),
      };
    case 'TXT':
      if (fields.length === 0) fail(line, 'TXT needs at least one string, got nothing');
      return fields.map((token) => parseCharacterString(token, fail));
    case 'SOA':
      need(7, 'a primary server, a mailbox, a serial, refresh, retry, expire and minimum');
      return {
        mname: name(fields[0]!),
        rname: name(fields[1]!),
        serial: parseNumber(fields[2]!, 'SOA serial', MAX_U32, fail),
        refresh: parseTtl(fields[3]!, fail),
        retry: parseTtl(fields[4]!, fail),
        expire: parseTtl(fields[5]!, fail),
        minimum: parseTtl(fields[6]!, fail),
      };
  }
}

function isRecordType(type: string): type is RecordType {
  return (RECORD_TYPES as readonly string[]).includes(type);
}

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS']);

function parseNumber(token: Token, what: string, max: number, fail: Fail): number {
  const value = /^\d+$/.test(token.text) ? Number(token.text) : NaN;
  if (!(value <= max)) fail(token.line, `${what} must be a number from 0 to ${max}, got ${quote([token])}`);
  return value;
}

function looksLikeTtl(text: string): boolean {
  return /^\d+$/.test(text) || /^(\d+[smhdw])+$/i.test(text);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A TTL in seconds: `3600`, or BIND's units `1h`, `2d`, `1h30m`. */
function parseTtl(token: Token, fail: Fail): number {
  const text = token.text.toLowerCase();
  let seconds = NaN;
  if (/^\d+$/.test(text)) seconds = Number(text);
  else if (/^(\d+[smhdw])+$/.test(text)) {
    seconds = 0;
    for (const [, count, unit] of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(count) * UNIT_SECONDS[unit!]!;
  }
  if (Number.isNaN(seconds)) fail(token.line, `expected a TTL (seconds, or like 1h, 2d), got ${quote([token])}`);
  if (seconds > MAX_TTL) fail(token.line, `TTL ${quote([token])} is too large: at most ${MAX_TTL} seconds (RFC 2181 8)`);
  return seconds;
}

/** Dotted-quad IPv4, each part 0-255, no leading zeros (010 could be read as octal). */
function isIPv4(text: string): boolean {
  const part = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
  return new RegExp(`^${part}(\\.${part}){3}$`).test(text);
}

// ---------------------------------------------------------------------------
// Names (RFC 1035 2.3.1 and 5.1; underscores allowed for SRV owners, RFC 2782)

function normalizeOrigin(text: string, line: number, fail: Fail): string {
  return parseName({ text: text.endsWith('.') ? text : text + '.', quoted: false, line }, undefined, fail);
}

/** An absolute, lowercase name without the trailing dot; the root is `.`. */
function parseName(token: Token, origin: string | undefined, fail: Fail): string {
  const text = token.text;
  const bad = (why: string): never => fail(token.line, `${quote([token])} is not a valid domain name: ${why}`);
  if (token.quoted) bad('names are not quoted');
  if (text.includes('\\')) bad('escapes (\\) in names are not supported by this server');

  let absolute: string;
  if (text === '@' || !text.endsWith('.')) {
    if (origin === undefined) {
      return fail(token.line, `${quote([token])} is relative to the origin, but there is none yet: put $ORIGIN before it, or end the name with a dot`);
    }
    if (text === '@') return origin;
    absolute = origin === '.' ? text : `${text}.${origin}`;
  } else {
    absolute = text === '.' ? '.' : text.slice(0, -1);
  }
  if (absolute === '.') return '.';

  absolute = absolute.toLowerCase();
  const labels = absolute.split('.');
  for (const label of labels) {
    if (label === '') bad('it has an empty label (two dots in a row?)');
    if (label.length > 63) bad(`the label "${label.slice(0, 20)}..." is longer than 63 characters`);
    if (label === '*') bad('wildcard names are not supported by this server');
    if (!/^[a-z0-9_-]+$/.test(label)) bad(`"${label}" may contain only letters, digits, "-" and "_"`);
  }
  // 253 characters in text is 255 octets on the wire (RFC 1035 2.3.4).
  if (absolute.length > 253) bad('it is longer than 253 characters');
  return absolute;
}

// ---------------------------------------------------------------------------
// Character strings (RFC 1035 3.3 and 5.1): "quoted", with \" and \DDD escapes

function parseCharacterString(token: Token, fail: Fail): string {
  const bytes: number[] = [];
  const text = token.text;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      // One character, which may take two UTF-16 units (an emoji): its UTF-8 bytes.
      const char = String.fromCodePoint(text.codePointAt(i)!);
      bytes.push(...Buffer.from(char, 'utf8'));
      i += char.length - 1;
      continue;
    }
    const digits = /^\d{3}/.exec(text.slice(i + 1));
    if (digits) {
      // \DDD is one byte, written in decimal.
      const value = Number(digits[0]);
      if (value > 255) fail(token.line, `\\${digits[0]} is not a byte (0-255) in ${quote([token])}`);
      bytes.push(value);
      i += 3;
    } else if (i + 1 < text.length) {
      // \X is the character X itself: \" \\ \;
      const next = String.fromCodePoint(text.codePointAt(i + 1)!);
      bytes.push(...Buffer.from(next, 'utf8'));
      i += next.length;
    } else {
      fail(token.line, `a lone backslash ends ${quote([token])}`);
    }
  }
  // Each string is one length byte plus at most 255 bytes on the wire.
  if (bytes.length > 255) fail(token.line, `a TXT string can hold at most 255 bytes, this one has ${bytes.length}: split it into several "..." strings`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return fail(token.line, `the escapes in ${quote([token])} do not make valid UTF-8 text`);
  }
}

// ---------------------------------------------------------------------------
// Zone-wide rules

function buildZone(file: string, parsed: ZoneRecord[], fail: Fail): Zone {
  const soas = parsed.filter((r): r is SoaRecord => r.type === 'SOA');
  if (soas.length === 0) return fail(1, 'no SOA record: a zone file starts with exactly one, at the zone apex (@)');
  if (soas.length > 1) fail(soas[1]!.line, `a second SOA record: a zone has exactly one (the first is on line ${soas[0]!.line})`);
  const soa = soas[0]!;
  const origin = soa.name;

  const records: ZoneRecord[] = [];
  const byName = new Map<string, ZoneRecord[]>();
  for (const record of parsed) {
    if (!isAtOrBelow(record.name, origin)) {
      fail(record.line, `${record.name} is outside the zone ${origin} (the zone is where its SOA record is)`);
    }
    if (record.type === 'NS' && record.name !== origin) {
      fail(record.line, `NS records below the apex delegate a subzone, which this server does not support (${record.name})`);
    }
    const rrs = byName.get(record.name) ?? [];
    // RFC 1034 3.6.2, RFC 2181 10.1: a name with a CNAME has no other data.
    const clash = rrs.find((r) => (r.type === 'CNAME') !== (record.type === 'CNAME') || (r.type === 'CNAME' && record.type === 'CNAME'));
    if (clash) {
      fail(record.line, `${record.name} cannot have a CNAME and other records, or two CNAMEs (RFC 1034 3.6.2); see also line ${clash.line}`);
    }
    // RFC 2181 5: an RRset holds no duplicates; a repeated record is kept once.
    if (rrs.some((r) => r.type === record.type && JSON.stringify(r.data) === JSON.stringify(record.data))) continue;
    rrs.push(record);
    byName.set(record.name, rrs);
    records.push(record);
  }
  if (!records.some((r) => r.type === 'NS' && r.name === origin)) {
    fail(soa.line, `the zone ${origin} has no NS record at its apex: name its servers (RFC 1034 4.2.1)`);
  }
  return { origin, file, soa, records, byName };
}

export function isAtOrBelow(name: string, origin: string): boolean {
  return origin === '.' || name === origin || name.endsWith('.' + origin);
}

// ---------------------------------------------------------------------------
// Tokens: a zone file is read as entries (one record or directive each), made of
// tokens. Parentheses join lines into one entry; a comment runs to the end of the line.

interface Token {
  /** The text, without quotes; escapes are kept as written (\" \DDD). */
  text: string;
  quoted: boolean;
  line: number;
}

interface Entry {
  line: number;
  /** Starts with a blank: reuses the previous owner. */
  indented: boolean;
  tokens: Token[];
}

function tokenize(text: string, fail: Fail): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let entry: Entry | undefined;
  let token: Token | undefined;
  let inQuotes = false;
  let openParen = 0; // the line of an open '(', or 0
  let atLineStart = true;

  const endToken = (): void => {
    if (token) (entry ??= { line: token.line, indented: false, tokens: [] }).tokens.push(token);
    token = undefined;
  };
  const endEntry = (): void => {
    endToken();
    if (entry && entry.tokens.length > 0) entries.push(entry);
    entry = undefined;
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (atLineStart && openParen === 0) {
      entry = { line, indented: ch === ' ' || ch === '\t', tokens: [] };
    }
    atLineStart = false;

    if (inQuotes) {
      if (ch === '\\' && i + 1 < text.length && text[i + 1] !== '\n') {
        token!.text += ch + text[++i];
      } else if (ch === '"') {
        inQuotes = false;
        endToken();
      } else if (ch === '\n') {
        fail(token!.line, 'a quoted string is not closed on its line (missing ")');
      } else {
        token!.text += ch;
      }
      continue;
    }

    if (ch === '\n') {
      if (openParen === 0) endEntry();
      else endToken();
      line++;
      atLineStart = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      endToken();
    } else if (ch === ';') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (ch === '"') {
      endToken();
      token = { text: '', quoted: true, line };
      inQuotes = true;
    } else if (ch === '(') {
      if (openParen !== 0) fail(line, `"(" inside parentheses already opened on line ${openParen}`);
      endToken();
      openParen = line;
    } else if (ch === ')') {
      if (openParen === 0) fail(line, '")" without a "(" before it');
      endToken();
      openParen = 0;
    } else {
      token ??= { text: '', quoted: false, line };
      if (ch === '\\' && i + 1 < text.length && text[i + 1] !== '\n') token.text += ch + text[++i];
      else token.text += ch;
    }
  }
  if (inQuotes) fail(token!.line, 'a quoted string is not closed (missing ")');
  if (openParen !== 0) fail(openParen, '"(" is never closed with ")"');
  endEntry();
  return entries;
}

function quote(tokens: Token[]): string {
  return JSON.stringify(tokens.map((t) => (t.quoted ? `"${t.text}"` : t.text)).join(' '));
}
