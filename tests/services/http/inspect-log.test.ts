import { stat } from 'node:fs/promises';
import path from 'node:path';
import { clf, CLF_LINE, curl, expectAlive, parseResponse, raw, request, startServer, WWW, type RunningServer } from './harness';

let lab: RunningServer;
beforeAll(async () => {
  lab = await startServer({ maxBodyBytes: 2000 });
});
afterAll(async () => {
  await lab.stop();
});

describe('/inspect: see your own request', () => {
  test('echoes the request line and the headers in received order and case, then a blank line', async () => {
    const head =
      'GET /inspect?x=1&y=%20 HTTP/1.1\r\n' +
      'host: www.lab.test\r\n' +
      'X-Zeta: last-letter\r\n' +
      'x-alpha: first-letter\r\n' +
      'X-MiXeD-CaSe: Value With Spaces\r\n' +
      'X-Twice: one\r\n' +
      'X-Twice: two\r\n' +
      'Connection: close\r\n' +
      '\r\n';
    const res = parseResponse(await raw(lab.port, head));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toBe(head);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body, 'latin1'));
  });

  test('the body comes after the blank line, byte for byte (curl --data)', async () => {
    const { stdout } = await curl('-i', `${lab.base}/inspect`, '-H', 'X-Hello: class', '--data', 'a=1&b=two');
    const res = parseResponse(stdout);
    expect(res.status).toBe(200);
    const lines = res.body.split('\r\n');
    expect(lines[0]).toBe('POST /inspect HTTP/1.1');
    expect(lines).toContain('X-Hello: class');
    expect(lines).toContain('Content-Type: application/x-www-form-urlencoded');
    expect(res.body.endsWith('\r\n\r\na=1&b=two')).toBe(true);
  });

  test('any method: PUT, DELETE, PATCH, OPTIONS are echoed too', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await request(lab.port, { method, path: '/inspect' });
      expect(res.status).toBe(200);
      expect(res.body.toString().startsWith(`${method} /inspect HTTP/1.1\r\n`)).toBe(true);
    }
  });

  test('a chunked body is shown de-chunked', async () => {
    const text = await raw(lab.port, 'POST /inspect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    const res = parseResponse(text);
    expect(res.body.endsWith('\r\n\r\nhello world')).toBe(true);
    expect(res.body).toContain('Transfer-Encoding: chunked');
  });

  test('HEAD /inspect: the headers, no body', async () => {
    const res = parseResponse(await raw(lab.port, 'HEAD /inspect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.body).toBe('');
  });

  test('HTTP/1.0 is echoed as HTTP/1.0', async () => {
    const res = parseResponse(await raw(lab.port, 'GET /inspect HTTP/1.0\r\n\r\n'));
    expect(res.body).toBe('GET /inspect HTTP/1.0\r\n\r\n');
  });

  test('a body over maxBodyBytes (here 2000) is 413, as plain text', async () => {
    const res = await request(lab.port, { method: 'POST', path: '/inspect', body: Buffer.alloc(2001, 'x') });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body.toString()).toContain('2000 bytes');
    await expectAlive(lab.port);
  });
});

describe('the log: one common-log-format line per request', () => {
  test('status and body bytes for each request, "-" for no body', async () => {
    const fresh = await startServer();
    try {
      const indexSize = (await stat(path.join(WWW, 'index.html'))).size;
      await request(fresh.port, { path: '/' });
      await request(fresh.port, { method: 'HEAD', path: '/' });
      await request(fresh.port, { path: '/missing' });
      await request(fresh.port, { method: 'DELETE', path: '/api/notes/1' });
      await request(fresh.port, { method: 'OPTIONS', path: '/' });
      await fresh.logs.waitFor(CLF_LINE, { count: 5 });
      const lines = clf(fresh.logs);
      const date = String.raw`\[\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} \+0000\]`;
      const notFoundSize = (await stat(path.join(WWW, '404.html'))).size;
      const expected = [
        `"GET / HTTP/1.1" 200 ${indexSize}`,
        `"HEAD / HTTP/1.1" 200 -`,
        `"GET /missing HTTP/1.1" 404 ${notFoundSize}`,
        `"DELETE /api/notes/1 HTTP/1.1" 204 -`,
        `"OPTIONS / HTTP/1.1" 204 -`,
      ];
      expect(lines).toHaveLength(5);
      lines.forEach((line, i) => {
        expect(line).toMatch(new RegExp(`^127\\.0\\.0\\.1 - - ${date} ${expected[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
      });
    } finally {
      await fresh.stop();
    }
  });

  test('the raw log line is the CLF line plus the connection id', async () => {
    const fresh = await startServer();
    try {
      await request(fresh.port, { path: '/hello.txt' });
      const [line] = await fresh.logs.waitFor(/GET \/hello\.txt/);
      expect(line).toMatch(/^\S+Z http info 127\.0\.0\.1 - - \[.+\] "GET \/hello\.txt HTTP\/1\.1" 200 \d+ conn=c\d+$/);
    } finally {
      await fresh.stop();
    }
  });

  test('quotes and control bytes in the target cannot forge a log line', async () => {
    await raw(lab.port, 'GET /a"b%22c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await lab.logs.waitFor(/ http info .*"GET \/a\\"b%22c HTTP\/1\.1" 404 /);
  });
});
