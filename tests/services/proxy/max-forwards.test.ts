/**
 * Max-Forwards (RFC 9110 §7.6.2) through shop.lab.test to app.lab.test, with curl:
 * OPTIONS and TRACE with Max-Forwards: 0 are answered by the proxy itself, and the
 * app never sees them; with more, the proxy counts one down and passes them on.
 */
import { curl, parseResponse, ShopLab } from './harness';

let lab: ShopLab;
beforeAll(async () => {
  lab = await ShopLab.start();
});
afterAll(async () => {
  await lab.stop();
});

const shop = (path = '/'): string => `${lab.base}${path}`;
/** The app's log lines for requests (CLF), so far. */
const appRequests = (): string[] => lab.app.logs.lines.filter((l) => / app info \S+ - - \[/.test(l));

test('TRACE with Max-Forwards: 0 is answered by the proxy: the request as it arrived there, without credentials', async () => {
  const before = appRequests().length;
  const result = await curl('-i', '-X', 'TRACE', '-H', 'Max-Forwards: 0', '-H', 'Cookie: session=secret', '-H', 'Authorization: Bearer secret', '-H', 'X-Class: lab', shop('/api/products'));
  const res = parseResponse(result.stdout);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('message/http');
  expect(res.headers.via).toBeUndefined(); // nothing passed through: the proxy answered
  expect(res.body).toMatch(/^TRACE \/api\/products HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  expect(res.body).toContain('Max-Forwards: 0\r\n');
  expect(res.body).toContain('X-Class: lab\r\n');
  // RFC 9110 §9.3.8: credentials and cookies are left out of the echo.
  expect(res.body).not.toContain('secret');
  expect(res.body.endsWith('\r\n\r\n')).toBe(true);
  await lab.proxyLogs.waitFor(/"TRACE \/api\/products HTTP\/1\.1" 200 \d+ conn=c\d+ maxForwards=0$/);
  expect(appRequests().length).toBe(before);
});

test('OPTIONS with Max-Forwards: 0 is answered by the proxy (200, no content); the app never sees it', async () => {
  const before = appRequests().length;
  const res = parseResponse((await curl('-i', '-X', 'OPTIONS', '-H', 'Max-Forwards: 0', shop('/health'))).stdout);
  expect(res.status).toBe(200);
  expect(res.headers['content-length']).toBe('0');
  expect(res.headers.allow).toBeUndefined();
  expect(res.headers.via).toBeUndefined();
  await lab.proxyLogs.waitFor(/"OPTIONS \/health HTTP\/1\.1" 200 - conn=c\d+ maxForwards=0$/);
  expect(appRequests().length).toBe(before);
});

test('TRACE with Max-Forwards: 2 goes on with 1: the app echoes what reached it, Via and X-Forwarded-For included', async () => {
  const res = parseResponse((await curl('-i', '-X', 'TRACE', '-H', 'Max-Forwards: 2', shop('/anything'))).stdout);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('message/http');
  expect(res.headers.via).toBe('1.1 shop.lab.test'); // the answer came back through the proxy
  expect(res.body).toMatch(/^TRACE \/anything HTTP\/1\.1\r\n/);
  expect(res.body).toContain('Max-Forwards: 1\r\n');
  expect(res.body).toContain('Via: 1.1 shop.lab.test\r\n');
  expect(res.body).toContain('X-Forwarded-For: 127.0.0.1\r\n');
  await lab.app.logs.waitFor(/"TRACE \/anything HTTP\/1\.1" 200 \d+ conn=c\d+$/);
});

test('OPTIONS with Max-Forwards: 1 reaches the app, which answers with its Allow', async () => {
  const res = parseResponse((await curl('-i', '-X', 'OPTIONS', '-H', 'Max-Forwards: 1', shop('/health'))).stdout);
  expect(res.status).toBe(204);
  expect(res.headers.allow).toBe('GET, HEAD, OPTIONS, TRACE');
  expect(res.headers.via).toBe('1.1 shop.lab.test');
  await lab.app.logs.waitFor(/"OPTIONS \/health HTTP\/1\.1" 204 - conn=c\d+$/);
});

test('on other methods Max-Forwards means nothing: GET with Max-Forwards: 0 is forwarded, the header unchanged', async () => {
  const res = parseResponse((await curl('-i', '-H', 'Max-Forwards: 0', shop('/headers'))).stdout);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).headers['max-forwards']).toBe('0');
});

test('a Max-Forwards that is not a number is passed on as it is', async () => {
  const res = parseResponse((await curl('-i', '-X', 'TRACE', '-H', 'Max-Forwards: many', shop('/'))).stdout);
  expect(res.status).toBe(200);
  expect(res.headers.via).toBe('1.1 shop.lab.test');
  expect(res.body).toContain('Max-Forwards: many\r\n');
});
