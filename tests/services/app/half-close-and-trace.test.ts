/**
 * app.lab.test on its own, with real clients:
 * - a client that half-closes (`nc -N`): a FIN after the request says "nothing more
 *   from me", not "I am gone", so the app still answers, also when the answer takes a
 *   while; then it closes. Only a reset (RST) abandons the request (app.test.ts).
 * - TRACE (RFC 9110 §9.3.8): the app, the last recipient, sends the request back as it
 *   arrived, as message/http, without credentials or cookies.
 */
import { ncHalfClose, raw } from '../http/harness';
import { curl, parseResponse, startApp, type RunningApp } from '../proxy/harness';

let app: RunningApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app.server.close();
});

describe('a client that half-closes', () => {
  test("printf 'GET /slow?ms=50 HTTP/1.0\\r\\n\\r\\n' | nc -N: answered after 50 ms, then closed", async () => {
    const res = parseResponse(await ncHalfClose(app.port, 'GET /slow?ms=50 HTTP/1.0\r\n\r\n'));
    expect(res.status).toBe(200);
    expect(res.body).toBe('answered after 50 ms\n');
    await app.logs.waitFor(/"GET \/slow\?ms=50 HTTP\/1\.0" 200 21 conn=c\d+$/);
  });

  test('the chunked /drip to a half-closed HTTP/1.1 client: every chunk, then the close', async () => {
    const text = await ncHalfClose(app.port, 'GET /drip?ms=20 HTTP/1.1\r\nHost: app.lab.test\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain('started; the rest follows in 20 ms\n');
    expect(text).toContain('done after 20 ms\n');
    expect(text.endsWith('0\r\n\r\n')).toBe(true);
  });
});

describe('TRACE', () => {
  test('curl -X TRACE: the request line and header lines as sent, in their order and case', async () => {
    const res = parseResponse((await curl('-i', '-X', 'TRACE', '-H', 'X-One: 1', '-H', 'x-two: 2', `http://127.0.0.1:${app.port}/any/path?q=1`)).stdout);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('message/http');
    expect(res.body).toMatch(/^TRACE \/any\/path\?q=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nUser-Agent: curl\/[\d.]+\r\nAccept: \*\/\*\r\nX-One: 1\r\nx-two: 2\r\n\r\n$/);
  });

  test('Authorization, Proxy-Authorization and Cookie are left out of the echo', async () => {
    const text = await raw(app.port, 'TRACE / HTTP/1.1\r\nHost: app.lab.test\r\nAuthorization: Basic YWxpY2U6YWxpY2U=\r\nproxy-authorization: Basic x\r\nCOOKIE: id=1\r\nConnection: close\r\n\r\n');
    const res = parseResponse(text);
    expect(res.status).toBe(200);
    expect(res.body).toBe('TRACE / HTTP/1.1\r\nHost: app.lab.test\r\nConnection: close\r\n\r\n');
  });
});
