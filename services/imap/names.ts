/**
 * Mailbox names (RFC 9051 5.1): pure functions.
 *
 * A user's mailboxes form a tree, written with a hierarchy delimiter: here ".", as in
 * Maildir++ (and Dovecot's default for it), so `Archive.2026` is the mailbox 2026 inside
 * Archive. INBOX is the one name that is case-insensitive (RFC 9051 5.1: "INBOX",
 * "inbox" and "Inbox" are the same mailbox).
 *
 * Names may hold any Unicode. IMAP4rev1 clients send and read them in "modified UTF-7"
 * (RFC 3501 5.1.3): `Entwürfe` travels as `Entw&APw-rfe`. IMAP4rev2 (RFC 9051) uses
 * UTF-8 on the wire instead, once the client has said ENABLE IMAP4rev2. On disk the
 * folder's name is the modified UTF-7 form, as Dovecot writes it, so it is plain ASCII.
 */

export const DELIMITER = '.';
export const INBOX = 'INBOX';

/** Longest mailbox name accepted, in octets of its on-disk (modified UTF-7) form: a folder name must fit the file system. */
export const MAX_NAME_OCTETS = 200;

/** A name a client may not use: why, for the NO. */
export class NameError extends Error {}

/** INBOX in any case, alone or as the first level, is written INBOX. */
export function normalizeName(name: string): string {
  const first = name.split(DELIMITER, 1)[0]!;
  return first.toUpperCase() === INBOX ? INBOX + name.slice(first.length) : name;
}

/**
 * Check a name for CREATE or RENAME: levels not empty (no leading, trailing or double
 * delimiter), no control characters, no LIST wildcards (% and *), no "/" or "\" (they
 * would reach the file system), and not too long.
 */
export function checkName(name: string): string {
  const normal = normalizeName(name);
  if (normal === '') throw new NameError('a mailbox needs a name');
  if (normal.split(DELIMITER).some((level) => level === '')) throw new NameError(`"${DELIMITER}" separates levels of the hierarchy: a name cannot start or end with it, or have two in a row`);
  if (/[\x00-\x1f\x7f%*/\\]/.test(normal)) throw new NameError('a mailbox name cannot contain control characters, %, *, / or \\');
  if (encodeUtf7(normal).length > MAX_NAME_OCTETS) throw new NameError(`mailbox name too long: at most ${MAX_NAME_OCTETS} octets`);
  return normal;
}

/** The name's parent (`Archive` for `Archive.2026`), or undefined at the top. */
export function parentOf(name: string): string | undefined {
  const at = name.lastIndexOf(DELIMITER);
  return at === -1 ? undefined : name.slice(0, at);
}

// ---------------------------------------------------------------------------
// Modified UTF-7 (RFC 3501 5.1.3).

/**
 * Printable ASCII stands for itself, except "&", written "&-". Other characters are
 * written as UTF-16 in base64 (with "," for "/"), between "&" and "-".
 */
export function encodeUtf7(text: string): string {
  let out = '';
  let run = '';
  const flush = (): void => {
    if (run === '') return;
    const utf16 = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) utf16.writeUInt16BE(run.charCodeAt(i), i * 2);
    out += `&${utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    run = '';
  };
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += c === '&' ? '&-' : c;
    } else run += c;
  }
  flush();
  return out;
}

/** The reverse of encodeUtf7; throws NameError for text that is not modified UTF-7. */
export function decodeUtf7(text: string): string {
  return text.replace(/&([^-]*)-?/g, (whole, b64: string) => {
    if (!whole.endsWith('-')) throw new NameError(`not modified UTF-7: "&" without "-" in ${JSON.stringify(text)}`);
    if (b64 === '') return '&';
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) throw new NameError(`not modified UTF-7: ${JSON.stringify(whole)}`);
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0) throw new NameError(`not modified UTF-7: ${JSON.stringify(whole)}`);
    let out = '';
    for (let i = 0; i < bytes.length; i += 2) out += String.fromCharCode(bytes.readUInt16BE(i));
    return out;
  });
}

// ---------------------------------------------------------------------------
// LIST patterns (RFC 9051 6.3.9).

/**
 * A LIST pattern as a test: `*` matches any characters, `%` any characters but the
 * delimiter (one level). The reference name is put in front of the pattern. Under
 * INBOX the test ignores case, since INBOX does.
 */
export function listMatcher(reference: string, pattern: string): (name: string) => boolean {
  const source = `^${[...(reference + pattern)].map((c) => (c === '*' ? '.*' : c === '%' ? `[^${escapeRegex(DELIMITER)}]*` : escapeRegex(c))).join('')}$`;
  const exact = new RegExp(source, 'su');
  const folded = new RegExp(source, 'isu');
  return (name: string) => (name === INBOX || name.startsWith(INBOX + DELIMITER) ? folded : exact).test(name);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
