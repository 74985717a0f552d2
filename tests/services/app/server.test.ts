/**
 * app.lab.test on its own: every route with real clients (curl and node:http), the
 * /slow cap and its bad values, keep-alive, each option, and the log line.
 */
import http from 'node:http';
import os from 'node:os';
import { APP_SERVER_DEFAULTS, AppServer } from '../../../services/app/server';
import { PRODUCTS } from '../../../services/app/routes';
import { createLogger } from '../../../services/common/logger';
import { within } from '../../helpers/wait';
import { curl, echoInTwoPieces, keepAliveAgent, parseResponse, RawClient, request, startApp, type RunningApp } from '../proxy/harness';

let app: RunningApp;
const extra: AppServer[] = [];

beforeEach(async () => {
  app = await startApp();
});

afterEach(async () => {
  await Promise.all([app.server.close(), ...extra.splice(0).map((s) => s.close())]);
});

const url = (path: string, port = app.port): string => `http://127.0.0.1:${port}${path}`;

describe('routes', () => {
  test('GET / is the Lab Shop page, naming the host, pid and uptime that served it', async () => {
    const result = await curl('-i', url('/'));
    const res = parseResponse(result.stdout);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<title>Lab Shop</title>');
    expect(res.body).toMatch(new RegExp(`<h1>Lab Shop, served by ${os.hostname().replace(/[.]/g, '\\.')} \\(pid ${process.pid}, up \\d+ s\\)</h1>`));
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
  });

  test('GET /api/products is the JSON list', async () => {
    const res = await request(app.port, { path: '/api/products' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body.toString())).toEqual(PRODUCTS);
  });

  test('GET /health is 200 ok', async () => {
    const result = await curl('-i', url('/health'));
    const res = parseResponse(result.stdout);
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok\n');
  });

  test('GET /headers echoes the request headers as JSON, with the client as the app sees it', async () => {
    const res = await request(app.port, { path: '/headers?x=1', headers: { 'X-Forwarded-For': '203.0.113.9', 'X-Custom': 'two' } });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body.toString());
    expect(body).toMatchObject({ method: 'GET', target: '/headers?x=1', httpVersion: '1.1', client: '127.0.0.1' });
    expect(body.headers).toMatchObject({ 'x-forwarded-for': '203.0.113.9', 'x-custom': 'two', host: `127.0.0.1:${app.port}` });
  });

  test('GET /slow?ms=N answers after N ms (the server\'s own timer; no sleep here)', async () => {
    const res = await request(app.port, { path: '/slow?ms=30' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('answered after 30 ms\n');
  });

  test('GET /drip?ms=N sends the status and a first line at once, the rest later, chunked', async () => {
    const got = await within(
      new Promise<{ first: string; all: string; te: string | undefined }>((resolve, reject) => {
        http
          .get(url('/drip?ms=20'), (res) => {
            let all = '';
            let first: string | undefined;
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              first ??= chunk;
              all += chunk;
            });
            res.on('end', () => resolve({ first: first!, all, te: res.headers['transfer-encoding'] }));
          })
          .on('error', reject);
      }),
      'the whole /drip response',
    );
    expect(got.te).toBe('chunked');
    expect(got.first).toBe('started; the rest follows in 20 ms\n');
    expect(got.all).toBe('started; the rest follows in 20 ms\ndone after 20 ms\n');
  });

  test('POST /echo streams the body back as it arrives', async () => {
    const result = await curl('-i', '--data-binary', 'hello, app', url('/echo'));
    const res = parseResponse(result.stdout);
    expect(res.status).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toBe('hello, app');

    // The first piece comes back before the second is sent: streamed, not buffered.
    const echoed = await echoInTwoPieces(app.port, 'first ', 'second');
    expect(echoed).toBe('first second');
  });

  test('HEAD gets the GET headers without a body; OPTIONS lists the methods', async () => {
    const head = parseResponse((await curl('-I', url('/api/products'))).stdout);
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(JSON.stringify(PRODUCTS, null, 2).length + 1);
    expect(head.body).toBe('');
    const options = parseResponse((await curl('-i', '-X', 'OPTIONS', url('/slow'))).stdout);
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, OPTIONS, TRACE');
  });

  test('an unknown path is 404 naming the routes; a wrong method is 405 with Allow', async () => {
    const missing = parseResponse((await curl('-i', url('/nothing'))).stdout);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('nothing here answers /nothing');
    expect(missing.body).toContain('/api/products');
    const wrong = parseResponse((await curl('-i', '-X', 'DELETE', url('/health'))).stdout);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD, OPTIONS, TRACE');
    const post = parseResponse((await curl('-i', '--data', 'x=1', url('/headers'))).stdout);
    expect(post.status).toBe(405);
    // The POST body was never read: the connection closes after the answer.
    expect(post.headers.connection).toBe('close');
  });
});

describe('/slow: the cap and bad values', () => {
  test.each([
    ['/slow', 'say how long to wait, in milliseconds: /slow?ms=2000 (at most 30000)'],
    ['/slow?ms=', 'ms must be a whole number of milliseconds, not ""'],
    ['/slow?ms=abc', 'ms must be a whole number of milliseconds, not "abc"'],
    ['/slow?ms=-5', 'ms must be a whole number of milliseconds, not "-5"'],
    ['/slow?ms=1.5', 'ms must be a whole number of milliseconds, not "1.5"'],
    ['/slow?ms=1e3', 'ms must be a whole number of milliseconds, not "1e3"'],
    ['/slow?ms=30001', "ms may be at most 30000 (this app's maxSlowMs), not 30001"],
    ['/slow?ms=99999999999', 'ms must be a whole number of milliseconds, not "99999999999"'],
    ['/drip?ms=30001', "ms may be at most 30000 (this app's maxSlowMs), not 30001"],
  ])('%s is 400: %s', async (path, message) => {
    const res = parseResponse((await curl('-i', url(path))).stdout);
    expect(res.status).toBe(400);
    expect(res.body).toBe(`400 Bad Request\n\n${message}\n`);
  });

  test('maxSlowMs sets the cap: at the cap is fine, one more is 400', async () => {
    const small = await startApp({ maxSlowMs: 20 });
    extra.push(small.server);
    expect((await request(small.port, { path: '/slow?ms=20' })).status).toBe(200);
    const over = await request(small.port, { path: '/slow?ms=21' });
    expect(over.status).toBe(400);
    expect(over.body.toString()).toContain("ms may be at most 20 (this app's maxSlowMs)");
    // maxSlowMs 0: no waiting at all, but ms=0 still answers.
    const none = await startApp({ maxSlowMs: 0 });
    extra.push(none.server);
    expect((await request(none.port, { path: '/slow?ms=0' })).status).toBe(200);
    expect((await request(none.port, { path: '/slow?ms=1' })).status).toBe(400);
  });

  test('a client that gives up on /slow (resets the connection) ends the wait: the log line shows no status', async () => {
    const client = await RawClient.connect(app.port);
    client.write('GET /slow?ms=30000 HTTP/1.1\r\nHost: app.lab.test\r\n\r\n');
    await app.logs.waitFor(/debug request conn=c\d+ method=GET target="\/slow/);
    // A reset: a FIN alone would be a half-close, after which the client still waits for its answer.
    client.socket.resetAndDestroy();
    const [line] = await app.logs.waitFor(/"GET \/slow\?ms=30000 HTTP\/1\.1"/);
    expect(line).toMatch(/"GET \/slow\?ms=30000 HTTP\/1\.1" - - conn=c\d+ incomplete=true$/);
  });
});

describe('keep-alive and the other limits', () => {
  test('requests share one connection (keep-alive), also after a 404 and a 400', async () => {
    const agent = keepAliveAgent();
    try {
      const first = await request(app.port, { path: '/health', agent });
      const second = await request(app.port, { path: '/nothing', agent });
      const third = await request(app.port, { path: '/slow?ms=x', agent });
      const fourth = await request(app.port, { path: '/api/products', agent });
      expect([first.status, second.status, third.status, fourth.status]).toEqual([200, 404, 400, 200]);
      expect([second.reusedSocket, third.reusedSocket, fourth.reusedSocket]).toEqual([true, true, true]);
      expect(first.headers['keep-alive']).toBe(`timeout=${APP_SERVER_DEFAULTS.keepAliveTimeoutMs / 1000}`);
    } finally {
      agent.destroy();
    }
  });

  test('keepAliveTimeoutMs: the idle connection is closed by the server after it, and announced', async () => {
    const short = await startApp({ keepAliveTimeoutMs: 1000 });
    extra.push(short.server);
    const client = await RawClient.connect(short.port);
    client.write('GET /health HTTP/1.1\r\nHost: app.lab.test\r\n\r\n');
    const [res] = await client.responses(1);
    expect(res!.headers['keep-alive']).toBe('timeout=1');
    // No request follows: the server's timer closes the connection (the test only waits for it).
    const all = await client.rest();
    expect(all.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  test('headersTimeoutMs: a request head that never ends gets 408 and the connection closes', async () => {
    const slow = await startApp({ headersTimeoutMs: 200 });
    extra.push(slow.server);
    const client = await RawClient.connect(slow.port);
    client.write('GET / HTTP/1.1\r\nHost: app.lab.test\r\n'); // no empty line: the head is not finished
    const text = await client.rest();
    const res = parseResponse(text);
    expect(res.status).toBe(408);
    expect(res.body).toContain('the headers must be complete within 200 ms');
    await slow.logs.waitFor(/"GET \/ HTTP\/1\.1" 408 \d+ conn=c\d+ error=ERR_HTTP_REQUEST_TIMEOUT/);
  });

  test('a malformed request gets 400 and a log line', async () => {
    const client = await RawClient.connect(app.port);
    client.write('THIS IS NOT HTTP\r\n\r\n');
    const res = parseResponse(await client.rest());
    expect(res.status).toBe(400);
    expect(res.body).toContain('not an HTTP request the app can read');
  });

  test('closeGraceMs: close() lets a request in flight finish within the grace, with Connection: close', async () => {
    const agent = keepAliveAgent();
    try {
      const pending = request(app.port, { path: '/slow?ms=100', agent });
      await app.logs.waitFor(/debug request conn=c\d+ method=GET target="\/slow/);
      const closed = app.server.close();
      const res = await pending;
      await closed;
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('answered after 100 ms\n');
      expect(res.headers.connection).toBe('close');
    } finally {
      agent.destroy();
    }
  });

  test('closeGraceMs 0: close() cuts a request in flight at once', async () => {
    const quick = await startApp({ closeGraceMs: 0 });
    const client = await RawClient.connect(quick.port);
    client.write('GET /slow?ms=30000 HTTP/1.1\r\nHost: app.lab.test\r\n\r\n');
    await quick.logs.waitFor(/debug request conn=c\d+ method=GET target="\/slow/);
    await quick.server.close();
    expect(await client.rest()).toBe('');
    await quick.logs.waitFor(/"GET \/slow\?ms=30000 HTTP\/1\.1" - - conn=c\d+ incomplete=true/);
  });

  test('options out of range stop the server at start, naming the option', () => {
    expect(() => new AppServer({ maxSlowMs: -1 })).toThrow('app: maxSlowMs must be a whole number, at least 0; got -1');
    expect(() => new AppServer({ keepAliveTimeoutMs: 0 })).toThrow('app: keepAliveTimeoutMs must be a whole number, at least 1; got 0');
    expect(() => new AppServer({ headersTimeoutMs: 1.5 })).toThrow('app: headersTimeoutMs must be a whole number, at least 1; got 1.5');
    expect(() => new AppServer({ closeGraceMs: -1 })).toThrow('app: closeGraceMs');
  });

  test('the defaults are the documented ones', () => {
    expect(APP_SERVER_DEFAULTS).toEqual({
      maxSlowMs: 30000,
      maxHeaderBytes: 16384,
      maxTargetBytes: 8192,
      headersTimeoutMs: 10000,
      requestTimeoutMs: 30000,
      keepAliveTimeoutMs: 5000,
      maxConnections: 1000,
      maxConnectionsPerAddress: 1000,
      closeGraceMs: 10000,
    });
  });

  test('a taken port is a PortInUseError naming the app', async () => {
    const second = new AppServer({ log: createLogger('app', { sink: () => {} }) });
    await expect(second.listen(app.port, '127.0.0.1')).rejects.toMatchObject({ name: 'PortInUseError', code: 'EADDRINUSE', service: 'app', port: app.port });
  });
});

describe('the log', () => {
  test('one common-log-format line per request, through the log option', async () => {
    await curl(url('/health'));
    await curl(url('/nothing'));
    const lines = await app.logs.waitFor(/ app info 127\.0\.0\.1 - - \[/, { count: 2 });
    expect(lines[0]).toMatch(/ app info 127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/health HTTP\/1\.1" 200 3 conn=c\d+$/);
    expect(lines[1]).toMatch(/"GET \/nothing HTTP\/1\.1" 404 \d+ conn=c\d+$/);
    expect(app.logs.lines.some((l) => / app info listening address=127\.0\.0\.1 port=\d+ hostname=\S+ pid=\d+$/.test(l))).toBe(true);
  });
});
