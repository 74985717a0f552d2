/**
 * A client that half-closes (sends FIN after its request: `nc -N`, a script that calls
 * shutdown(SHUT_WR)) still gets its answer, and then the connection closes. The static
 * files and the API answer asynchronously (a file read, the notes on disk): node:http
 * would drop those answers unless told to keep half-open connections.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ncHalfClose, parseResponse, parseResponses, rawHalfClose, startServer, WWW, type RunningServer } from './harness';

let lab: RunningServer;
beforeAll(async () => {
  lab = await startServer();
});
afterAll(async () => {
  await lab.stop();
});

test("printf 'GET /hello.txt HTTP/1.0\\r\\n\\r\\n' | nc -N: the file, then the connection closes", async () => {
  const res = parseResponse(await ncHalfClose(lab.port, 'GET /hello.txt HTTP/1.0\r\n\r\n'));
  expect(res.status).toBe(200);
  expect(res.body).toBe(await readFile(path.join(WWW, 'hello.txt'), 'latin1'));
  await lab.logs.waitFor(/ http info .*"GET \/hello\.txt HTTP\/1\.0" 200 \d+(?: \w+=\S+)*$/);
});

test('HTTP/1.1 (keep-alive) and a half-close: the answer, then the server closes instead of waiting', async () => {
  const res = parseResponse(await ncHalfClose(lab.port, 'GET /logo.png HTTP/1.1\r\nHost: www.lab.test\r\n\r\n'));
  expect(res.status).toBe(200);
  expect(Buffer.from(res.body, 'latin1')).toEqual(await readFile(path.join(WWW, 'logo.png')));
});

test('two requests in one go, then FIN: both answered, in order, then the close', async () => {
  const both = 'GET /hello.txt HTTP/1.1\r\nHost: www.lab.test\r\n\r\nGET /api/notes HTTP/1.1\r\nHost: www.lab.test\r\n\r\n';
  const [first, second, ...more] = parseResponses(await ncHalfClose(lab.port, both));
  expect(first!.status).toBe(200);
  expect(second!.status).toBe(200);
  expect(JSON.parse(second!.body)).toEqual(expect.any(Array));
  expect(more).toEqual([]);
});

test('a raw socket: end(request) on a 404 (the 404 page is a file too)', async () => {
  const res = parseResponse(await rawHalfClose(lab.port, 'GET /nothing-here HTTP/1.1\r\nHost: www.lab.test\r\n\r\n'));
  expect(res.status).toBe(404);
  expect(res.body).toContain('<html');
});

test('a half-close in the middle of the request head is a 400, not silence', async () => {
  const res = parseResponse(await ncHalfClose(lab.port, 'GET /hello.txt HTTP/1.1\r\nHost: www.lab.test\r\n'));
  expect(res.status).toBe(400);
});
