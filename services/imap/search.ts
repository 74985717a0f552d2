import { decodeCharset, decodeTransfer, decodeWords, field, type MimePart } from './message';
import { resolveSet, type Day, type SearchKey } from './parser';

/**
 * SEARCH (RFC 9051 6.4.4): which messages match a search key. Keys combine: a list of
 * keys must all match, OR takes either of two, NOT turns one around:
 *
 *   SEARCH UNSEEN FROM "alice" SINCE 1-Dec-2026      unread mail from alice this month
 *   SEARCH OR FLAGGED LARGER 100000                   flagged, or bigger than 100 kB
 *
 * Text keys (FROM, SUBJECT, BODY, TEXT ...) match a substring, ignoring case, in the
 * decoded text: `=?utf-8?Q?Gr=C3=BC=C3=9Fe?=` in a header is found as "Grüße", a
 * base64 part is searched after decoding. Date keys compare days, not times.
 */

/** What a search may ask of one message; the octets only when a key needs them. */
export interface Candidate {
  seq: number;
  uid: number;
  flags: readonly string[];
  recent: boolean;
  internalDate(): Promise<Date | undefined>;
  size(): Promise<number | undefined>;
  /** The message's MIME tree, or undefined when it is gone. */
  content(): Promise<MimePart | undefined>;
}

/** What `$`, `*` and the UID list mean in this mailbox now. */
export interface SearchScope {
  /** Every UID, ascending. */
  uids: readonly number[];
  /** Message count. */
  count: number;
  /** The saved result (RFC 5182), as UIDs. */
  saved: readonly number[];
}

export async function matches(key: SearchKey, m: Candidate, scope: SearchScope): Promise<boolean> {
  switch (key.op) {
    case 'all':
      return true;
    case 'and':
      for (const k of key.keys) if (!(await matches(k, m, scope))) return false;
      return true;
    case 'or':
      return (await matches(key.a, m, scope)) || matches(key.b, m, scope);
    case 'not':
      return !(await matches(key.key, m, scope));
    case 'flag':
      return m.flags.some((f) => f.toLowerCase() === key.flag.toLowerCase()) === key.set;
    case 'recent':
      return m.recent;
    // NEW is "RECENT UNSEEN", OLD is "NOT RECENT" (RFC 3501 6.4.4).
    case 'new':
      return m.recent && !m.flags.includes('\\Seen');
    case 'old':
      return !m.recent;
    // `$` is the saved result whichever way it is used (RFC 5182 2.1): it holds messages, not numbers.
    case 'seq':
      return key.set.saved ? scope.saved.includes(m.uid) : resolveSet(key.set.ranges, Array.from({ length: scope.count }, (_, i) => i + 1)).includes(m.seq);
    case 'uid':
      return key.set.saved ? scope.saved.includes(m.uid) : resolveSet(key.set.ranges, scope.uids).includes(m.uid);
    case 'size': {
      const size = await m.size();
      if (size === undefined) return false;
      return key.cmp === 'larger' ? size > key.octets : size < key.octets;
    }
    case 'date': {
      // Without a (readable) Date: field, the arrival date stands in for it, as in Dovecot.
      const date = key.which === 'internal' ? await m.internalDate() : (sentDate(await m.content()) ?? (await m.internalDate()));
      return date !== undefined && compareDay(date, key.day, key.cmp);
    }
    case 'header': {
      const mime = await m.content();
      if (!mime) return false;
      const needle = key.value.toLowerCase();
      const name = key.field.toLowerCase();
      // HEADER field "" matches every message that has the field (RFC 9051 6.4.4).
      return mime.fields.some((f) => f.name.toLowerCase() === name && decodeWords(f.value).toLowerCase().includes(needle));
    }
    case 'body':
    case 'text': {
      const mime = await m.content();
      if (!mime) return false;
      const needle = key.value.toLowerCase();
      if (key.op === 'text' && mime.fields.some((f) => decodeWords(`${f.name}: ${f.value}`).toLowerCase().includes(needle))) return true;
      return bodyTexts(mime).some((t) => t.toLowerCase().includes(needle));
    }
  }
}

/** The Date: header's day, or undefined. */
function sentDate(mime: MimePart | undefined): Date | undefined {
  const value = mime ? field(mime.fields, 'Date') : undefined;
  if (value === undefined) return undefined;
  const parsed = new Date(value.replace(/\([^)]*\)/g, '').trim());
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

/** BEFORE, ON, SINCE: the day of `date` (in UTC, the zone INTERNALDATE is shown in) against `day`. */
function compareDay(date: Date, day: Day, cmp: 'before' | 'on' | 'since'): boolean {
  const a = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  const b = Date.UTC(day.year, day.month - 1, day.day);
  return cmp === 'before' ? a < b : cmp === 'on' ? a === b : a >= b;
}

/**
 * The text of every part a person would read: text/* parts, decoded from their
 * transfer encoding and charset, and the headers and texts of attached messages.
 */
function bodyTexts(part: MimePart): string[] {
  if (part.parts) return part.parts.flatMap(bodyTexts);
  if (part.message) return [part.message.fields.map((f) => `${f.name}: ${decodeWords(f.value)}`).join('\n'), ...bodyTexts(part.message)];
  if (part.type !== 'text') return [];
  const decoded = decodeTransfer(part.body, field(part.fields, 'Content-Transfer-Encoding')) ?? part.body;
  return [decodeCharset(decoded, part.params.find(([k]) => k === 'charset')?.[1])];
}
