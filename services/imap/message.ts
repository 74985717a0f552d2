/**
 * The structure of a mail message, as IMAP shows it: a small parser for RFC 5322 (the
 * message format: a header of "Name: value" fields, a blank line, a body) and MIME
 * (RFC 2045-2047: what the body holds, in parts that may hold parts). Pure functions
 * on octets; fetch.ts turns the result into ENVELOPE, BODYSTRUCTURE and sections.
 *
 *   From: Alice <alice@lab.test>                  <- header fields; a line starting with
 *   Subject: Holiday pictures                        a space continues the field before
 *   Content-Type: multipart/mixed; boundary="b1"
 *                                                 <- the blank line: the body starts
 *   --b1                                          <- part 1 starts
 *   Content-Type: text/plain                      <- each part has a header of its own
 *
 *   See the pictures.
 *   --b1                                          <- part 2 starts
 *   Content-Type: image/png
 *   Content-Transfer-Encoding: base64
 *
 *   iVBORw0KGgo...
 *   --b1--                                        <- the last part has ended
 *
 * Mail on the wire has CRLF line ends (RFC 5322 2.1); a file on disk may have bare LF.
 * The server works on the message as sent (withCrlf), so sizes and offsets agree with
 * what a client receives.
 */

export interface HeaderField {
  /** The name as written (`Subject`). */
  name: string;
  /** The field's octets as they are: name, colon, value, continuation lines, CRLF. */
  raw: Buffer;
  /** The value unfolded (line breaks of continuation lines removed), leading space removed. */
  value: string;
}

export interface MimePart {
  /** The header block, with the blank line that ends it (when there is one). */
  header: Buffer;
  fields: HeaderField[];
  body: Buffer;
  /** Content-Type, lower-cased (RFC 2045 5.1: case-insensitive), with text/plain as the default. */
  type: string;
  subtype: string;
  /** Content-Type parameters in order: names lower-cased, values as written (quotes removed). */
  params: [string, string][];
  /** A multipart's parts. */
  parts?: MimePart[];
  /** A message/rfc822 part's message. */
  message?: MimePart;
}

/** Nesting deeper than this is shown as a plain part (a message built to exhaust the parser). */
const MAX_DEPTH = 20;

/** Every line ending made CRLF: a bare LF becomes CRLF; a CRLF stays. */
export function withCrlf(raw: Buffer): Buffer {
  let bare = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) bare++;
  if (bare === 0) return raw;
  const out = Buffer.alloc(raw.length + bare);
  let j = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) out[j++] = 0x0d;
    out[j++] = raw[i]!;
  }
  return out;
}

/** Split a message (or a part) into header and body: at the first empty line. Without one, all of it is header. */
export function splitHeader(bytes: Buffer): { header: Buffer; body: Buffer } {
  if (bytes.subarray(0, 2).toString('latin1') === '\r\n') return { header: bytes.subarray(0, 2), body: bytes.subarray(2) };
  const blank = bytes.indexOf('\r\n\r\n');
  if (blank === -1) return { header: bytes, body: bytes.subarray(bytes.length) };
  return { header: bytes.subarray(0, blank + 4), body: bytes.subarray(blank + 4) };
}

/** The fields of a header block (RFC 5322 2.2): `Name: value`, continued by lines that start with SP or HTAB. */
export function parseFields(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let start = 0;
  while (start < header.length) {
    // A field ends at the CRLF that is not followed by a space or tab.
    let end = start;
    for (;;) {
      const lf = header.indexOf(0x0a, end);
      if (lf === -1) {
        end = header.length;
        break;
      }
      end = lf + 1;
      const next = header[end];
      if (next !== 0x20 && next !== 0x09) break;
    }
    const raw = header.subarray(start, end);
    start = end;
    const colon = raw.indexOf(0x3a);
    const name = colon === -1 ? '' : raw.toString('latin1', 0, colon);
    if (colon === -1 || !/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue; // the blank line, or not a field
    const value = raw
      .toString('utf8', colon + 1)
      .replace(/\r?\n(?=[ \t])/g, '')
      .replace(/\r?\n$/, '')
      .replace(/^[ \t]+/, '');
    fields.push({ name, raw, value });
  }
  return fields;
}

/** The first field of this name (names are case-insensitive), or undefined. */
export function field(fields: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

/** Parse a message into its MIME tree. `defaultType` is message/rfc822 for the parts of a multipart/digest. */
export function parseMessage(bytes: Buffer, defaultType: [string, string] = ['text', 'plain'], depth = 0): MimePart {
  const { header, body } = splitHeader(bytes);
  const fields = parseFields(header);
  const contentType = field(fields, 'Content-Type');
  const parsed = contentType === undefined ? undefined : parseContentType(contentType);
  const [type, subtype] = parsed ? [parsed.type, parsed.subtype] : defaultType;
  // RFC 2045 5.2: a text part without a charset is US-ASCII; BODYSTRUCTURE says so.
  const params: [string, string][] = parsed?.params ?? [];
  if (type === 'text' && !params.some(([k]) => k === 'charset')) params.unshift(['charset', 'us-ascii']);
  const part: MimePart = { header, fields, body, type, subtype, params };
  if (depth >= MAX_DEPTH) return part;
  const boundary = params.find(([k]) => k === 'boundary')?.[1];
  if (type === 'multipart' && boundary) {
    const inner: [string, string] = subtype === 'digest' ? ['message', 'rfc822'] : ['text', 'plain'];
    part.parts = splitMultipart(body, boundary).map((p) => parseMessage(p, inner, depth + 1));
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global')) {
    part.message = parseMessage(body, ['text', 'plain'], depth + 1);
  }
  return part;
}

/**
 * The parts of a multipart body (RFC 2046 5.1.1): each starts after a line
 * `--boundary` and ends before the CRLF in front of the next such line; `--boundary--`
 * ends the last one. What comes before the first (the preamble) and after the last
 * (the epilogue) belongs to no part.
 */
export function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  let partStart = -1;
  let search = 0;
  while (search <= body.length) {
    const at = body.indexOf(delimiter, search);
    if (at === -1) break;
    search = at + delimiter.length;
    if (at !== 0 && !(body[at - 1] === 0x0a)) continue; // not at a line start
    const close = body[search] === 0x2d && body[search + 1] === 0x2d;
    let lineEnd = search + (close ? 2 : 0);
    while (body[lineEnd] === 0x20 || body[lineEnd] === 0x09) lineEnd++;
    if (lineEnd < body.length && body[lineEnd] !== 0x0d && body[lineEnd] !== 0x0a) continue; // `--boundaryX`: another word
    // The part ends before the line break in front of the delimiter: that CRLF belongs to the delimiter.
    if (partStart !== -1) parts.push(body.subarray(partStart, Math.max(partStart, at - (body[at - 2] === 0x0d ? 2 : 1))));
    if (close) return parts;
    const lf = body.indexOf(0x0a, lineEnd);
    partStart = lf === -1 ? body.length : lf + 1;
    search = partStart;
  }
  // No closing delimiter: the last part runs to the end.
  if (partStart !== -1) parts.push(body.subarray(partStart));
  return parts;
}

// ---------------------------------------------------------------------------
// Structured field values: Content-Type, Content-Disposition (RFC 2045 5.1, RFC 2183).

/** `text/plain; charset="utf-8" (a comment)` -> type, subtype, params; undefined if it is not type/subtype. */
export function parseContentType(value: string): { type: string; subtype: string; params: [string, string][] } | undefined {
  const tokens = tokenize(value);
  const [type, slash, subtype] = tokens;
  if (type?.kind !== 'atom' || slash?.text !== '/' || subtype?.kind !== 'atom') return undefined;
  return { type: type.text.toLowerCase(), subtype: subtype.text.toLowerCase(), params: parameters(tokens.slice(3)) };
}

/** `attachment; filename="a.pdf"` -> the disposition (lower-cased) and its parameters. */
export function parseDisposition(value: string): { value: string; params: [string, string][] } | undefined {
  const tokens = tokenize(value);
  if (tokens[0]?.kind !== 'atom') return undefined;
  return { value: tokens[0].text.toLowerCase(), params: parameters(tokens.slice(1)) };
}

function parameters(tokens: Token[]): [string, string][] {
  const params: [string, string][] = [];
  for (let i = 0; i + 3 < tokens.length; i++) {
    const [semi, name, eq, value] = tokens.slice(i, i + 4);
    if (semi?.text === ';' && name?.kind === 'atom' && eq?.text === '=' && value && value.kind !== 'special') {
      params.push([name.text.toLowerCase(), value.text]);
      i += 3;
    }
  }
  return params;
}

interface Token {
  kind: 'atom' | 'quoted' | 'special' | 'comment' | 'literal';
  text: string;
}

/** The special characters of MIME header values (RFC 2045 5.1, tspecials) and of addresses (RFC 5322 3.2.3). */
const SPECIALS = { mime: '()<>@,;:\\"/[]?=', address: '()<>@,;:\\".[]' } as const;

/**
 * Lexical tokens (RFC 5322 3.2, RFC 2045 5.1): atoms (any printable but the specials),
 * quoted strings (unquoted, escapes removed), comments in parentheses (nested; dropped
 * from MIME values), domain literals `[...]` in addresses, and single special characters.
 */
function tokenize(text: string, mode: keyof typeof SPECIALS = 'mime'): Token[] {
  const specials = SPECIALS[mode];
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      let out = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        out += text[i++];
      }
      i++;
      tokens.push({ kind: 'quoted', text: out });
    } else if (c === '(') {
      let depth = 1;
      let out = '';
      i++;
      while (i < text.length && depth > 0) {
        if (text[i] === '\\' && i + 1 < text.length) out += text[++i];
        else if (text[i] === '(') (depth++, (out += '('));
        else if (text[i] === ')') {
          depth--;
          if (depth > 0) out += ')';
        } else out += text[i];
        i++;
      }
      tokens.push({ kind: 'comment', text: out });
    } else if (c === '[' && mode === 'address') {
      const end = text.indexOf(']', i);
      const stop = end === -1 ? text.length : end + 1;
      tokens.push({ kind: 'literal', text: text.slice(i, stop) });
      i = stop;
    } else if (specials.includes(c)) {
      tokens.push({ kind: 'special', text: c });
      i++;
    } else {
      let out = '';
      while (i < text.length && !specials.includes(text[i]!) && !' \t\r\n'.includes(text[i]!)) out += text[i++];
      tokens.push({ kind: 'atom', text: out });
    }
  }
  return mode === 'mime' ? tokens.filter((t) => t.kind !== 'comment') : tokens;
}

// ---------------------------------------------------------------------------
// Addresses (RFC 5322 3.4), for ENVELOPE.

/**
 * One address as IMAP's ENVELOPE shows it (RFC 9051 7.5.2): display name, source route
 * (always NIL now), mailbox (the part before @) and host. A group `Team: a@x, b@y;`
 * becomes a start marker (mailbox = the group's name, host NIL), its members, and an
 * end marker (all NIL).
 */
export interface Address {
  name: string | null;
  mailbox: string | null;
  host: string | null;
}

/** Parse an address-list field value (From, To, Cc, ...). Junk between commas is skipped. */
export function parseAddressList(value: string): Address[] {
  const tokens = tokenize(value, 'address');
  const out: Address[] = [];
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isSpecial = (t: Token | undefined, c: string): boolean => t?.kind === 'special' && t.text === c;

  /** local-part "@" domain, from i; stops at < > , ; or the end. A comment inside (`a@b (Name)`) is kept: it may stand for the name. */
  let comment: string | undefined;
  const addrSpec = (): { mailbox: string | null; host: string | null } => {
    let local = '';
    while (peek() && !isSpecial(peek(), '@') && !isSpecial(peek(), '>') && !isSpecial(peek(), ',') && !isSpecial(peek(), ';')) {
      const t = tokens[i++]!;
      if (t.kind === 'comment') comment = t.text;
      else local += t.kind === 'quoted' ? quoteLocal(t.text) : t.text;
    }
    let host: string | null = null;
    if (isSpecial(peek(), '@')) {
      i++;
      host = '';
      while (peek() && !isSpecial(peek(), '>') && !isSpecial(peek(), ',') && !isSpecial(peek(), ';')) {
        const t = tokens[i++]!;
        if (t.kind === 'comment') comment = t.text;
        else host += t.text;
      }
    }
    return { mailbox: local === '' ? null : local, host };
  };

  /** One mailbox or group, from i. */
  const address = (): void => {
    const phrase: string[] = [];
    comment = undefined;
    const start = i;
    while (peek() && !['<', ':', '@', ',', ';'].some((c) => isSpecial(peek(), c))) {
      const t = tokens[i++]!;
      if (t.kind === 'comment') comment = t.text;
      else if (t.kind === 'special' && t.text === '.') phrase.push('.');
      else phrase.push(t.text);
    }
    const name = phrase.length > 0 ? joinPhrase(phrase) : null;
    if (isSpecial(peek(), '<')) {
      i++;
      // obs-route: `<@relay1,@relay2:alice@lab.test>`; the route is dropped (RFC 9051: adl is NIL)
      const colon = tokens.findIndex((t, k) => k >= i && t.kind === 'special' && (t.text === ':' || t.text === '>'));
      if (isSpecial(peek(), '@') && colon !== -1 && tokens[colon]!.text === ':') i = colon + 1;
      const before = comment;
      const spec = addrSpec();
      comment = before; // a comment inside <...> is not a name
      if (isSpecial(peek(), '>')) i++;
      while (peek()?.kind === 'comment') comment ??= tokens[i++]!.text;
      out.push({ name: name ?? comment ?? null, ...spec });
      return;
    }
    if (isSpecial(peek(), ':')) {
      i++;
      out.push({ name: null, mailbox: name ?? '', host: null });
      while (peek() && !isSpecial(peek(), ';')) {
        if (isSpecial(peek(), ',')) {
          i++;
          continue;
        }
        const before = i;
        address();
        if (i === before) i++;
      }
      if (isSpecial(peek(), ';')) i++;
      out.push({ name: null, mailbox: null, host: null });
      return;
    }
    // A bare addr-spec: `alice@lab.test (Alice)`. The words read so far were its local part.
    i = start;
    comment = undefined;
    const spec = addrSpec();
    if (spec.mailbox !== null || spec.host !== null) out.push({ name: comment ?? null, ...spec });
  };

  while (i < tokens.length) {
    if (isSpecial(peek(), ',') || isSpecial(peek(), ';') || isSpecial(peek(), '>')) {
      i++;
      continue;
    }
    const before = i;
    address();
    if (i === before) i++;
  }
  return out;
}

/** A display name's words joined by single spaces, with no spaces around dots (`J. R. Smith` stays as written). */
function joinPhrase(words: string[]): string {
  return words.reduce((acc, w) => (acc === '' ? w : w === '.' || acc.endsWith('.') ? `${acc}${w === '.' ? '.' : ` ${w}`}` : `${acc} ${w}`), '');
}

/** A quoted local part keeps its quotes where they are needed (`"john doe"@x`). */
function quoteLocal(text: string): string {
  return /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(text) ? text : `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// ---------------------------------------------------------------------------
// Decoding, for SEARCH and BINARY.

/** The body of a part without its Content-Transfer-Encoding (RFC 2045 6); undefined for an unknown encoding. */
export function decodeTransfer(body: Buffer, encoding: string | undefined): Buffer | undefined {
  switch ((encoding ?? '7bit').trim().toLowerCase()) {
    case '7bit':
    case '8bit':
    case 'binary':
      return body;
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return undefined;
  }
}

/** Quoted-printable (RFC 2045 6.7): `=XX` is an octet, `=` at a line end joins lines. */
function decodeQuotedPrintable(body: Buffer): Buffer {
  const text = body.toString('latin1').replace(/[ \t]+(?=\r?\n)/g, '').replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(text.charCodeAt(i));
  }
  return Buffer.from(out);
}

/** Octets in a charset to text; unknown charsets are read as UTF-8. */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** Encoded words in a header value (RFC 2047): `=?utf-8?Q?Gr=C3=BC=C3=9Fe?=` -> `Grüße`. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?)/g, '$1') // spaces between encoded words do not count
    .replace(/=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g, (whole, charset: string, kind: string, text: string) => {
      const bytes = kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQuotedPrintable(Buffer.from(text.replace(/_/g, ' '), 'latin1'));
      const decoded = decodeCharset(bytes, charset.split('*')[0]);
      return decoded.includes('\ufffd') ? whole : decoded;
    });
}
