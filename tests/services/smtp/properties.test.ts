/**
 * Properties of the SMTP service's parsers (fast-check, fixed seed): replies written and
 * read back in any chunks, by the service's client and by the runner; dot-stuffing that
 * the receiver undoes exactly and that no line end can fool; the DATA checks the same
 * however the message is cut; quoted local parts read back as written, and any MAIL
 * FROM line, at the real server, either names the address it was given or is refused.
 */
import fc from 'fast-check';
import { parseLogLine } from '../../../services/common/logger';
import { canonicalLocalPart, MAX_LOCAL_PART_OCTETS, unquoteLocalPart } from '../../../services/smtp/envelope';
import { dotStuff } from '../../../services/smtp/dotStuff';
import { formatReply, parseReplies, ReplyParseError, type SmtpReply } from '../../../services/smtp/replyParser';
import { TextCheck } from '../../../services/smtp/textCheck';
import { smtpReply } from '../../../lab-runner/executors/smtp/protocol';
import { chunksOf, cuts, garbage, holds, holdsAsync, thrown } from '../../helpers/properties';
import { RawClient, startSmtp, type RunningSmtp } from './harness';

const replyText = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const reply: fc.Arbitrary<SmtpReply> = fc.record({ code: fc.integer({ min: 200, max: 599 }), lines: fc.array(replyText, { minLength: 1, maxLength: 4 }) });

describe('replies (RFC 5321 4.2)', () => {
  test('replies written, then cut into any chunks and read as they arrive, come back as they were', () => {
    holds(
      fc.property(fc.array(reply, { maxLength: 6 }), cuts(), fc.constantFrom('\r\n', '\n'), (sent, at, end) => {
        const wire = Buffer.from(sent.map((r) => formatReply(r).replace(/\n/g, end) + end).join(''), 'latin1');
        const got: SmtpReply[] = [];
        let rest = '';
        for (const chunk of chunksOf(wire, at)) {
          const parsed = parseReplies(rest + chunk.toString('latin1'));
          got.push(...parsed.replies);
          rest = parsed.rest;
        }
        expect(got).toEqual(sent);
        expect(rest).toBe('');
      }),
      300,
    );
  });

  test('the runner takes exactly one reply at a time off the stream, the same replies', () => {
    holds(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 5 }), (sent) => {
        let data: Buffer = Buffer.from(sent.map((r) => formatReply(r).replace(/\n/g, '\r\n') + '\r\n').join(''), 'latin1');
        for (const expected of sent) {
          const parsed = smtpReply(data);
          expect(parsed?.reply).toEqual({ code: expected.code, lines: expected.lines, text: expected.lines.join(' ') });
          data = parsed!.rest;
        }
        expect(data.length).toBe(0);
      }),
      300,
    );
  });

  test('any bytes: replies and the rest, or a ReplyParseError naming the line; nothing else', () => {
    holds(
      fc.property(garbage(400), (bytes) => {
        const err = thrown(() => parseReplies(bytes.toString('latin1')));
        if (err !== undefined) expect(err).toBeInstanceOf(ReplyParseError);
        const err2 = thrown(() => smtpReply(bytes));
        if (err2 !== undefined) expect(err2).toBeInstanceOf(ReplyParseError);
      }),
      500,
    );
  });
});

describe('the message after DATA (RFC 5321 4.5.2)', () => {
  const message = fc.oneof(garbage(400), fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('.', '..', '\r\n', '\n', '\r', '\r\n.\r\n', '\n.\n', '\r.\r')), { maxLength: 20 }).map((p) => Buffer.from(p.join(''), 'latin1')));

  /** What the receiver does (RFC 5321 4.5.2): read lines up to the lone dot, drop the first dot of each other line. */
  function unstuff(wire: Buffer): { text: string; after: string } {
    const text = wire.toString('latin1');
    const end = text.indexOf('\r\n.\r\n') >= 0 && !text.startsWith('.\r\n') ? text.indexOf('\r\n.\r\n') + 2 : 0;
    const body = text.slice(0, end);
    return { text: body.replace(/^\./gm, ''), after: text.slice(end + 3) };
  }

  test('stuffed, then read back: the message with CRLF line ends, ended by the one lone dot; no bare CR or LF goes out', () => {
    holds(
      fc.property(message, (raw) => {
        const wire = dotStuff(raw);
        const normalized = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
        const expected = normalized === '' || normalized.endsWith('\r\n') ? normalized : normalized + '\r\n';
        expect(unstuff(wire)).toEqual({ text: expected, after: '' });
        expect(wire.toString('latin1')).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
        // The receiver's own DATA check finds nothing wrong with what we send.
        const check = new TextCheck(Infinity, Infinity);
        check.push(wire);
        expect(check.end()).toBeUndefined();
      }),
      500,
    );
  });

  test('the DATA check finds the same problem however the message is cut into chunks', () => {
    holds(
      fc.property(message, cuts(), fc.integer({ min: 3, max: 60 }), fc.integer({ min: 1, max: 500 }), (raw, at, maxLine, maxBytes) => {
        const whole = new TextCheck(maxBytes, maxLine);
        whole.push(raw);
        const pieces = new TextCheck(maxBytes, maxLine);
        for (const chunk of chunksOf(raw, at)) pieces.push(chunk);
        const [a, b] = [whole.end(), pieces.end()];
        if (raw.length <= maxBytes) expect(b).toEqual(a);
        else {
          expect(a).toEqual({ kind: 'too-big', limit: maxBytes });
          // The size is checked per chunk: a line problem in the chunks before the one that crosses the limit comes first.
          if (b?.kind !== 'too-big') expect(b?.kind).toMatch(/^(bare-lf|bare-cr|line-too-long)$/);
        }
        expect(pieces.bytes).toBe(raw.length);
      }),
      500,
    );
  });
});

describe('the envelope (RFC 5321 4.1.2)', () => {
  const qtext = fc.stringMatching(/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,20}$/);
  const escape = (text: string): string => text.replace(/(["\\])/g, '\\$1');

  test('a quoted local part, written with any escapes, reads back in its fewest quotes; unquoting twice changes nothing', () => {
    holds(
      fc.property(fc.array(fc.oneof(qtext, fc.constantFrom('"', '\\')), { minLength: 1, maxLength: 4 }).map((p) => p.join('')), fc.constantFrom('MAIL FROM:', 'RCPT TO:', 'mail from: '), fc.constantFrom('', ' SIZE=100'), (local, verb, params) => {
        const result = unquoteLocalPart(`${verb}<"${escape(local)}"@lab.test>${params}`);
        const canonical = canonicalLocalPart(local);
        if (Buffer.byteLength(canonical) > MAX_LOCAL_PART_OCTETS) return void expect(result).toEqual({ error: expect.stringMatching(/longer than 64/) });
        if (canonical.startsWith('"')) expect(result).toEqual({ line: `${verb}<quoted@lab.test>${params}`, local: canonical });
        else expect(result).toEqual({ line: `${verb}<${canonical}@lab.test>${params}` });
        // The fewest quotes is a fixed point.
        expect(canonicalLocalPart(canonical.startsWith('"') ? local : canonical)).toBe(canonical);
      }),
      300,
    );
  });

  test('any command line: left alone, a line for the parser, or an error; never an exception', () => {
    holds(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `MAIL FROM:<"${s}`)), (line) => {
        const result = unquoteLocalPart(line);
        if (result !== undefined && !('error' in result)) expect(result.line).not.toContain('"');
      }),
      500,
    );
  });

  describe('at the real server', () => {
    let server: RunningSmtp;
    let client: RawClient;
    const code = (line: string): number => Number(line.slice(0, 3));

    beforeAll(async () => {
      server = await startSmtp();
      client = await RawClient.connect(server.smtp);
      await client.expect(/^220 /);
      expect(code(await client.command('EHLO properties.example.test'))).toBe(250);
    });
    afterAll(async () => {
      client?.destroy();
      await server?.stop();
    });

    test('MAIL FROM with any local part, quoted or not: 250 and the address in its fewest quotes, or a 5xx refusal; the session goes on', async () => {
      let accepted = 0;
      const local = fc.oneof(fc.stringMatching(/^[A-Za-z0-9.!#$%&'*+\-/=?^_`{|}~]{1,12}$/), fc.array(fc.oneof(qtext, fc.constantFrom('"', '\\', ' ')), { minLength: 1, maxLength: 3 }).map((p) => `"${escape(p.join(''))}"`));
      await holdsAsync(
        fc.asyncProperty(local, async (written) => {
          const seen = server.logs.lines.length;
          const answer = code(await client.command(`MAIL FROM:<${written}@example.test>`));
          if (answer === 250) {
            accepted++;
            const line = server.logs.lines.slice(seen).map(parseLogLine).find((l) => l?.message === 'mail');
            const unquoted = written.startsWith('"') ? written.slice(1, -1).replace(/\\(.)/g, '$1') : written;
            expect(line?.fields.from).toBe(`${canonicalLocalPart(unquoted)}@example.test`);
          } else expect(answer).toBeGreaterThanOrEqual(500);
          expect(code(await client.command('RSET'))).toBe(250);
        }),
        150,
      );
      // Not a vacuous property: most of those addresses were taken.
      expect(accepted).toBeGreaterThan(100);
    });
  });
});

