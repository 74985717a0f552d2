import { decodeWords, splitHeader } from '../../../services/imap/message';
import { parseMessage } from '../pop3/message';
import type { ImapResponse, ImapValue } from './protocol';
import { strings } from './session';

/**
 * What `* n FETCH (...)` responses say about messages (RFC 9051 7.5.2), as the
 * executor's output: number and UID, flags, size, the envelope, the body structure, and
 * the sections fetched. Pure.
 */

export interface Address {
  name?: string;
  /** mailbox@host, as in the message's header. */
  address: string;
}

export interface Envelope {
  date?: string;
  subject?: string;
  from: Address[];
  sender: Address[];
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  bcc: Address[];
  inReplyTo?: string;
  messageId?: string;
}

/** A body part, from BODYSTRUCTURE (or BODY): its type, and the parts inside a multipart. */
export interface BodyPart {
  type: string;
  parts?: BodyPart[];
  params?: Record<string, string>;
  encoding?: string;
  size?: number;
  lines?: number;
}

export interface FetchedMessage {
  seq: number;
  uid?: number;
  flags?: string[];
  size?: number;
  internalDate?: string;
  envelope?: Envelope;
  bodystructure?: BodyPart;
  /** Each section as the server named it (`BODY[TEXT]`, `BODY[HEADER.FIELDS (SUBJECT)]`, `BINARY[1]`): its text. */
  sections?: Record<string, string>;
  /** The last section fetched, as text. */
  body?: string;
  /** Header fields (lower-case names) from a section that holds a header (BODY[], BODY[HEADER], ...). */
  headers?: Record<string, string>;
  /** The message's text after its header, from BODY[] or BODY[TEXT]. */
  text?: string;
}

/**
 * The messages the FETCH responses among `responses` describe, by message number;
 * several responses about one message (a FETCH answer and a flag change) merge.
 */
export function fetchedMessages(responses: readonly ImapResponse[]): FetchedMessage[] {
  const byNumber = new Map<number, FetchedMessage>();
  for (const r of responses) {
    if (r.type !== 'FETCH' || r.number === undefined) continue;
    const m = byNumber.get(r.number) ?? { seq: r.number };
    Object.assign(m, fetchData(r.values[0]));
    byNumber.set(r.number, m);
  }
  return [...byNumber.values()];
}

/** The items of one FETCH response's list: `(UID 7 FLAGS (\Seen) BODY[TEXT] {26}...)`. */
export function fetchData(list: ImapValue | undefined): Omit<FetchedMessage, 'seq'> {
  const out: Omit<FetchedMessage, 'seq'> = {};
  const items = Array.isArray(list) ? list : [];
  for (let i = 0; i + 1 < items.length; i += 2) {
    const name = String(items[i]).toUpperCase();
    const value = items[i + 1]!;
    if (name === 'UID') out.uid = Number(value);
    else if (name === 'FLAGS') out.flags = strings(value);
    else if (name === 'RFC822.SIZE') out.size = Number(value);
    else if (name === 'INTERNALDATE') out.internalDate = String(value);
    else if (name === 'ENVELOPE') out.envelope = envelope(value);
    else if (name === 'BODYSTRUCTURE' || name === 'BODY') out.bodystructure = bodyPart(value);
    else if (/^(BODY|BINARY)\[|^RFC822(\.HEADER|\.TEXT)?$/.test(name)) section(out, name, value === null ? '' : String(value));
  }
  return out;
}

/** A body section: kept by name; a header in it is split into fields, a text after a header kept as `text`. */
function section(out: Omit<FetchedMessage, 'seq'>, name: string, content: string): void {
  (out.sections ??= {})[name] = content;
  out.body = content;
  const spec = /\[([^\]]*)\]/.exec(name)?.[1]?.toUpperCase() ?? name.replace(/^RFC822\.?/, '');
  const whole = spec === '' && !/^BINARY/.test(name);
  const header = whole || /^(HEADER|HEADER\.FIELDS.*)$/.test(spec);
  if (header) out.headers = parseMessage(content).headers;
  if (whole) out.text = splitHeader(Buffer.from(content, 'utf8')).body.toString('utf8');
  else if (spec === 'TEXT') out.text = content;
}

/** ENVELOPE (RFC 9051 7.5.2): date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id. */
export function envelope(value: ImapValue): Envelope {
  const v = Array.isArray(value) ? value : [];
  const text = (x: ImapValue | undefined): string | undefined => (x === null || x === undefined ? undefined : decodeWords(String(x)));
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
  return defined({
    date: text(v[0]),
    subject: text(v[1]),
    from: addresses(v[2]),
    sender: addresses(v[3]),
    replyTo: addresses(v[4]),
    to: addresses(v[5]),
    cc: addresses(v[6]),
    bcc: addresses(v[7]),
    inReplyTo: text(v[8]),
    messageId: text(v[9]),
  });
}

/**
 * An address list: each address is (name route mailbox host). A group is written as
 * (NIL NIL "group" NIL) ... (NIL NIL NIL NIL) around its members (RFC 9051 7.5.2);
 * only the members are listed here.
 */
function addresses(value: ImapValue | undefined): Address[] {
  if (!Array.isArray(value)) return [];
  const out: Address[] = [];
  for (const a of value) {
    if (!Array.isArray(a)) continue;
    const [name, , mailbox, host] = a;
    if (host === null || host === undefined || mailbox === null) continue; // a group's start or end
    out.push({ ...(name !== null && name !== undefined ? { name: decodeWords(String(name)) } : {}), address: `${String(mailbox)}@${String(host)}` });
  }
  return out;
}

/**
 * BODYSTRUCTURE (RFC 9051 7.5.2): a multipart is its parts (lists) followed by its
 * subtype; a single part is type, subtype, parameters, id, description, encoding,
 * size, and for text/* and message/rfc822 the lines.
 */
export function bodyPart(value: ImapValue): BodyPart {
  const v = Array.isArray(value) ? value : [];
  if (Array.isArray(v[0])) {
    // The parts are the lists before the subtype; the lists after it are extension data (the parameters...).
    const count = v.findIndex((x) => !Array.isArray(x));
    const parts = (count < 0 ? v : v.slice(0, count)).map(bodyPart);
    const subtype = count < 0 ? 'mixed' : v[count];
    const part: BodyPart = { type: `multipart/${String(subtype).toLowerCase()}`, parts };
    const params = count < 0 ? undefined : paramsOf(v[count + 1]);
    return params ? { ...part, params } : part;
  }
  const type = `${String(v[0] ?? 'text').toLowerCase()}/${String(v[1] ?? 'plain').toLowerCase()}`;
  const part: BodyPart = { type };
  const params = paramsOf(v[2]);
  if (params) part.params = params;
  if (v[5] !== null && v[5] !== undefined) part.encoding = String(v[5]).toLowerCase();
  if (typeof v[6] === 'number') part.size = v[6];
  const linesAt = type === 'message/rfc822' ? 9 : type.startsWith('text/') ? 7 : -1;
  if (linesAt > 0 && typeof v[linesAt] === 'number') part.lines = v[linesAt];
  if (type === 'message/rfc822' && Array.isArray(v[8])) part.parts = [bodyPart(v[8])];
  return part;
}

/** A body parameter list, `("charset" "utf-8")`, as a map with lower-case names. */
function paramsOf(value: ImapValue | undefined): Record<string, string> | undefined {
  if (!Array.isArray(value)) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < value.length; i += 2) params[String(value[i]).toLowerCase()] = String(value[i + 1]);
  return params;
}
