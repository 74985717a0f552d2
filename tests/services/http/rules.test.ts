/**
 * The rules of HTTP/1.1 every request must pass (services/common/httpRules.ts and the
 * answers to what node:http cannot parse), side by side with nginx: the same raw
 * request, on a raw socket, to nginx, to www.lab.test, to shop.lab.test (and through it
 * to app.lab.test) and to app.lab.test, and the status of each answer. Where the lab
 * answers differently from nginx on purpose, `nginx` says what nginx answers, and
 * services/http/README.md says why.
 */
import { startNginx, type Nginx } from '../../helpers/daemons';
import { ShopLab, startApp } from '../proxy/harness';
import { curl, expectAlive, firstResponse, request, startServer, WWW, type RunningServer } from './harness';

const HOST = 'Host: www.lab.test\r\n';
/** A request: its request line, its header lines, the empty line, and a body if any. */
const message = (line: string, headers = HOST, body = ''): string => `${line}\r\n${headers}\r\n${body}`;

interface Case {
  name: string;
  request: string;
  /** What the lab's three servers answer. */
  status: number;
  /** What nginx answers, where that is different (on purpose: see the README). */
  nginx?: number;
}

const CASES: Case[] = [
  { name: 'a plain GET', request: message('GET / HTTP/1.1'), status: 200 },
  // RFC 9110 §7.2: exactly one Host, and a valid one.
  { name: 'two Host lines', request: message('GET / HTTP/1.1', `${HOST}Host: other.lab.test\r\n`), status: 400 },
  { name: 'two Host lines that agree', request: message('GET / HTTP/1.1', `${HOST}${HOST}`), status: 400 },
  { name: 'a Host with a slash', request: message('GET / HTTP/1.1', 'Host: www.lab.test/x\r\n'), status: 400 },
  { name: 'a Host with a space', request: message('GET / HTTP/1.1', 'Host: www lab.test\r\n'), status: 400 },
  { name: 'a Host with an empty label', request: message('GET / HTTP/1.1', 'Host: www..lab.test\r\n'), status: 400 },
  { name: 'an empty Host', request: message('GET / HTTP/1.1', 'Host:\r\n'), status: 400 },
  { name: 'a Host with user info', request: message('GET / HTTP/1.1', 'Host: user@www.lab.test\r\n'), status: 400, nginx: 200 },
  { name: 'a Host whose port is not a number', request: message('GET / HTTP/1.1', 'Host: www.lab.test:http\r\n'), status: 400, nginx: 200 },
  { name: 'a Host with a backslash', request: message('GET / HTTP/1.1', 'Host: www\\lab.test\r\n'), status: 400, nginx: 200 },
  { name: 'a Host with a port', request: message('GET / HTTP/1.1', 'Host: www.lab.test:8080\r\n'), status: 200 },
  { name: 'a Host that is an IPv6 address', request: message('GET / HTTP/1.1', 'Host: [::1]:8080\r\n'), status: 200 },
  { name: 'no Host in HTTP/1.1', request: message('GET / HTTP/1.1', ''), status: 400 },
  { name: 'no Host in HTTP/1.0', request: message('GET / HTTP/1.0', ''), status: 200 },
  // RFC 9112 §6.1: chunked is the one transfer coding a server must read.
  { name: 'Transfer-Encoding: gzip, chunked', request: message('POST / HTTP/1.1', `${HOST}Transfer-Encoding: gzip, chunked\r\n`, '0\r\n\r\n'), status: 501 },
  { name: 'Transfer-Encoding: gzip', request: message('POST / HTTP/1.1', `${HOST}Transfer-Encoding: gzip\r\n`), status: 501 },
  { name: 'Transfer-Encoding: identity', request: message('POST / HTTP/1.1', `${HOST}Transfer-Encoding: identity\r\n`), status: 501 },
  { name: 'Transfer-Encoding: chunked, chunked', request: message('POST / HTTP/1.1', `${HOST}Transfer-Encoding: chunked, chunked\r\n`, '0\r\n\r\n'), status: 501 },
  { name: 'Transfer-Encoding and Content-Length', request: message('POST / HTTP/1.1', `${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n`, '0\r\n\r\n'), status: 400 },
  { name: 'Transfer-Encoding in HTTP/1.0', request: message('POST / HTTP/1.0', 'Transfer-Encoding: chunked\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'two different Content-Lengths', request: message('POST / HTTP/1.1', `${HOST}Content-Length: 1\r\nContent-Length: 2\r\n`, 'ab'), status: 400 },
  // RFC 9110 §9.1: a method the server does not know is 501.
  { name: 'the method FOO', request: message('FOO / HTTP/1.1'), status: 501, nginx: 405 },
  { name: 'the method get (methods are case-sensitive)', request: message('get / HTTP/1.1'), status: 501, nginx: 400 },
  { name: 'CONNECT (a tunnel request)', request: message('CONNECT www.lab.test:443 HTTP/1.1', 'Host: www.lab.test:443\r\n'), status: 501, nginx: 400 },
  // RFC 9110 §2.5: HTTP/1.x is read as 1.1; another major version is 505.
  { name: 'HTTP/1.2', request: message('GET / HTTP/1.2'), status: 200 },
  { name: 'HTTP/1.9', request: message('GET / HTTP/1.9'), status: 200 },
  { name: 'HTTP/2.0 in a request line', request: message('GET / HTTP/2.0'), status: 505 },
  { name: 'HTTP/3.0 in a request line', request: message('GET / HTTP/3.0'), status: 505 },
  { name: "HTTP/2's connection preface (curl --http2-prior-knowledge)", request: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 505, nginx: 400 },
  { name: 'HTTP/0.9 in a request line', request: message('GET / HTTP/0.9'), status: 400 },
  { name: 'HTTP/10.0 (one digit each, RFC 9112 §2.3)', request: message('GET / HTTP/10.0'), status: 400, nginx: 505 },
  // RFC 9110 §15.5.15: a request target over the limit is 414; header fields over it are 431.
  { name: 'a 10 KB request target', request: message(`GET /${'a'.repeat(10_000)} HTTP/1.1`), status: 414 },
  { name: 'a 20 KB request target', request: message(`GET /${'a'.repeat(20_000)} HTTP/1.1`), status: 414 },
  { name: 'a 20 KB header field', request: message('GET / HTTP/1.1', `${HOST}X-Big: ${'b'.repeat(20_000)}\r\n`), status: 431, nginx: 400 },
  // Not HTTP.
  { name: 'a line that is not a request', request: 'HELLO\r\n\r\n', status: 400 },
  { name: 'a header line folded onto two (obs-fold)', request: message('GET / HTTP/1.1', `${HOST}X-A: 1\r\n 2\r\n`), status: 400 },
  { name: 'a space before the colon', request: message('GET / HTTP/1.1', 'Host : www.lab.test\r\n'), status: 400 },
];

let nginx: Nginx;
let www: RunningServer;
let shop: ShopLab;
const ports = (): Record<'http' | 'proxy' | 'app', number> => ({ http: www.port, proxy: shop.proxyPort, app: shop.app.port });

beforeAll(async () => {
  [nginx, www, shop] = await Promise.all([startNginx({ root: WWW }), startServer(), ShopLab.start()]);
});
afterAll(async () => {
  await Promise.all([nginx?.stop(), www?.stop(), shop?.stop()]);
});

describe.each(CASES)('$name', ({ request, status, nginx: nginxStatus }) => {
  test(`nginx answers ${nginxStatus ?? status}`, async () => {
    expect((await firstResponse(nginx.port, request)).status).toBe(nginxStatus ?? status);
  });

  test.each(['http', 'proxy', 'app'] as const)(`%s answers ${status}`, async (service) => {
    const res = await firstResponse(ports()[service], request);
    expect(res.status).toBe(status);
    // Refused with a sentence that says why, never an empty page; then the connection
    // closes, as nginx closes it: what follows a broken request cannot be trusted.
    if (status >= 400) {
      expect(Number(res.headers['content-length'])).toBeGreaterThan(40);
      expect(res.headers.connection).toBe('close');
    }
  });
});

test('after all that, each server still serves', async () => {
  await expectAlive(www.port);
  expect((await request(shop.proxyPort, { path: '/health' })).status).toBe(200);
  expect((await request(shop.app.port, { path: '/health' })).status).toBe(200);
});

describe('with real clients', () => {
  test.each(['http', 'proxy', 'app'] as const)('%s: curl asking it for a tunnel (CONNECT, curl -p -x) gets 501 that says why', async (service) => {
    // `--noproxy ''` undoes the harness's `--noproxy *`; the tunnel's far end is a loopback address all the same.
    const result = await curl('-v', '--noproxy', '', '-p', '-x', `http://127.0.0.1:${ports()[service]}`, 'http://127.0.0.2:9/');
    expect(result.stderr).toContain('> CONNECT 127.0.0.2:9 HTTP/1.1');
    expect(result.stderr).toContain('< HTTP/1.1 501 Not Implemented');
    expect(result.stderr).toContain('CONNECT tunnel failed, response 501');
  });

  test.each(['http', 'proxy', 'app'] as const)('%s: curl -X FOO gets 501 naming the method; curl with a 20 KB URL gets 414', async (service) => {
    const base = `http://127.0.0.1:${ports()[service]}`;
    const foo = await curl('-i', '-X', 'FOO', `${base}/`);
    expect(foo.stdout).toMatch(/^HTTP\/1\.1 501 Not Implemented\r\n/);
    expect(foo.stdout).toContain('does not implement the method FOO');
    const long = await curl('-i', `${base}/${'a'.repeat(20_000)}`);
    expect(long.stdout).toMatch(/^HTTP\/1\.1 414 URI Too Long\r\n/);
    expect(long.stdout).toContain('at most 8192 bytes');
  });

  test('the log line of a refused request shows its request line and why', async () => {
    await firstResponse(www.port, message('FOO /x HTTP/1.1'));
    await www.logs.waitFor(/info 127\.0\.0\.1 - - \[.+\] "FOO \/x HTTP\/1\.1" 501 \d+ conn=c\d+ error=HPE_INVALID_METHOD$/);
    await firstResponse(www.port, message('GET / HTTP/1.1', `${HOST}${HOST}`));
    await www.logs.waitFor(/warn request refused conn=c\d+ status=400 reason=".*2 Host header lines/);
  });
});

describe('maxTargetBytes: a named limit on the request target', () => {
  test.each(['http', 'proxy', 'app'] as const)('%s with maxTargetBytes 100: 100 bytes pass, 101 get 414', async (service) => {
    const options = { maxTargetBytes: 100 };
    const port =
      service === 'http'
        ? (await own(startServer(options))).port
        : service === 'proxy'
          ? (await shop.proxyWith(options)).port
          : (await own(startApp(options).then((app) => ({ port: app.port, stop: () => app.server.close() })))).port;
    const at = (length: number): string => message(`GET /health?${'a'.repeat(length - '/health?'.length)} HTTP/1.1`);
    expect((await firstResponse(port, at(100))).status).not.toBe(414);
    const res = await firstResponse(port, at(101));
    expect(res.status).toBe(414);
    expect(res.body).toContain('101 bytes long; this server reads at most 100 bytes');
  });
});

const owned: { stop(): Promise<void> }[] = [];
async function own<T extends { stop(): Promise<void> }>(starting: Promise<T>): Promise<T> {
  const thing = await starting;
  owned.push(thing);
  return thing;
}
afterAll(async () => {
  await Promise.all(owned.map((o) => o.stop()));
});
