import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { curl, curlStatus, expectAlive, parseResponse, parseResponses, raw, request, startServer, WWW, type RunningServer } from './harness';

let lab: RunningServer;
beforeAll(async () => {
  lab = await startServer();
});
afterAll(async () => {
  await lab.stop();
});

describe('static site: GET', () => {
  test('/ is index.html, with Content-Type and a Content-Length equal to the body', async () => {
    const res = await request(lab.port, { path: '/' });
    const file = await readFile(path.join(WWW, 'index.html'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.equals(file)).toBe(true);
    expect(res.body.toString()).toContain('<h1>');
  });

  test.each([
    ['/style.css', 'text/css; charset=utf-8'],
    ['/token-demo.js', 'text/javascript; charset=utf-8'],
    ['/logo.png', 'image/png'],
    ['/network.svg', 'image/svg+xml'],
    ['/favicon.ico', 'image/x-icon'],
    ['/hello.txt', 'text/plain; charset=utf-8'],
    ['/http.html', 'text/html; charset=utf-8'],
  ])('%s is served as %s, byte for byte', async (urlPath, type) => {
    const res = await request(lab.port, { path: urlPath });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    const file = await readFile(path.join(WWW, urlPath));
    expect(Number(res.headers['content-length'])).toBe(file.length);
    expect(res.body.equals(file)).toBe(true);
  });

  test('the PNG is a real PNG', async () => {
    const res = await request(lab.port, { path: '/logo.png' });
    expect(res.body.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  });

  test('curl -i sees the status line and headers', async () => {
    const { stdout, code } = await curl('-i', `${lab.base}/dns.html`);
    expect(code).toBe(0);
    const res = parseResponse(stdout);
    expect(res.statusLine).toBe('HTTP/1.1 200 OK');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body, 'latin1'));
    expect(res.headers['etag']).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(res.headers['last-modified']).toMatch(/GMT$/);
  });

  test('a directory without its slash is a 301 to the slashed URL, keeping the query', async () => {
    const { stdout } = await curl('-i', `${lab.base}/guide?x=1`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(301);
    expect(res.headers['location']).toBe('/guide/?x=1');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
  });

  test('a 301 never points to another host (//host)', async () => {
    const res = await request(lab.port, { path: '//guide' });
    expect(res.status).toBe(301);
    expect(res.headers['location']).toBe('/guide/');
  });

  test('a directory with its slash serves its index.html; curl -L follows the 301 there', async () => {
    const res = await request(lab.port, { path: '/guide/' });
    expect(res.status).toBe(200);
    expect(res.body.equals(await readFile(path.join(WWW, 'guide', 'index.html')))).toBe(true);
    const followed = await curl('-L', '-w', '%{http_code} %{num_redirects}', '-o', '/dev/null', `${lab.base}/guide`);
    expect(followed.stdout).toBe('200 1');
  });

  test('a missing file gets 404.html with status 404', async () => {
    const res = await request(lab.port, { path: '/no/such/page.html' });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body.equals(await readFile(path.join(WWW, '404.html')))).toBe(true);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(await curlStatus(`${lab.base}/nothing`)).toBe(404);
  });

  test('a file used as a folder is 404, not an error', async () => {
    expect(await curlStatus(`${lab.base}/index.html/more`)).toBe(404);
  });

  test('an unknown /api/ path is a JSON 404', async () => {
    const res = await request(lab.port, { path: '/api/nothing' });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString())).toEqual({ error: expect.stringContaining('/api/nothing'), status: 404 });
  });
});

describe('static site: HEAD, OPTIONS, 405', () => {
  test('HEAD has the headers of GET and no body (curl -I)', async () => {
    const get = await request(lab.port, { path: '/style.css' });
    const { stdout } = await curl('-I', `${lab.base}/style.css`);
    const head = parseResponse(stdout);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers['etag']).toBe(get.headers['etag']);
    expect(head.body).toBe('');
  });

  test('HEAD on the wire: not one byte after the headers', async () => {
    const text = await raw(lab.port, 'HEAD /index.html HTTP/1.1\r\nHost: www.lab.test\r\nConnection: close\r\n\r\n');
    const res = parseResponse(text);
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBe((await stat(path.join(WWW, 'index.html'))).size);
    expect(res.body).toBe('');
  });

  test('HEAD of a 404 has no body either', async () => {
    const text = await raw(lab.port, 'HEAD /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const res = parseResponse(text);
    expect(res.status).toBe(404);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.body).toBe('');
  });

  test('OPTIONS is 204 with Allow', async () => {
    const { stdout } = await curl('-i', '-X', 'OPTIONS', `${lab.base}/index.html`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(204);
    expect(res.headers['allow']).toBe('GET, HEAD, OPTIONS');
    expect(res.headers['content-length']).toBeUndefined();
  });

  test('OPTIONS * asks about the whole server', async () => {
    const text = await raw(lab.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const res = parseResponse(text);
    expect(res.status).toBe(204);
    expect(res.headers['allow']).toContain('GET');
    const bad = parseResponse(await raw(lab.port, 'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(bad.status).toBe(400);
  });

  test.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s on a static file is 405 with Allow', async (method) => {
    const { stdout } = await curl('-i', '-X', method, `${lab.base}/index.html`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD, OPTIONS');
    expect(res.body).toContain(method);
    await expectAlive(lab.port);
  });

  test('absolute-form targets (as sent to a proxy) are understood', async () => {
    const res = parseResponse(await raw(lab.port, 'GET http://www.lab.test/hello.txt HTTP/1.1\r\nHost: www.lab.test\r\nConnection: close\r\n\r\n'));
    expect(res.status).toBe(200);
    expect(res.body).toContain('Hello from www.lab.test');
  });
});

describe('conditional requests', () => {
  test('If-None-Match with the ETag: 304, no body; another tag: 200', async () => {
    const first = await request(lab.port, { path: '/style.css' });
    const etag = String(first.headers['etag']);
    const { stdout } = await curl('-i', '-H', `If-None-Match: ${etag}`, `${lab.base}/style.css`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(304);
    expect(res.body).toBe('');
    expect(res.headers['etag']).toBe(etag);
    expect(await curlStatus('-H', 'If-None-Match: "other"', `${lab.base}/style.css`)).toBe(200);
  });

  test('If-None-Match compares weakly and takes a list or *', async () => {
    const etag = String((await request(lab.port, { path: '/hello.txt' })).headers['etag']);
    const statusWith = async (value: string) => (await request(lab.port, { path: '/hello.txt', headers: { 'If-None-Match': value } })).status;
    expect(await statusWith(`W/${etag}`)).toBe(304);
    expect(await statusWith(`"a", ${etag}, "b"`)).toBe(304);
    expect(await statusWith('*')).toBe(304);
  });

  test('If-Modified-Since: 304 when unchanged since, 200 when older; ignored when If-None-Match is present', async () => {
    const lastModified = String((await request(lab.port, { path: '/hello.txt' })).headers['last-modified']);
    const statusWith = async (headers: http.OutgoingHttpHeaders) => (await request(lab.port, { path: '/hello.txt', headers })).status;
    expect(await statusWith({ 'If-Modified-Since': lastModified })).toBe(304);
    expect(await statusWith({ 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).toBe(200);
    expect(await statusWith({ 'If-Modified-Since': 'not a date' })).toBe(200);
    expect(await statusWith({ 'If-Modified-Since': lastModified, 'If-None-Match': '"other"' })).toBe(200);
  });

  test('HEAD answers 304 too', async () => {
    const etag = String((await request(lab.port, { path: '/' })).headers['etag']);
    const res = await request(lab.port, { method: 'HEAD', path: '/', headers: { 'If-None-Match': etag } });
    expect(res.status).toBe(304);
  });
});

describe('keep-alive', () => {
  test('curl with two URLs reuses the connection', async () => {
    const { stderr, stdout, code } = await curl('-v', `${lab.base}/`, `${lab.base}/style.css`);
    expect(code).toBe(0);
    expect(stderr).toMatch(/Re-using existing connection/);
    expect(stdout).toContain('<h1>');
    expect(stdout).toContain(':root');
  });

  test("node's http client with a keep-alive Agent sends its second request on the same socket", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(lab.port, { path: '/hello.txt', agent });
      const second = await request(lab.port, { path: '/style.css', agent });
      expect(first.status).toBe(200);
      expect(first.headers['connection']).toBe('keep-alive');
      expect(first.reusedSocket).toBe(false);
      expect(second.status).toBe(200);
      expect(second.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  test('three requests pipelined on one raw connection get three answers in order', async () => {
    const req = (p: string, last = false) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
    const text = await raw(lab.port, req('/hello.txt') + req('/nothing') + req('/hello.txt', true));
    const answers = parseResponses(text);
    expect(answers.map((a) => a.status)).toEqual([200, 404, 200]);
    expect(answers[2]!.headers['connection']).toBe('close');
  });
});
