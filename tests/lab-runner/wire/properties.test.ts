/**
 * Properties of the runner's own parsers (fast-check, fixed seed): the HTTP response
 * parser reads any response it is handed a byte at a time, or all at once, as the same
 * response, and stops where the next begins; lines come off a stream as they went on;
 * any bytes give a reply, "not yet", or the parser's declared error.
 */
import fc from 'fast-check';
import { decodeChunked, HttpParseError, parseResponse, responseParser } from '../../../lab-runner/executors/http/parse';
import { takeLine } from '../../../lab-runner/wire';
import { chunksOf, cuts, garbage, holds, thrown, type ValueOf } from '../../helpers/properties';

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,8}$/);
const body = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
const response = fc.record({
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  reason: fc.stringMatching(/^[A-Za-z ]{0,12}$/),
  headers: fc.array(fc.tuple(token, fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,15}[\x21-\x7e])?$/)), { maxLength: 4 }),
  body,
  framing: fc.constantFrom('length', 'chunked'),
  chunks: cuts(),
});

/** A response as a server writes it. */
function wire(r: ValueOf<typeof response>): Buffer {
  const framing = r.framing === 'length' ? [`Content-Length: ${r.body.length}`] : ['Transfer-Encoding: chunked'];
  const head = [`HTTP/1.1 ${r.status}${r.reason ? ' ' + r.reason : ''}`, ...r.headers.map(([n, v]) => `X-${n}: ${v}`), ...framing].join('\r\n') + '\r\n\r\n';
  const content = r.framing === 'length' ? r.body : Buffer.concat([...chunksOf(r.body, r.chunks).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')])), Buffer.from('0\r\n\r\n')]);
  return Buffer.concat([Buffer.from(head, 'latin1'), content]);
}

describe('HTTP responses (RFC 9112)', () => {
  test('two responses on one connection, read as the bytes arrive: each is "not all there yet" until whole, then read as written, the next one after it', () => {
    holds(
      fc.property(response, response, cuts(), (first, second, at) => {
        const bytes = Buffer.concat([wire(first), wire(second)]);
        const read = responseParser('GET');
        let received: Buffer = Buffer.alloc(0);
        const got: { status: number; body: Buffer; headers: Record<string, string> }[] = [];
        for (const chunk of chunksOf(bytes, at)) {
          received = Buffer.concat([received, chunk]);
          for (let parsed = read(received, false); parsed; parsed = read(received, false)) {
            got.push({ status: parsed.reply.status, body: parsed.reply.body, headers: parsed.reply.headers });
            received = parsed.rest;
          }
        }
        expect(got.map((g) => [g.status, g.body])).toEqual([[first.status, first.body], [second.status, second.body]]);
        for (const [name, value] of first.headers) expect(got[0]!.headers[`x-${name.toLowerCase()}`]).toContain(value);
        expect(received.length).toBe(0);
      }),
      300,
    );
  });

  test('a chunked body cut into any chunk sizes decodes to itself', () => {
    holds(
      fc.property(body, cuts(), fc.constantFrom('', ';ext=1'), (content, at, extension) => {
        const encoded = Buffer.concat([...chunksOf(content, at).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}${extension}\r\n`), c, Buffer.from('\r\n')])), Buffer.from('0\r\n\r\n')]);
        expect(decodeChunked(encoded, 0)).toEqual({ body: content, end: encoded.length });
      }),
    );
  });

  test('any bytes, open or closed: a response, "not yet", or an HttpParseError; never another exception', () => {
    holds(
      fc.property(fc.oneof(garbage(400), response.map((r) => wire(r)).chain((w) => fc.tuple(fc.nat(), fc.nat({ max: 255 })).map(([i, v]) => Buffer.from(w).fill(v, i % w.length, (i % w.length) + 1)))), fc.boolean(), fc.constantFrom('GET', 'HEAD'), (bytes, closed, method) => {
        const err = thrown(() => parseResponse(bytes, method, closed));
        if (err !== undefined) expect(err).toBeInstanceOf(HttpParseError);
      }),
      1000,
    );
  });
});

describe('lines (lab-runner/wire/connection.ts)', () => {
  test('lines with CRLF or LF ends come off the stream one by one, as they went on', () => {
    holds(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')), fc.constantFrom('\r\n', '\n')), { maxLength: 8 }), (lines) => {
        const data = Buffer.from(lines.map(([l, end]) => l + end).join(''), 'utf8');
        let from = 0;
        for (const [line] of lines) {
          const next = takeLine(data, from)!;
          expect(next.line).toBe(line);
          from = next.end;
        }
        expect(takeLine(data, from)).toBeUndefined();
      }),
    );
  });
});
