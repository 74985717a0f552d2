/**
 * Properties of the POP3 service's parsers (fast-check, fixed seed): command lines out
 * of a stream delivered in any chunks agree with a plain reading of the whole stream,
 * up to the first line over the limit (after which the server closes); a multi-line
 * reply, dot-stuffed by the server, reads back as the message's lines in the runner.
 */
import fc from 'fast-check';
import { TOO_LONG } from '../../../services/common/lineSession';
import { LineFramer, parseLines, splitArgs } from '../../../services/pop3/lines';
import { messageLines, topOf } from '../../../services/pop3/message';
import { encodeReply, ok } from '../../../services/pop3/reply';
import { multiLine, singleLine } from '../../../lab-runner/executors/pop3/protocol';
import { chunksOf, cuts, garbage, holds, thrown } from '../../helpers/properties';

/** The lines of a whole stream, read the plain way (RFC 1939 3): LF ends a line, a CR before it goes with it; the first line over `max` (counted with CR LF) ends the reading. */
function referenceLines(stream: Buffer, max: number): (string | typeof TOO_LONG)[] {
  const parts = stream.toString('latin1').split('\n');
  const unfinished = parts.pop()!;
  const items: (string | typeof TOO_LONG)[] = [];
  for (const part of [...parts.map((p) => p.replace(/\r$/, '')), unfinished.replace(/\r$/, '')]) {
    if (part.length + 2 > max) return [...items, TOO_LONG];
    if (items.length < parts.length) items.push(Buffer.from(part, 'latin1').toString('utf8'));
  }
  return items;
}

describe('command lines (RFC 1939 3)', () => {
  const stream = fc.oneof(
    garbage(400),
    fc.array(fc.tuple(fc.constantFrom('USER', 'PASS', 'STAT', 'retr', 'TOP', 'CAPA'), fc.string({ maxLength: 40 }), fc.constantFrom('\r\n', '\n')), { maxLength: 8 }).map((lines) =>
      Buffer.from(lines.map(([verb, arg, end]) => `${verb} ${arg}${end}`).join(''), 'utf8'),
    ),
  );

  test('a stream cut into any chunks gives the lines of the plain reading of the whole, up to the first line over the limit', () => {
    holds(
      fc.property(stream, cuts(), fc.integer({ min: 3, max: 80 }), (bytes, at, max) => {
        const framer = new LineFramer(max);
        const items: (string | typeof TOO_LONG)[] = [];
        for (const chunk of chunksOf(bytes, at)) {
          items.push(...framer.push(chunk));
          if (items.includes(TOO_LONG)) break; // the server answers -ERR and closes here
        }
        expect(items).toEqual(referenceLines(bytes, max));
      }),
      500,
    );
  });

  test('what parseLines keeps for the next chunk is always shorter than a line may be', () => {
    holds(
      fc.property(garbage(600), fc.integer({ min: 3, max: 300 }), (bytes, max) => {
        const { rest, tooLong, lines } = parseLines(bytes, max);
        expect(rest.length + 2).toBeLessThanOrEqual(max + 1); // a lone CR at the end may wait for its LF
        for (const line of lines) expect(line).not.toMatch(/\n/);
        if (tooLong) expect(rest.length).toBe(0);
      }),
      500,
    );
  });

  test('arguments are the words between spaces, however many spaces', () => {
    holds(
      fc.property(fc.array(fc.stringMatching(/^[^ ]{1,8}$/), { maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 6, maxLength: 6 }), (words, gaps) => {
        const text = ' '.repeat(gaps[0]! - 1) + words.map((w, i) => w + ' '.repeat(gaps[i + 1]!)).join('');
        expect(splitArgs(text)).toEqual(words);
      }),
    );
  });
});

describe('multi-line replies (RFC 1939 3), from the server to the runner', () => {
  const message = fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('.', '..', '.x', '', ' .')), { maxLength: 10 }).map((lines) => lines.map((l) => l.replace(/[\r\n]/g, '')));

  test('a message sent by RETR (dot-stuffed, ended by a lone dot) and cut into any chunks reads back as its lines, then the next reply', () => {
    holds(
      fc.property(message, cuts(), (lines, at) => {
        const raw = Buffer.from(lines.map((l) => l + '\r\n').join(''), 'utf8');
        const wire = Buffer.concat([encodeReply(ok('message follows', messageLines(raw))), encodeReply(ok('next'))]);
        // However the bytes arrive, the runner waits until the whole reply is there.
        let received = Buffer.alloc(0);
        let parsed: ReturnType<typeof multiLine>;
        for (const chunk of chunksOf(wire, at)) {
          received = Buffer.concat([received, chunk]);
          parsed = multiLine(received);
          if (parsed) break;
        }
        expect(parsed!.reply).toEqual({ ok: true, text: 'message follows', lines });
        // It took exactly its own bytes: the next reply starts right after them.
        expect(singleLine(wire.subarray(parsed!.raw.length))?.reply).toEqual({ ok: true, text: 'next' });
      }),
      300,
    );
  });

  test('TOP n gives the header, the empty line and at most n body lines', () => {
    holds(
      fc.property(message, message, fc.nat({ max: 12 }), (header, body, n) => {
        const head = header.filter((l) => l !== '');
        const raw = Buffer.from([...head, '', ...body].map((l) => l + '\r\n').join(''), 'utf8');
        const top = topOf(messageLines(raw), n).map((l) => l.toString('utf8').replace(/\r\n$/, ''));
        expect(top).toEqual([...head, '', ...body.slice(0, n)]);
      }),
      300,
    );
  });

  test('the runner reads any bytes as a reply, as "not all there yet", or throws its error about the status line; nothing else', () => {
    holds(
      fc.property(garbage(300), (bytes) => {
        for (const parse of [singleLine, multiLine]) {
          const err = thrown(() => parse(bytes));
          if (err !== undefined) expect(String(err)).toMatch(/not a POP3 status line/);
        }
      }),
      500,
    );
  });
});
