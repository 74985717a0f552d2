/**
 * Properties of the FTP service's parsers (fast-check, fixed seed): command lines cut
 * out of a stream delivered in any chunks agree with a plain reading of the whole
 * stream; Telnet commands never reach the text; PORT, EPRT and EPSV arguments read
 * back what was written, and any other text is refused without an exception.
 */
import fc from 'fast-check';
import { formatEpsv, formatPasv, normalizeAddress, parseEprtArgument, parseEpsvArgument, parsePortArgument, sameHost } from '../../../services/ftp/addresses';
import { decodeLine, INITIAL_LINE_STATE, parseCommand, parseLines, TOO_LONG, type LineItem } from '../../../services/ftp/lines';
import { chunksOf, cuts, garbage, holds } from '../../helpers/properties';

/** The lines of a whole stream, read the plain way: ends are CR LF, LF or CR; a line over `max` (with its CR LF) is TOO_LONG, even unfinished. */
function referenceLines(stream: Buffer, max: number): LineItem[] {
  const items: LineItem[] = [];
  const text = stream.toString('latin1');
  const parts = text.split(/\r\n|\r|\n/);
  const unfinished = parts.pop()!;
  for (const part of parts) items.push(part.length + 2 > max ? TOO_LONG : decodeLine(Buffer.from(part, 'latin1')));
  if (unfinished.length + 2 > max) items.push(TOO_LONG);
  return items;
}

describe('command lines (RFC 959 4.1)', () => {
  const stream = fc.oneof(
    garbage(400),
    fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z]{3,4}$/), fc.string({ maxLength: 40 }), fc.constantFrom('\r\n', '\n', '\r')), { maxLength: 8 }).map((lines) =>
      Buffer.from(lines.map(([verb, arg, end]) => `${verb} ${arg}${end}`).join(''), 'utf8'),
    ),
  );

  test('a stream cut into any chunks gives the same lines as the plain reading of the whole of it', () => {
    holds(
      fc.property(stream, cuts(), fc.integer({ min: 3, max: 80 }), (bytes, at, max) => {
        let state = INITIAL_LINE_STATE;
        const items: LineItem[] = [];
        for (const chunk of chunksOf(bytes, at)) {
          const parsed = parseLines(state, chunk, max);
          items.push(...parsed.items);
          state = parsed.state;
          // What is kept between chunks is less than a line: memory stays bounded by the limit.
          expect(state.pending.length + 2).toBeLessThanOrEqual(max);
        }
        expect(items).toEqual(referenceLines(bytes, max));
      }),
      500,
    );
  });

  test('Telnet commands anywhere in a line (IAC IP, IAC DM, IAC WILL x) and NULs never reach the text; IAC IAC is one 255', () => {
    const telnet = fc.constantFrom([0xff, 0xf4], [0xff, 0xf2], [0xff, 0xfb, 0x01], [0xff, 0xfe, 0x22], [0x00]);
    holds(
      fc.property(fc.stringMatching(/^[A-Z]{3,4}$/), fc.string({ unit: 'binary', maxLength: 30 }), fc.array(fc.tuple(fc.nat(), telnet), { maxLength: 4 }), (verb, arg, inserts) => {
        const text = `${verb} ${arg}`.replace(/\0/g, '');
        const bytes = [...Buffer.from(text, 'utf8')];
        // Between the text's bytes, never inside another command: from the end, so earlier positions hold.
        const at = inserts.map(([n, command]) => [n % (bytes.length + 1), command] as const).sort((a, b) => b[0] - a[0]);
        for (const [i, command] of at) bytes.splice(i, 0, ...command);
        expect(decodeLine(Buffer.from(bytes))).toBe(text);
      }),
      300,
    );
    expect(decodeLine(Buffer.from([0x41, 0xff, 0xff]))).toBe('A\ufffd'); // 255 alone is not UTF-8
  });

  test('a verb and its argument: the verb upper-cased, the argument kept as sent', () => {
    holds(
      fc.property(fc.stringMatching(/^[A-Za-z]{1,6}$/), fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), (verb, arg) => {
        expect(parseCommand(arg === undefined ? verb : `${verb} ${arg}`)).toEqual({ verb: verb.toUpperCase(), arg: arg ?? '' });
      }),
    );
  });
});

describe('PORT, EPRT, PASV and EPSV (RFC 959 4.1.2, RFC 2428)', () => {
  const port = fc.integer({ min: 1, max: 65535 });

  test('PORT reads back the address and port that PASV writes; any other text is undefined', () => {
    holds(
      fc.property(fc.ipV4(), port, fc.constantFrom('', ' ', '  '), (host, p, pad) => {
        expect(parsePortArgument(pad + formatPasv(host, p).slice(1, -1) + pad)).toEqual({ host, port: p });
      }),
    );
    holds(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const parsed = parsePortArgument(text);
        if (parsed === undefined) return;
        expect(parsed.port).toBeGreaterThanOrEqual(1);
        expect(parsed.port).toBeLessThanOrEqual(65535);
        expect(parsed.host).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
      }),
      500,
    );
  });

  test('EPRT with any allowed delimiter reads back its family, address and port; other text is a syntax or protocol error', () => {
    // RFC 2428 2: the delimiter is any printable ASCII character; not one that can be in an address or a number.
    const delimiter = fc.constantFrom(...'!"#$%&\'()*+,-/;<=>?@[\\]^_`{|}~GHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz'.split(''));
    holds(
      fc.property(fc.oneof(fc.ipV4().map((h) => [1, h] as const), fc.ipV6().filter((h) => !h.includes('%')).map((h) => [2, h] as const)), port, delimiter, ([family, host], p, d) => {
        expect(parseEprtArgument(`${d}${family}${d}${host}${d}${p}${d}`)).toEqual({ family, host, port: p });
      }),
    );
    holds(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        const parsed = parseEprtArgument(text);
        if ('error' in parsed) expect(['syntax', 'protocol']).toContain(parsed.error);
        else expect(parsed.port).toBeGreaterThanOrEqual(1);
      }),
      500,
    );
  });

  test('EPSV: nothing, ALL in any case, or a protocol number; anything else is a syntax error; 229 carries the port only', () => {
    holds(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        const parsed = parseEpsvArgument(text);
        const trimmed = text.trim();
        if (trimmed === '') expect(parsed).toEqual({});
        else if (trimmed.toUpperCase() === 'ALL') expect(parsed).toEqual({ all: true });
        else if (/^\d{1,5}$/.test(trimmed)) expect(parsed).toEqual({ protocol: Number(trimmed) });
        else expect(parsed).toEqual({ error: 'syntax' });
      }),
    );
    holds(fc.property(port, (p) => expect(parseEprtArgument(formatEpsv(p).slice(1, -1).replace('|||', '|1|127.0.0.1|'))).toEqual({ family: 1, host: '127.0.0.1', port: p })));
  });

  test('an address seen through an IPv6 socket is the same host as its IPv4 form; normalizing twice changes nothing', () => {
    holds(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })), (address) => {
        const once = normalizeAddress(address);
        expect(normalizeAddress(once)).toBe(once);
      }),
    );
    holds(fc.property(fc.ipV4(), (v4) => expect(sameHost(`::ffff:${v4}`, v4)).toBe(true)));
  });
});
