/**
 * Properties of the IMAP service's parsers (fast-check, fixed seed): commands with
 * literals cut out of a stream give the same items however the stream is chunked, and
 * what is held between chunks stays under the limits; any bytes as a command, or as the
 * arguments of SEARCH, FETCH, STORE and the rest, parse or give a ParseError (the
 * server's `BAD`), never another exception; sequence sets, mailbox names in modified
 * UTF-7 and INTERNALDATE read back as written; any message parses into a MIME tree.
 */
import fc from 'fast-check';
import { TOO_LONG } from '../../../services/common/lineSession';
import { SectionError } from '../../../services/imap/fetch';
import { ImapFramer } from '../../../services/imap/framer';
import { parseAddressList, parseMessage } from '../../../services/imap/message';
import { checkName, decodeUtf7, encodeUtf7, NameError, normalizeName } from '../../../services/imap/names';
import { dateTime, fetchAtts, flagList, formatDateTime, formatSet, ParseError, parseCommandLine, Reader, resolveSet, searchArgs, sequenceSet, storeArgs } from '../../../services/imap/parser';
import { chunksOf, cuts, garbage, holds, thrown } from '../../helpers/properties';

/** Commands as clients send them: lines, synchronizing and non-synchronizing literals of any bytes, garbage between. */
const stream = fc
  .array(
    fc.oneof(
      fc.tuple(fc.stringMatching(/^[a-z0-9]{1,4}$/), fc.constantFrom('NOOP', 'LOGIN alice', 'SELECT INBOX', 'FETCH 1:* (FLAGS)', 'SEARCH UNSEEN')).map(([tag, command]) => `${tag} ${command}\r\n`),
      fc.tuple(fc.stringMatching(/^[a-z0-9]{1,4}$/), fc.uint8Array({ maxLength: 40 }), fc.boolean()).map(([tag, literal, plus]) => `${tag} APPEND INBOX {${literal.length}${plus ? '+' : ''}}\r\n${Buffer.from(literal).toString('latin1')}\r\n`),
      garbage(60).map((g) => g.toString('latin1')),
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

describe('commands out of the stream (RFC 9051 2.2, 7.5; RFC 7888)', () => {
  test('cut into any chunks, the stream gives the same commands, continuations and refusals as all at once', () => {
    holds(
      fc.property(stream, cuts(), fc.integer({ min: 8, max: 120 }), fc.integer({ min: 0, max: 64 }), (bytes, at, maxText, maxLiteral) => {
        const whole = new ImapFramer(maxText, maxLiteral).push(bytes);
        const framer = new ImapFramer(maxText, maxLiteral);
        const pieces: (ReturnType<ImapFramer['push']>[number])[] = [];
        for (const chunk of chunksOf(bytes, at)) pieces.push(...framer.push(chunk));
        expect(pieces).toEqual(whole);
        for (const item of whole) {
          if (item === TOO_LONG || item.kind !== 'command') continue;
          // A command handed over kept to the limits: text and literals.
          expect(item.raw.length).toBeLessThanOrEqual(maxText + maxLiteral);
        }
      }),
      500,
    );
  });
});

describe('command syntax (RFC 9051 9)', () => {
  /** The argument parsers a session runs, each on a fresh reader. */
  const PARSERS: [string, (r: Reader) => unknown][] = [
    ['sequence set', sequenceSet],
    ['flag list', flagList],
    ['date-time', dateTime],
    ['search', searchArgs],
    ['fetch', fetchAtts],
    ['store', storeArgs],
    ['astring', (r) => r.astring()],
    ['list-mailbox', (r) => r.listMailbox()],
    ['nstring', (r) => r.nstring()],
  ];
  const argumentsLike = fc.oneof(
    garbage(120),
    fc.array(fc.constantFrom('1:*', '$', '2,4:7', '(', ')', '\\Seen', 'FLAGS', 'BODY[', 'HEADER.FIELDS', '(SUBJECT)', ']', '<0.10>', '{3}\r\nabc', '{99999999999}', '"x\\"y"', 'NIL', 'NOT', 'OR', 'SINCE', '1-Feb-2026', '"01-Feb-2026 10:00:00 +0000"', 'CHARSET', 'UTF-8', '+FLAGS.SILENT', ' ', '~{2}\r\n\0\0'), { maxLength: 10 }).map((p) => Buffer.from(p.join(' '), 'latin1')),
  );

  test('any bytes as a command line: a tag and a name, or a ParseError', () => {
    holds(
      fc.property(garbage(120), (bytes) => {
        const err = thrown(() => parseCommandLine(bytes));
        if (err !== undefined) expect(err).toBeInstanceOf(ParseError);
      }),
      500,
    );
  });

  test('any bytes as the arguments of each command: a value, or a ParseError (the BAD answer); never another exception', () => {
    holds(
      fc.property(argumentsLike, (bytes) => {
        for (const [, parse] of PARSERS) {
          const err = thrown(() => parse(new Reader(bytes)));
          if (err !== undefined && !(err instanceof ParseError) && !(err instanceof SectionError)) throw err;
        }
      }),
      1000,
    );
  });

  test('a set of numbers written as a sequence set reads back as the same numbers', () => {
    holds(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 20 }), (numbers) => {
        const sorted = [...numbers].sort((a, b) => a - b);
        const set = sequenceSet(new Reader(Buffer.from(formatSet(sorted))));
        expect(set.saved).toBe(false);
        if (!set.saved) expect(resolveSet(set.ranges, Array.from({ length: 60 }, (_, i) => i + 1))).toEqual(sorted);
      }),
    );
  });

  test('INTERNALDATE as written reads back as the same second', () => {
    holds(
      fc.property(fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }), (when) => {
        const read = dateTime(new Reader(Buffer.from(`"${formatDateTime(when)}"`)));
        expect(read.getTime()).toBe(Math.floor(when.getTime() / 1000) * 1000);
      }),
    );
  });
});

describe('mailbox names (RFC 3501 5.1.3) and messages', () => {
  test('any name survives modified UTF-7 there and back; decoding any text gives a name or a NameError', () => {
    holds(fc.property(fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !/\p{Cs}/u.test(s)), (name) => expect(decodeUtf7(encodeUtf7(name))).toBe(name)), 500);
    holds(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const err = thrown(() => decodeUtf7(text));
        if (err !== undefined) expect(err).toBeInstanceOf(NameError);
      }),
      500,
    );
  });

  test('a checked name is normal (INBOX in capitals), and checking it again changes nothing', () => {
    holds(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('inbox', 'Inbox.Sub', 'a..b', '.a', 'a.')), (name) => {
        let checked: string | undefined;
        const err = thrown(() => (checked = checkName(name)));
        if (err !== undefined) return void expect(err).toBeInstanceOf(NameError);
        expect(checked).toBe(normalizeName(checked!));
        expect(checkName(checked!)).toBe(checked);
      }),
      500,
    );
  });

  test('any bytes as a message, or as an address list, parse without an exception', () => {
    const message = fc.oneof(
      garbage(400),
      fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), garbage(120), garbage(120)).map(([b, one, two]) =>
        Buffer.concat([Buffer.from(`Content-Type: multipart/mixed; boundary="${b}"\r\nFrom: "A" <a@b>, c@d\r\n\r\n--${b}\r\nContent-Type: message/rfc822\r\n\r\n`), one, Buffer.from(`\r\n--${b}\r\n`), two, Buffer.from(`\r\n--${b}--\r\n`)]),
      ),
    );
    holds(fc.property(message, (bytes) => void parseMessage(bytes)), 500);
    holds(fc.property(fc.string({ maxLength: 80 }), (text) => void parseAddressList(text)), 500);
  });
});
