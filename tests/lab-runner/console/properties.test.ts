/**
 * Properties of the console's checks (lab-runner/console/security.ts; fast-check, fixed
 * seed): for any request head, judge() gives a verdict and never throws; only the
 * console's own Host passes; the token is found among any other cookies. Then what the
 * first property found, against a real console.
 */
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { COOKIE, cookieValue, hostAllowed, judge, makeToken } from '../../../lab-runner/console/security';
import { holds } from '../../helpers/properties';
import { RawSocket } from '../../helpers/socket';
import { startConsole, type TestConsole } from '../../helpers/console';

const PORT = 8000;
const header = fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('127.0.0.1:8000', 'localhost:8000', '[::1]:8000', 'http://127.0.0.1:8000', 'same-origin', 'cross-site', '%zz', 'wirelab_console=%E0%A4%A')), { nil: undefined });
/** A request head as node:http hands it over: only what the checks read. */
/** Mostly the console's own Host, so that the checks after it are reached too. */
const host = fc.oneof({ arbitrary: fc.constant(`127.0.0.1:${PORT}`), weight: 3 }, { arbitrary: header, weight: 1 });
const cookie = fc.oneof(header, fc.string({ maxLength: 20 }).map((v) => `${COOKIE}=${v}`), fc.constantFrom(`${COOKIE}=%`, `a=b; ${COOKIE}=%E0%A4%A`));
const request = fc.record({ method: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE'), host, origin: header, site: header, cookie, query: header }).map((r) => ({
  req: { method: r.method, headers: { host: r.host, origin: r.origin, 'sec-fetch-site': r.site, cookie: r.cookie } } as unknown as IncomingMessage,
  url: new URL(`http://127.0.0.1:${PORT}/${r.query === undefined ? '' : `?token=${encodeURIComponent(r.query)}`}`),
}));

test('any request head gets a verdict (401 or 403 without the token), never an exception', () => {
  const token = makeToken();
  holds(
    fc.property(request, ({ req, url }) => {
      const verdict = judge(req, url, token, PORT);
      expect(verdict.ok).toBe(false); // nothing drawn knows the token
      if (!verdict.ok) expect([401, 403]).toContain(verdict.status);
    }),
    1000,
  );
});

test('the token is found among any other cookies, and only the console\'s own Host passes', () => {
  holds(
    fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-z_]{1,8}$/), fc.stringMatching(/^[A-Za-z0-9_-]{0,10}$/)), { maxLength: 4 }), fc.nat({ max: 4 }), (others, at) => {
      const token = makeToken();
      const cookies = others.filter(([name]) => name !== COOKIE).map(([name, value]) => `${name}=${value}`);
      cookies.splice(at % (cookies.length + 1), 0, `${COOKIE}=${token}`);
      expect(cookieValue({ headers: { cookie: cookies.join('; ') } } as unknown as IncomingMessage)).toBe(token);
    }),
  );
  holds(
    fc.property(fc.oneof(fc.domain(), fc.ipV4(), fc.constantFrom('127.0.0.1', 'localhost', '[::1]', 'LOCALHOST')), fc.integer({ min: 1, max: 65535 }), (name, port) => {
      const local = ['127.0.0.1', 'localhost', '[::1]'].includes(name.toLowerCase());
      expect(hostAllowed(`${name}:${port}`, PORT)).toBe(local && port === PORT);
    }),
  );
});

describe('found by the first property: requests the checks could not read, at a real console', () => {
  let c: TestConsole;
  beforeAll(async () => {
    c = await startConsole();
  }, 60_000);
  afterAll(() => c?.stop());

  /** A raw request: its status line, within the helpers' deadline (no answer at all was the bug). */
  async function statusOf(head: string): Promise<string> {
    const socket = await RawSocket.connect(c.port);
    socket.write(head);
    const line = await socket.readLine();
    socket.destroy();
    return line;
  }

  test('a cookie that is not percent-encoding is no token (401), and the console goes on answering', async () => {
    // It used to throw URIError in an async handler left unhandled: no answer, and the process could end.
    expect(await statusOf(`GET /api/lab HTTP/1.1\r\nHost: ${c.host}\r\nCookie: wirelab_console=%E0%A4%A\r\n\r\n`)).toBe('HTTP/1.1 401 Unauthorized');
    expect((await c.api('GET', '/api/lab')).status).toBe(200);
  });

  test('a request target that is no URL gets 400, and the console goes on answering', async () => {
    expect(await statusOf(`GET http://[ HTTP/1.1\r\nHost: ${c.host}\r\nCookie: ${c.cookie}\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request');
    expect((await c.api('GET', '/api/lab')).status).toBe(200);
  });
});
