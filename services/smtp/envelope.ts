/**
 * The envelope's syntax (RFC 5321 4.1.2), where smtp-server's parser needs help:
 * pure functions, unit-tested on their own.
 *
 *   MAIL FROM:<"john smith"@example.test> SIZE=1234
 *             '---------path---------'   '-param-'
 *
 * - A local part may be a quoted string: `"john smith"`, with `\"` and `\\` inside.
 *   Quoting changes nothing when it is not needed: `"bob"@lab.test` is bob@lab.test
 *   (RFC 5322 3.2.4: a quoted-string is an atom, semantically). Addresses are kept in
 *   the form with the fewest quotes, as postfix keeps them.
 * - Parameters belong to service extensions the server announced in its EHLO reply;
 *   one it does not know gets 555 (RFC 5321 4.1.1.11).
 */

/** A local part without quotes (RFC 5321 4.1.2 Dot-string): atoms of atext, joined by dots. */
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a0-\uffff]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a0-\uffff]+)*$/;
/** Inside quotes: printable ASCII but `"` and `\` (qtextSMTP), and non-ASCII text for SMTPUTF8 (RFC 6531 3.3). */
const QTEXT = /[\x20\x21\x23-\x5b\x5d-\x7e\u00a0-\uffff]/;
/** Characters that are never in an address, even quoted: they hide text or look like nothing. */
const INVISIBLE = /[\u200b\u2060\ufeff]/;
/** RFC 5321 4.5.3.1.1: a local part has at most 64 octets. */
export const MAX_LOCAL_PART_OCTETS = 64;

/** The local part a quoted string names, in the fewest quotes: `bob` for `"bob"`, `"john smith"` stays quoted. */
export function canonicalLocalPart(text: string): string {
  if (DOT_STRING.test(text)) return text;
  return `"${text.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * A MAIL FROM / RCPT TO line whose path has a quoted local part, made ready for
 * smtp-server's parser, which splits the line at spaces and takes no quotes:
 * undefined when there is no quoted local part (the line goes to the parser as it is);
 * `{ line }` with the local part unquoted, when it needs no quotes; `{ line, local }`
 * with a stand-in local part in the line, to be replaced by `local` once the parser
 * has checked the rest (the domain, the parameters); or an error for a broken quote.
 */
export function unquoteLocalPart(command: string): { line: string; local?: string } | { error: string } | undefined {
  const colon = command.indexOf(':');
  // `<` then an optional source route (`@relay.example:`, RFC 5321 4.1.2 A-d-l), then the quote.
  const start = /^\s*<((?:@[^\s,:@<>]+(?:,@[^\s,:@<>]+)*:)?)"/.exec(command.slice(colon + 1));
  if (colon < 0 || !start) return undefined;
  const open = colon + 1 + start[0].length; // just after the opening quote
  let text = '';
  let at = open;
  for (; at < command.length && command[at] !== '"'; at++) {
    const char = command[at]!;
    if (char === '\\') {
      const next = command[++at];
      // quoted-pairSMTP: a backslash and one printable ASCII character
      if (next === undefined || !/[\x20-\x7e]/.test(next)) return { error: 'a backslash must quote a printable character' };
      text += next;
    } else if (QTEXT.test(char) && !INVISIBLE.test(char)) {
      text += char;
    } else {
      return { error: 'a character that may not be in a quoted local part' };
    }
  }
  if (command[at] !== '"') return { error: 'the quoted local part is not closed' };
  if (command[at + 1] !== '@') return { error: 'a quoted local part must be all of the local part' };
  const local = canonicalLocalPart(text);
  if (Buffer.byteLength(local) > MAX_LOCAL_PART_OCTETS) return { error: `the local part is longer than ${MAX_LOCAL_PART_OCTETS} octets` };
  const before = command.slice(0, open - 1);
  const after = command.slice(at + 1);
  if (!local.startsWith('"')) return { line: before + local + after };
  return { line: before + LOCAL_STAND_IN + after, local };
}

/** What the parser sees in place of a local part that must stay quoted. */
const LOCAL_STAND_IN = 'quoted';

/**
 * The parameters each command takes here, by the extension that brings them. EHLO
 * announces 8BITMIME, SMTPUTF8 and SIZE on both ports, AUTH on 587 only; RCPT TO takes
 * none (DSN, which would bring NOTIFY and ORCPT, is not offered).
 */
export const PARAMETERS = {
  mail: {
    SIZE: 'SIZE (RFC 1870)',
    BODY: '8BITMIME (RFC 6152)',
    SMTPUTF8: 'SMTPUTF8 (RFC 6531)',
  },
  /** On the submission port, which offers AUTH: MAIL FROM's AUTH=<...> (RFC 4954 5). */
  submissionMail: {
    AUTH: 'AUTH (RFC 4954)',
  },
  rcpt: {},
} as const;

/** The first parameter that is not one of `known`, as the client wrote it (`FOO=1`, `NOTIFY=SUCCESS`), or undefined. */
export function unknownParameter(args: Readonly<Record<string, string | boolean>> | false | undefined, known: readonly string[]): string | undefined {
  for (const [name, value] of Object.entries(args || {})) {
    if (!known.includes(name)) return value === true ? name : `${name}=${value}`;
  }
  return undefined;
}

/** `RCPT TO:<Postmaster>`: the postmaster of this server's own domain, without one written (RFC 5321 4.1.1.3). */
export function isBarePostmaster(address: string): boolean {
  return address.toLowerCase() === 'postmaster';
}
