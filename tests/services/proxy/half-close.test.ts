/**
 * shop.lab.test and a client that half-closes (`nc -N`): the proxy's answer comes from
 * the app, later, on another connection; it is still passed back, then the connection
 * to the client closes.
 */
import { ncHalfClose, rawHalfClose } from '../http/harness';
import { parseResponse, ShopLab } from './harness';

let lab: ShopLab;
beforeAll(async () => {
  lab = await ShopLab.start();
});
afterAll(async () => {
  await lab.stop();
});

test("printf 'GET /api/products HTTP/1.0\\r\\n\\r\\n' | nc -N: the app's answer, through the proxy", async () => {
  const res = parseResponse(await ncHalfClose(lab.proxyPort, 'GET /api/products HTTP/1.0\r\n\r\n'));
  expect(res.status).toBe(200);
  expect(res.headers.via).toBe('1.1 shop.lab.test');
  expect(JSON.parse(res.body)).toEqual(expect.arrayContaining([expect.objectContaining({ id: 1 })]));
  await lab.proxyLogs.waitFor(/"GET \/api\/products HTTP\/1\.0" 200 \d+ conn=c\d+ upstream=172\.28\.0\.82:5000 status=200/);
});

test('a slow answer (/slow?ms=50) to a client that half-closed at once still arrives', async () => {
  const res = parseResponse(await rawHalfClose(lab.proxyPort, 'GET /slow?ms=50 HTTP/1.1\r\nHost: shop.lab.test\r\n\r\n'));
  expect(res.status).toBe(200);
  expect(res.body).toBe('answered after 50 ms\n');
});

test('the proxy passes the half-close on as a whole request: the app answers, nothing is left open', async () => {
  const res = parseResponse(await ncHalfClose(lab.proxyPort, 'POST /echo HTTP/1.1\r\nHost: shop.lab.test\r\nContent-Length: 5\r\n\r\nhello'));
  expect(res.status).toBe(200);
  expect(res.body).toBe('hello');
});
