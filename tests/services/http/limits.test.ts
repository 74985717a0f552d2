import { rm } from 'node:fs/promises';
import { createLogger, silentSink } from '../../../services/common/logger';
import { PortInUseError } from '../../../services/common/listen';
import { HTTP_SERVER_DEFAULTS, HttpServer } from '../../../services/http/server';
import { expectAlive, parseResponse, parseResponses, raw, RawClient, request, startServer, tempDir, type RunningServer } from './harness';

/**
 * Every limit option, with its default and an override. Slow clients are raw
 * sockets that stop mid-request; the tests wait for the server's answer or for
 * the socket to close, never for a clock.
 */
const quiet = () => createLogger('http', { sink: silentSink });
const headerOf = (bytes: number) => `X-Filler: ${'a'.repeat(bytes)}\r\n`;
const get = (extra = '', target = '/hello.txt') => `GET ${target} HTTP/1.1\r\nHost: www.lab.test\r\n${extra}Connection: close\r\n\r\n`;

const servers: RunningServer[] = [];
async function start(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const server = await startServer(options);
  servers.push(server);
  return server;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

test('the documented defaults', () => {
  expect(HTTP_SERVER_DEFAULTS).toEqual({
    authFailureDelayMs: 1000,
    maxAuthFailuresPerAddress: 10,
    authCooldownMs: 60000,
    maxHeaderBytes: 16 * 1024,
    maxTargetBytes: 8 * 1024,
    maxBodyBytes: 64 * 1024,
    maxRanges: 16,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 1000,
    maxConnectionsPerAddress: 32,
    tokenTtlSeconds: 3600,
    closeGraceMs: 10000,
    fileCacheBytes: 16 * 1024 * 1024,
  });
});

test.each([
  [{ maxBodyBytes: -1 }, /http: maxBodyBytes must be a whole number, at least 1; got -1/],
  [{ maxHeaderBytes: 1.5 }, /maxHeaderBytes/],
  [{ maxConnections: 0 }, /maxConnections/],
  [{ tokenTtlSeconds: Number.NaN }, /tokenTtlSeconds/],
  [{ fileCacheBytes: -1 }, /http: fileCacheBytes must be a whole number, at least 0; got -1/],
  [{ headersTimeoutMs: 5000, requestTimeoutMs: 1000 }, /headersTimeoutMs \(5000\) must not exceed requestTimeoutMs \(1000\)/],
])('bad options are refused: %p', (options, message) => {
  expect(() => new HttpServer({ ...options, log: quiet() })).toThrow(message);
});

describe('maxHeaderBytes -> 431', () => {
  test('default 16 KiB: a 10 KB header passes, a 20 KB header is 431, and the server goes on', async () => {
    const lab = await start();
    expect(parseResponse(await raw(lab.port, get(headerOf(10_000)))).status).toBe(200);
    const res = parseResponse(await raw(lab.port, get(headerOf(20_000))));
    expect(res.status).toBe(431);
    expect(res.headers['connection']).toBe('close');
    expect(res.body).toContain('16384 bytes');
    await expectAlive(lab.port);
    await lab.logs.waitFor(/ http info .*"GET \/hello\.txt HTTP\/1\.1" 431 \d+(?: |$)/);
  });

  test('maxHeaderBytes: 2048 -> a 4 KB header is 431, 1 KB passes', async () => {
    const lab = await start({ maxHeaderBytes: 2048 });
    expect(parseResponse(await raw(lab.port, get(headerOf(1000)))).status).toBe(200);
    const res = parseResponse(await raw(lab.port, get(headerOf(4000))));
    expect(res.status).toBe(431);
    expect(res.body).toContain('2048 bytes');
    await expectAlive(lab.port);
  });
});

describe('maxBodyBytes -> 413', () => {
  test('default 64 KiB: a declared Content-Length of 70000 is refused before a byte of the body is sent', async () => {
    const lab = await start();
    const client = await RawClient.connect(lab.port);
    client.write('POST /inspect HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n'); // and no body
    const res = parseResponse(await client.rest());
    expect(res.status).toBe(413);
    expect(res.body).toContain('65536 bytes');
    expect(res.headers['connection']).toBe('close');
    const exact = await request(lab.port, { method: 'POST', path: '/inspect', body: Buffer.alloc(65536, 'a') });
    expect(exact.status).toBe(200);
    await expectAlive(lab.port);
  });

  test('maxBodyBytes: 1000 -> a chunked body is refused as soon as it passes 1000 bytes, while still streaming', async () => {
    const lab = await start({ maxBodyBytes: 1000 });
    const client = await RawClient.connect(lab.port);
    client.write('POST /inspect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    client.write(`3e9\r\n${'b'.repeat(1001)}\r\n`); // 1001 bytes, and the body never ends (no 0 chunk)
    const res = parseResponse(await client.waitFor(/\r\n\r\n[\s\S]*bytes\)\n/));
    expect(res.status).toBe(413);
    expect(res.body).toContain('1000 bytes');
    await client.rest();
    expect((await request(lab.port, { method: 'POST', path: '/inspect', body: Buffer.alloc(1000, 'c') })).status).toBe(200);
    expect((await request(lab.port, { method: 'POST', path: '/inspect', body: Buffer.alloc(1001, 'c') })).status).toBe(413);
    await expectAlive(lab.port);
  });

  test('Expect: 100-continue: too large is 413 without 100; wanted bodies get 100 Continue first', async () => {
    const lab = await start({ maxBodyBytes: 1000 });
    const refused = await raw(lab.port, 'POST /inspect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n');
    expect(refused).not.toContain('100 Continue');
    expect(parseResponse(refused).status).toBe(413);

    const client = await RawClient.connect(lab.port);
    client.write('POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 15\r\nConnection: close\r\n\r\n');
    await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    client.write('{"title":"100"}');
    const answers = parseResponses((await client.rest()).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''));
    expect(answers[0]!.status).toBe(201);
  });

  test('Expect: 100-continue with the wrong Content-Type: 415 at once, the body is never asked for', async () => {
    const lab = await start();
    const text = await raw(lab.port, 'POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: 15\r\n\r\n');
    expect(text).not.toContain('100 Continue');
    expect(parseResponse(text).status).toBe(415);
  });
});

describe('headersTimeoutMs and requestTimeoutMs -> 408', () => {
  test('headers that never end get 408 and the connection closes (slowloris)', async () => {
    const lab = await start({ headersTimeoutMs: 100, requestTimeoutMs: 5000 });
    const client = await RawClient.connect(lab.port);
    client.write('GET / HTTP/1.1\r\nHost: www.lab.test\r\nX-Slow: '); // ... and nothing more
    const res = parseResponse(await client.rest());
    expect(res.status).toBe(408);
    expect(res.body).toContain('100 ms');
    await expectAlive(lab.port);
    await lab.logs.waitFor(/ http info .*"GET \/ HTTP\/1\.1" 408 \d+(?: |$)/);
  });

  test('a body that never ends gets 408 after requestTimeoutMs, logged against its request', async () => {
    const lab = await start({ headersTimeoutMs: 50, requestTimeoutMs: 150 });
    const client = await RawClient.connect(lab.port);
    client.write('POST /inspect HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'); // 3 of 10 bytes
    const res = parseResponse(await client.rest());
    expect(res.status).toBe(408);
    expect(res.body).toContain('150 ms');
    await lab.logs.waitFor(/ http info .*"POST \/inspect HTTP\/1\.1" 408 -(?: |$)/);
    await expectAlive(lab.port);
  });

  test('a connection that sends nothing at all is closed too', async () => {
    const lab = await start({ headersTimeoutMs: 100, requestTimeoutMs: 100 });
    const client = await RawClient.connect(lab.port);
    await client.rest();
    await expectAlive(lab.port);
  });
});

describe('keepAliveTimeoutMs', () => {
  test('default 5 s, announced as Keep-Alive: timeout=5', async () => {
    const lab = await start();
    const res = await request(lab.port, { path: '/hello.txt', headers: { Connection: 'keep-alive' } });
    expect(res.headers['keep-alive']).toBe('timeout=5');
  });

  test('keepAliveTimeoutMs: 3000 is announced as timeout=3', async () => {
    const lab = await start({ keepAliveTimeoutMs: 3000 });
    const res = await request(lab.port, { path: '/hello.txt', headers: { Connection: 'keep-alive' } });
    expect(res.headers['keep-alive']).toBe('timeout=3');
  });

  test('an idle keep-alive connection is closed by the server after keepAliveTimeoutMs', async () => {
    const lab = await start({ keepAliveTimeoutMs: 100 });
    const client = await RawClient.connect(lab.port);
    client.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n'); // keep-alive: the HTTP/1.1 default
    const [first] = await client.responses(1);
    expect(first!.status).toBe(200);
    expect(first!.headers['connection']).toBe('keep-alive');
    const all = parseResponses(await client.rest()); // the server hangs up; we send nothing more
    expect(all).toHaveLength(1);
  });
});

describe('maxConnections', () => {
  test('maxConnections: 1 -> a second connection is dropped; once the first is gone, a new one works', async () => {
    const lab = await start({ maxConnections: 1 });
    const first = await RawClient.connect(lab.port);
    first.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await first.responses(1))[0]!.status).toBe(200); // the server now holds this connection open

    const second = await RawClient.connect(lab.port);
    second.write(get());
    expect(await second.rest()).toBe(''); // closed without a word
    await lab.logs.waitFor(/warn too many connections: refused one .*maxConnections=1/);

    const [opened] = await lab.logs.waitFor(new RegExp(`connection opened conn=(c\\d+) client=127\\.0\\.0\\.1:${first.socket.localPort}`));
    const conn = /conn=(c\d+)/.exec(opened)![1]!;
    first.destroy();
    await lab.logs.waitFor(new RegExp(`connection closed conn=${conn}$`));
    await expectAlive(lab.port);
  });
});

describe('close()', () => {
  test('a request in flight finishes, with Connection: close; close() then resolves; new connections are refused', async () => {
    const lab = await startServer({ closeGraceMs: 60_000 });
    const client = await RawClient.connect(lab.port);
    client.write('POST /inspect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await client.waitFor(/100 Continue\r\n\r\n$/); // the handler is now waiting for the body
    const closing = lab.server.close();
    client.write('hello');
    const text = (await client.rest()).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
    const res = parseResponse(text);
    expect(res.status).toBe(200);
    expect(res.headers['connection']).toBe('close');
    expect(res.body.endsWith('hello')).toBe(true);
    await closing;
    await expect(RawClient.connect(lab.port)).rejects.toThrow(/ECONNREFUSED/);
    await rm(lab.dataDir, { recursive: true, force: true });
  });

  test('closeGraceMs: after the grace, a request that does not finish is cut off', async () => {
    const lab = await startServer({ closeGraceMs: 50 });
    const client = await RawClient.connect(lab.port);
    client.write('POST /inspect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await client.waitFor(/100 Continue\r\n\r\n$/);
    await lab.server.close(); // the body never comes
    expect(await client.rest()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    await rm(lab.dataDir, { recursive: true, force: true });
  });

  test('idle keep-alive connections are closed at once, without waiting for their timeout', async () => {
    const lab = await startServer({ closeGraceMs: 60_000, keepAliveTimeoutMs: 60_000 });
    const client = await RawClient.connect(lab.port);
    client.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.responses(1);
    await lab.server.close();
    await client.rest();
    await rm(lab.dataDir, { recursive: true, force: true });
  });

  test('close() twice is fine, and so is close() before listen()', async () => {
    const lab = await startServer();
    await Promise.all([lab.server.close(), lab.server.close()]);
    await lab.stop();
    await new HttpServer({ log: quiet() }).close();
  });
});

describe('listen()', () => {
  test('a port in use is a PortInUseError naming http and the port', async () => {
    const lab = await start();
    const dataDir = await tempDir();
    const second = new HttpServer({ dataDir, log: quiet() });
    const failure = await second.listen(lab.port, '127.0.0.1').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(PortInUseError);
    expect(failure).toMatchObject({ service: 'http', port: lab.port, host: '127.0.0.1' });
    expect(String((failure as Error).message)).toContain(`port ${lab.port}/tcp`);
    await second.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('listen() resolves with the bound address on 127.0.0.1', async () => {
    const lab = await start();
    expect(lab.port).toBeGreaterThan(0);
    await lab.logs.waitFor(new RegExp(`info listening address=127\\.0\\.0\\.1 port=${lab.port}`));
    (await RawClient.connect(lab.port)).destroy();
  });
});
