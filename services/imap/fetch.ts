import { decodeTransfer, field, parseAddressList, parseDisposition, parseFields, type Address, type HeaderField, type MimePart } from './message';
import { formatDateTime, sectionName, type FetchAtt, type Section } from './parser';
import { atom, Joined, Literal8, type Value } from './responses';

/**
 * What FETCH returns about a message (RFC 9051 6.4.5, 7.5.2): its flags and dates, and
 * what the message says about itself, read from its structure (message.ts):
 *
 *   ENVELOPE       the header fields a mail client lists: date, subject, from, sender,
 *                  reply-to, to, cc, bcc, in-reply-to, message-id, addresses split up
 *   BODYSTRUCTURE  the MIME tree: each part's type, parameters, encoding, size, lines
 *   BODY[section]  octets of the message: all of it (BODY[]), the header, some header
 *                  fields, the text, or one part (BODY[2], BODY[2.1.MIME]), optionally
 *                  a range of them (BODY[]<0.1024>)
 *
 * A client shows a mailbox list from ENVELOPEs, decides what to download from the
 * BODYSTRUCTURE, and then fetches only the parts it needs: the text, not the video.
 */

/** What FETCH needs to know about one message besides its octets. */
export interface FetchMeta {
  uid: number;
  flags: readonly string[];
  internalDate: Date;
  /** The message's octets as sent (CRLF line ends). */
  bytes: Buffer;
  /** Its MIME tree (parseMessage(bytes)). */
  mime: MimePart;
}

/** A BINARY of a part whose encoding this server cannot undo. */
export class SectionError extends Error {
  constructor(
    message: string,
    /** A response code for the NO: UNKNOWN-CTE (RFC 3516 4.1). */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The FETCH data items for one message, in the order they were asked for. */
export function fetchItems(atts: readonly FetchAtt[], m: FetchMeta): Value[] {
  const out: Value[] = [];
  for (const att of atts) {
    switch (att.kind) {
      case 'UID':
        out.push(atom('UID'), m.uid);
        break;
      case 'FLAGS':
        out.push(atom('FLAGS'), m.flags.map(atom));
        break;
      case 'INTERNALDATE':
        out.push(atom('INTERNALDATE'), formatDateTime(m.internalDate));
        break;
      case 'RFC822.SIZE':
        out.push(atom('RFC822.SIZE'), m.bytes.length);
        break;
      case 'ENVELOPE':
        out.push(atom('ENVELOPE'), envelope(m.mime.fields));
        break;
      case 'BODYSTRUCTURE':
        out.push(atom('BODYSTRUCTURE'), bodyStructure(m.mime, true));
        break;
      case 'BODY':
        out.push(atom('BODY'), bodyStructure(m.mime, false));
        break;
      // The IMAP2 names, kept by IMAP4rev1 (RFC 3501 6.4.5): the same octets as BODY[], BODY.PEEK[HEADER], BODY[TEXT].
      case 'RFC822':
        out.push(atom('RFC822'), m.bytes);
        break;
      case 'RFC822.HEADER':
        out.push(atom('RFC822.HEADER'), m.mime.header);
        break;
      case 'RFC822.TEXT':
        out.push(atom('RFC822.TEXT'), m.mime.body);
        break;
      case 'BINARY.SIZE':
        out.push(atom(`BINARY.SIZE[${att.part.join('.')}]`), binaryContent(m, att.part)?.length ?? null);
        break;
      case 'section': {
        // A part the message does not have is empty (as Dovecot answers; RFC 9051 leaves it open).
        const bytes = (att.binary ? binaryContent(m, att.section.part) : sectionBytes(m, att.section)) ?? Buffer.alloc(0);
        const chosen = att.partial ? bytes.subarray(att.partial.start, att.partial.start + att.partial.count) : bytes;
        // RFC 3516 4.3: decoded content may hold NUL octets, so BINARY answers with a literal8 (~{n}).
        out.push(atom(sectionName({ ...att, peek: false })), att.binary ? new Literal8(chosen) : chosen);
        break;
      }
    }
  }
  return out;
}

/** Does fetching these items set \Seen (RFC 9051 6.4.5: BODY[...] and BINARY[...] do, their .PEEK forms do not)? */
export function setsSeen(atts: readonly FetchAtt[]): boolean {
  return atts.some((a) => (a.kind === 'section' && !a.peek) || a.kind === 'RFC822' || a.kind === 'RFC822.TEXT');
}

// ---------------------------------------------------------------------------
// Sections.

/**
 * The part a list of part numbers names (RFC 9051 6.4.5): in a multipart, the n-th
 * part; in a message that is not multipart, part 1 is its body; a number after a
 * message/rfc822 part goes into the message it holds.
 */
function findPart(root: MimePart, numbers: readonly number[]): MimePart | undefined {
  let current: MimePart | undefined = root;
  numbers.forEach((n, i) => {
    if (!current) return;
    const inside: MimePart = i > 0 && current.message ? current.message : current;
    current = inside.parts ? inside.parts[n - 1] : n === 1 ? inside : undefined;
  });
  return current;
}

/** The octets a BODY[section] names; null when the message has no such part. */
export function sectionBytes(m: FetchMeta, s: Section): Buffer | null {
  if (s.part.length === 0 && s.text === undefined) return m.bytes;
  const part = findPart(m.mime, s.part);
  if (!part) return null;
  if (s.text === undefined) return part.body;
  if (s.text === 'MIME') return part.header;
  // HEADER and TEXT of a part mean the message inside a message/rfc822 part.
  const message = s.part.length === 0 ? m.mime : part.message;
  if (!message) return null;
  switch (s.text) {
    case 'TEXT':
      return message.body;
    case 'HEADER':
      return message.header;
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return headerFields(message.fields, s.fields ?? [], s.text === 'HEADER.FIELDS.NOT');
  }
}

/** Some header fields, exactly as they are in the message, and the blank line that ends a header. */
export function headerFields(fields: readonly HeaderField[], names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const chosen = fields.filter((f) => wanted.has(f.name.toLowerCase()) !== not).map((f) => (f.raw.subarray(-1)[0] === 0x0a ? f.raw : Buffer.concat([f.raw, Buffer.from('\r\n')])));
  return Buffer.concat([...chosen, Buffer.from('\r\n')]);
}

/** BINARY[part] (RFC 3516): the part's content with its Content-Transfer-Encoding undone; null when there is no such part. */
function binaryContent(m: FetchMeta, numbers: readonly number[]): Buffer | null {
  if (numbers.length === 0) return m.bytes;
  const part = findPart(m.mime, numbers);
  if (!part) return null;
  const decoded = decodeTransfer(part.body, field(part.fields, 'Content-Transfer-Encoding'));
  if (!decoded) throw new SectionError(`part ${numbers.join('.')} has a Content-Transfer-Encoding this server cannot decode`, 'UNKNOWN-CTE');
  return decoded;
}

// ---------------------------------------------------------------------------
// ENVELOPE (RFC 9051 7.5.2).

/**
 * (date subject from sender reply-to to cc bcc in-reply-to message-id): header values
 * as they are written (encoded words stay encoded: the client decodes them), addresses
 * split into (name route mailbox host). Without Sender or Reply-To, From stands for them.
 */
export function envelope(fields: readonly HeaderField[]): Value[] {
  const text = (name: string): string | null => field(fields, name) ?? null;
  const addresses = (name: string): Value => {
    const value = field(fields, name);
    const list = value === undefined ? [] : parseAddressList(value);
    return list.length === 0 ? null : [new Joined(list.map(addressValue))];
  };
  const from = addresses('From');
  const orFrom = (name: string): Value => addresses(name) ?? from;
  return [text('Date'), text('Subject'), from, orFrom('Sender'), orFrom('Reply-To'), addresses('To'), addresses('Cc'), addresses('Bcc'), text('In-Reply-To'), text('Message-ID')];
}

function addressValue(a: Address): Value {
  return [a.name, null, a.mailbox, a.host];
}

// ---------------------------------------------------------------------------
// BODYSTRUCTURE and BODY (RFC 9051 7.5.2).

/**
 * The MIME tree as nested lists. A single part:
 *   ("text" "plain" ("charset" "utf-8") id description "7bit" size lines ...)
 * a multipart: its parts, one list each, then the subtype:
 *   (("text" "plain" ...)("image" "png" ...) "mixed" ("boundary" "b1") ...)
 * With `extensible` (BODYSTRUCTURE), each ends with the extension data: MD5 (single
 * parts), disposition, language, location; BODY leaves those out.
 */
export function bodyStructure(part: MimePart, extensible: boolean): Value[] {
  const { fields } = part;
  const disposition = (): Value => {
    const value = field(fields, 'Content-Disposition');
    const parsed = value === undefined ? undefined : parseDisposition(value);
    return parsed ? [parsed.value, paramList(parsed.params)] : null;
  };
  const language = (): Value => {
    const value = field(fields, 'Content-Language');
    const tags = value === undefined ? [] : value.split(',').map((t) => t.replace(/\([^)]*\)/g, '').trim()).filter((t) => t !== '');
    return tags.length === 0 ? null : tags;
  };
  const location = (): Value => field(fields, 'Content-Location') ?? null;
  if (part.type === 'multipart') {
    const children = part.parts && part.parts.length > 0 ? part.parts : [parseEmptyPart()];
    const ext: Value[] = extensible ? [paramList(part.params), disposition(), language(), location()] : [];
    return [new Joined(children.map((p) => bodyStructure(p, extensible))), part.subtype, ...ext];
  }
  const basic: Value[] = [
    part.type,
    part.subtype,
    paramList(part.params),
    field(fields, 'Content-ID') ?? null,
    field(fields, 'Content-Description') ?? null,
    (field(fields, 'Content-Transfer-Encoding') ?? '7bit').trim().toLowerCase(),
    part.body.length,
  ];
  if (part.type === 'text') basic.push(lineCount(part.body));
  else if (part.message) basic.push(envelope(part.message.fields), bodyStructure(part.message, extensible), lineCount(part.body));
  const ext: Value[] = extensible ? [field(fields, 'Content-MD5') ?? null, disposition(), language(), location()] : [];
  return [...basic, ...ext];
}

/** ("name" "value" ...) or NIL. */
function paramList(params: readonly [string, string][]): Value {
  return params.length === 0 ? null : params.flat();
}

/**
 * Lines of a text body: its line ends. A last line without one (the body of a part,
 * whose final CRLF belongs to the boundary after it) is not counted, as Dovecot counts.
 */
export function lineCount(body: Buffer): number {
  let lines = 0;
  for (let i = 0; i < body.length; i++) if (body[i] === 0x0a) lines++;
  return lines;
}

/** A multipart with no parts still needs one body in BODYSTRUCTURE (RFC 9051 9: body-type-mpart = 1*body). */
function parseEmptyPart(): MimePart {
  return { header: Buffer.alloc(0), fields: parseFields(Buffer.alloc(0)), body: Buffer.alloc(0), type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']] };
}
