/**
 * shop.lab.test forwarding to app.lab.test, all real: the lab DNS, the app and the
 * proxy on 127.0.0.1, driven by curl and node:http. What the app received is read
 * from its /headers and /echo; what the proxy did on its second hop, from its log.
 */
import { createHash } from 'node:crypto';
import { writeFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseLogLine } from '../../../services/common/logger';
import { within } from '../../helpers/wait';
import {
  APP_ADDRESS,
  APP_PORT,
  curl,
  echoInTwoPieces,
  keepAliveAgent,
  parseResponse,
  RawClient,
  request,
  ScriptedUpstream,
  ShopLab,
  wireLines,
} from './harness';

let lab: ShopLab;

beforeEach(async () => {
  lab = await ShopLab.start();
});

afterEach(async () => {
  await lab.stop();
});

/** What the app saw, through the proxy: GET /headers. */
async function seenByApp(...curlArgs: string[]): Promise<{ client: string; httpVersion: string; headers: Record<string, string> }> {
  const result = await curl(...curlArgs, `${lab.base}/headers`);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('forwarding', () => {
  test('GET / through the proxy is the app\'s page, with the proxy in Via', async () => {
    const res = parseResponse((await curl('-i', '-H', 'Host: shop.lab.test', `${lab.base}/`)).stdout);
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>Lab Shop</title>');
    expect(res.body).toMatch(/<h1>Lab Shop, served by .+ \(pid \d+, up \d+ s\)<\/h1>/);
    expect(res.headers.via).toBe('1.1 shop.lab.test');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    expect(res.headers['x-proxy-error']).toBeUndefined();
  });

  test('the app sees X-Forwarded-For, -Proto, -Host and Via; its Host is its own name', async () => {
    const seen = await seenByApp('-H', 'Host: shop.lab.test');
    expect(seen.client).toBe('127.0.0.1'); // the proxy: that is why X-Forwarded-For exists
    expect(seen.headers).toMatchObject({
      host: 'app.lab.test:5000',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.lab.test',
      via: '1.1 shop.lab.test',
    });
    expect(seen.headers['user-agent']).toMatch(/^curl\//);
  });

  test('X-Forwarded-For and Via are appended to; a client\'s X-Forwarded-Proto and -Host are replaced', async () => {
    const seen = await seenByApp(
      '-H', 'Host: shop.lab.test',
      '-H', 'X-Forwarded-For: 203.0.113.7, 198.51.100.2',
      '-H', 'Via: 1.0 edge.example.test',
      '-H', 'X-Forwarded-Proto: https',
      '-H', 'X-Forwarded-Host: evil.example.test',
    );
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 198.51.100.2, 127.0.0.1');
    expect(seen.headers.via).toBe('1.0 edge.example.test, 1.1 shop.lab.test');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('shop.lab.test');
  });

  test('Via names the version the client spoke: 1.0 for an HTTP/1.0 request', async () => {
    const seen = await seenByApp('--http1.0', '-H', 'Host: shop.lab.test');
    expect(seen.headers.via).toBe('1.0 shop.lab.test');
    expect(seen.httpVersion).toBe('1.1'); // the proxy's own hop is HTTP/1.1
  });

  test('hop-by-hop request headers stay on the client\'s hop (RFC 9110 §7.6.1)', async () => {
    const seen = await seenByApp(
      '-H', 'Connection: keep-alive, X-Hop',
      '-H', 'X-Hop: only for the proxy',
      '-H', 'Keep-Alive: timeout=9',
      '-H', 'TE: trailers',
      '-H', 'Upgrade: example/1',
      '-H', 'Proxy-Authorization: Basic YWxpY2U6YWxpY2U=',
      '-H', 'Proxy-Connection: keep-alive',
      '-H', 'Proxy: http://attacker.example.test:3128',
      '-H', 'X-End-To-End: kept',
    );
    for (const name of ['x-hop', 'keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection', 'proxy']) {
      expect(seen.headers[name]).toBeUndefined();
    }
    expect(seen.headers['x-end-to-end']).toBe('kept');
    expect(seen.headers.connection).toBe('keep-alive'); // the proxy's own hop: kept open for its next request
  });

  test('hop-by-hop response headers stay on the app\'s hop; Via is appended', async () => {
    const scripted = lab.own(
      await ScriptedUpstream.start(
        'HTTP/1.1 200 OK\r\nConnection: close, X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=1\r\n' +
          'Proxy-Authenticate: Basic realm="app"\r\nTrailer: X-Checksum\r\nUpgrade: example/1\r\n' +
          'Via: 1.1 cache.lab.test\r\nX-End-To-End: kept\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 3\r\n\r\nhi\n',
      ),
    );
    lab.routes.set(`${APP_ADDRESS}:${APP_PORT}`, scripted.port);
    const agent = keepAliveAgent();
    try {
      const res = await request(lab.proxyPort, { path: '/', agent });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('hi\n');
      for (const name of ['x-internal', 'proxy-authenticate', 'trailer', 'upgrade']) expect(res.headers[name]).toBeUndefined();
      expect(res.headers['x-end-to-end']).toBe('kept');
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(res.headers.via).toBe('1.1 cache.lab.test, 1.1 shop.lab.test');
      // The app's "Connection: close" and "Keep-Alive: timeout=1" were about its own hop:
      // the client's connection stays open, on the proxy's own keep-alive terms.
      expect(res.headers.connection).toBe('keep-alive');
      expect(res.headers['keep-alive']).toBe('timeout=5');
      const again = await request(lab.proxyPort, { path: '/', agent });
      expect(again.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
    // What the stand-in app received: the proxy's request, head only.
    expect(scripted.received[0]).toMatch(/^GET \/ HTTP\/1\.1\r\nHost: app\.lab\.test:5000\r\n/);
  });

  test('a client keeps its connection across requests, though the app closes each of its own', async () => {
    const agent = keepAliveAgent();
    try {
      const statuses: number[] = [];
      const reused: boolean[] = [];
      for (const p of ['/', '/api/products', '/nothing', '/health']) {
        const res = await request(lab.proxyPort, { path: p, agent });
        statuses.push(res.status);
        reused.push(res.reusedSocket);
        expect(res.headers.connection).toBe('keep-alive');
      }
      expect(statuses).toEqual([200, 200, 404, 200]);
      expect(reused).toEqual([false, true, true, true]);
    } finally {
      agent.destroy();
    }
  });

  test('HEAD goes through: the headers of GET, no body', async () => {
    const res = parseResponse((await curl('-I', `${lab.base}/api/products`)).stdout);
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.body).toBe('');
  });

  test('the app\'s own errors (404, 405 with Allow) pass through unchanged', async () => {
    const missing = parseResponse((await curl('-i', `${lab.base}/nothing`)).stdout);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('nothing here answers /nothing');
    expect(missing.headers['x-proxy-error']).toBeUndefined();
    const wrong = parseResponse((await curl('-i', '-X', 'DELETE', `${lab.base}/health`)).stdout);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD, OPTIONS, TRACE');
  });

  test('an absolute URL (a forward-proxy request) is refused with 400, and never forwarded', async () => {
    const client = await RawClient.connect(lab.proxyPort);
    client.write('GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
    const res = parseResponse(await client.rest());
    expect(res.status).toBe(400);
    expect(res.headers['x-proxy-error']).toBe('bad-target');
    expect(res.body).toContain('it is a reverse proxy, not a forward proxy');
    expect(wireLines(lab.proxyLogs)).toEqual([]);
  });
});

describe('bodies', () => {
  test('a POST body streams through both ways: the first piece comes back before the second is sent', async () => {
    const echoed = await echoInTwoPieces(lab.proxyPort, 'first piece, ', 'second piece');
    expect(echoed).toBe('first piece, second piece');
  });

  test('a large body (with Content-Length, and chunked) arrives at the app byte for byte', async () => {
    const file = path.join(os.tmpdir(), `wirelab-proxy-body-${process.pid}-${Date.now()}.bin`);
    const bytes = Buffer.alloc(700 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 10)) & 0xff;
    await writeFile(file, bytes);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    try {
      for (const extra of [[], ['-H', 'Transfer-Encoding: chunked']]) {
        const result = await curl('--data-binary', `@${file}`, '-H', 'Expect:', ...extra, `${lab.base}/echo`);
        expect(result.code).toBe(0);
        expect(sha(Buffer.from(result.stdout, 'latin1'))).toBe(sha(bytes));
      }
    } finally {
      await rm(file, { force: true });
    }
  });

  test('Expect: 100-continue goes to the app, and its 100 Continue comes back before the body is sent', async () => {
    const client = await RawClient.connect(lab.proxyPort);
    client.write('POST /echo HTTP/1.1\r\nHost: shop.lab.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    client.write('hello');
    const text = await client.rest();
    const res = parseResponse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
  });

  test('a body over maxBodyBytes, by its Content-Length: 413 at once, the app never asked', async () => {
    const small = await lab.proxyWith({ maxBodyBytes: 1000 });
    const result = await curl('-i', '-H', 'Expect:', '--data-binary', 'x'.repeat(5000), `http://127.0.0.1:${small.port}/echo`);
    const res = parseResponse(result.stdout);
    expect(res.status).toBe(413);
    expect(res.headers['x-proxy-error']).toBe('body-too-large');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.connection).toBe('close');
    expect(res.body).toContain('<h1>413 Payload Too Large</h1>');
    expect(res.body).toContain('The request body is larger than the proxy shop.lab.test accepts (1000 bytes)');
    const [line] = await small.logs.waitFor(/"POST \/echo HTTP\/1\.1" 413/);
    expect(line).not.toContain('upstream=');
    expect(wireLines(small.logs)).toEqual([]);

    // With Expect: 100-continue the client is told before it uploads anything.
    const client = await RawClient.connect(small.port);
    client.write('POST /echo HTTP/1.1\r\nHost: shop.lab.test\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
    const refused = parseResponse(await client.rest());
    expect(refused.status).toBe(413);
  });

  test('a chunked body that grows past maxBodyBytes: 413, and the request to the app is abandoned', async () => {
    const silent = lab.own(await ScriptedUpstream.start()); // reads, never answers
    lab.routes.set(`${APP_ADDRESS}:${APP_PORT}`, silent.port);
    const small = await lab.proxyWith({ maxBodyBytes: 1000 });
    const res = await within(
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: small.port, method: 'POST', path: '/echo', agent: false }, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
        });
        req.on('error', reject);
        req.write('a'.repeat(600));
        req.write('b'.repeat(600));
      }),
      'the answer to a body that grows past maxBodyBytes',
    );
    expect(res.status).toBe(413);
    expect(res.headers['x-proxy-error']).toBe('body-too-large');
    await silent.closed(1);
    await small.logs.waitFor(/"POST \/echo HTTP\/1\.1" 413 \d+ conn=c\d+ upstream=172\.28\.0\.82:5000 error=body-too-large/);
  });
});

describe('the log', () => {
  test('wire lines show the lookup in the lab DNS and the second hop, request and response', async () => {
    const res = await request(lab.proxyPort, { path: '/slow?ms=10' });
    expect(res.status).toBe(200);
    await lab.proxyLogs.waitFor(/"GET \/slow\?ms=10 HTTP\/1\.1" 200/);
    expect(wireLines(lab.proxyLogs)).toEqual([
      { kind: 'send', proto: 'dns', from: 'shop.lab.test', to: 'ns.lab.test:53', summary: 'A? app.lab.test' },
      { kind: 'recv', proto: 'dns', from: 'ns.lab.test:53', to: 'shop.lab.test', summary: 'NOERROR app.lab.test A 172.28.0.82' },
      { kind: 'send', proto: 'http', from: 'shop.lab.test', to: 'app.lab.test:5000', summary: 'GET /slow?ms=10 HTTP/1.1' },
      { kind: 'recv', proto: 'http', from: 'app.lab.test:5000', to: 'shop.lab.test', summary: '200 OK' },
    ]);
  });

  test('one common-log-format line per request, with the upstream outcome', async () => {
    await curl(`${lab.base}/health`);
    await curl(`${lab.base}/nothing`);
    const lines = await lab.proxyLogs.waitFor(/ proxy info 127\.0\.0\.1 - - \[/, { count: 2 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\S+ proxy info 127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/health HTTP\/1\.1" 200 3 conn=c\d+ upstream=172\.28\.0\.82:5000 status=200 ms=\d+$/,
    );
    expect(lines[1]).toMatch(/"GET \/nothing HTTP\/1\.1" 404 \d+ conn=c\d+ upstream=172\.28\.0\.82:5000 status=404 ms=\d+$/);
    // The app logged the same requests, as coming from the proxy.
    await lab.app.logs.waitFor(/ app info 127\.0\.0\.1 - - \[.*"GET \/nothing HTTP\/1\.1" 404/);
    expect(parseLogLine(lab.proxyLogs.lines.find((l) => / wire /.test(l))!)?.service).toBe('proxy');
  });
});

describe('options', () => {
  test('upstream as an IP address: no DNS lookup at all', async () => {
    const direct = await lab.proxyWith({ upstream: { host: APP_ADDRESS, port: APP_PORT } });
    lab.dnsPort = 9; // nothing answers there: a lookup would fail
    const res = await request(direct.port, { path: '/health' });
    expect(res.status).toBe(200);
    await direct.logs.waitFor(/"GET \/health HTTP\/1\.1" 200/);
    expect(wireLines(direct.logs).map((w) => w.proto)).toEqual(['http', 'http']);
  });

  test('via names the proxy in Via, wire lines and pages', async () => {
    const edge = await lab.proxyWith({ via: 'edge.lab.test' });
    const res = await request(edge.port, { path: '/headers' });
    expect(JSON.parse(res.body.toString()).headers.via).toBe('1.1 edge.lab.test');
    expect(res.headers.via).toBe('1.1 edge.lab.test');
    await edge.logs.waitFor(/"GET \/headers HTTP\/1\.1" 200/);
    expect(wireLines(edge.logs).every((w) => w.from === 'edge.lab.test' || w.to === 'edge.lab.test')).toBe(true);
  });
});
