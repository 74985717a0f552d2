/**
 * app.lab.test and a client that half-closes (`nc -N`): a FIN after the request says
 * "nothing more from me", not "I am gone", so the app still answers, also when the
 * answer takes a while; then it closes. Only a reset (RST) abandons the request.
 */
import { ncHalfClose } from '../http/harness';
import { parseResponse, startApp, type RunningApp } from '../proxy-harness';

let app: RunningApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app.server.close();
});

test("printf 'GET /slow?ms=50 HTTP/1.0\\r\\n\\r\\n' | nc -N: answered after 50 ms, then closed", async () => {
  const res = parseResponse(await ncHalfClose(app.port, 'GET /slow?ms=50 HTTP/1.0\r\n\r\n'));
  expect(res.status).toBe(200);
  expect(res.body).toBe('answered after 50 ms\n');
  await app.logs.waitForLine(/"GET \/slow\?ms=50 HTTP\/1\.0" 200 21 conn=c\d+$/);
});

test('the chunked /drip to a half-closed HTTP/1.1 client: every chunk, then the close', async () => {
  const text = await ncHalfClose(app.port, 'GET /drip?ms=20 HTTP/1.1\r\nHost: app.lab.test\r\n\r\n');
  expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(text).toContain('started; the rest follows in 20 ms\n');
  expect(text).toContain('done after 20 ms\n');
  expect(text.endsWith('0\r\n\r\n')).toBe(true);
});
