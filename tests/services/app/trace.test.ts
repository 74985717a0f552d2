/**
 * TRACE on app.lab.test (RFC 9110 §9.3.8): the app, the last recipient, sends the
 * request back as it arrived, as message/http, without credentials or cookies.
 */
import { RawClient, curl, parseResponse, startApp, type RunningApp } from '../proxy-harness';

let app: RunningApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app.server.close();
});

test('curl -X TRACE: the request line and header lines as sent, in their order and case', async () => {
  const res = parseResponse((await curl('-i', '-X', 'TRACE', '-H', 'X-One: 1', '-H', 'x-two: 2', `http://127.0.0.1:${app.port}/any/path?q=1`)).stdout);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('message/http');
  expect(res.body).toMatch(/^TRACE \/any\/path\?q=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nUser-Agent: curl\/[\d.]+\r\nAccept: \*\/\*\r\nX-One: 1\r\nx-two: 2\r\n\r\n$/);
});

test('Authorization, Proxy-Authorization and Cookie are left out of the echo', async () => {
  const client = await RawClient.connect(app.port);
  client.write('TRACE / HTTP/1.1\r\nHost: app.lab.test\r\nAuthorization: Basic YWxpY2U6YWxpY2U=\r\nproxy-authorization: Basic x\r\nCOOKIE: id=1\r\nConnection: close\r\n\r\n');
  const res = parseResponse(await client.closed);
  expect(res.status).toBe(200);
  expect(res.body).toBe('TRACE / HTTP/1.1\r\nHost: app.lab.test\r\nConnection: close\r\n\r\n');
});
