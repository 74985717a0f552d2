/**
 * HTTP/1.2 is served as HTTP/1.1 (RFC 9110 §2.5): node:http's parser refuses any
 * minor version but 0 and 1, so services/common/requestLine.ts reads each request line
 * first and changes the digit. These tests show it does that for every request on a
 * connection, and never touches anything else: not a body, not a pipelined request.
 */
import { RawClient, startServer, type RunningServer } from './harness';

let lab: RunningServer;
beforeAll(async () => {
  lab = await startServer();
});
afterAll(async () => {
  await lab.stop();
});

const get = (version: string, path = '/hello.txt'): string => `GET ${path} HTTP/${version}\r\nHost: www.lab.test\r\n\r\n`;

test('HTTP/1.2, twice on one keep-alive connection: two answers in HTTP/1.1; the log says what was sent', async () => {
  const client = await RawClient.connect(lab.port);
  client.write(get('1.2'));
  const [first] = await client.responses(1);
  client.write(get('1.7', '/hello.txt?second'));
  const [, second] = await client.responses(2);
  client.destroy();
  expect(first!.statusLine).toBe('HTTP/1.1 200 OK');
  expect(second!.statusLine).toBe('HTTP/1.1 200 OK');
  await lab.logs.waitFor(/"GET \/hello\.txt\?second HTTP\/1\.1" 200 \d+ conn=c\d+ sent=HTTP\/1\.7$/);
});

test('empty lines before the request line are skipped (RFC 9112 §2.2), and the version still read', async () => {
  const client = await RawClient.connect(lab.port);
  client.write('\r\n\r\n' + get('1.2'));
  const [res] = await client.responses(1);
  client.destroy();
  expect(res!.status).toBe(200);
});

test('a request line that arrives in pieces', async () => {
  const client = await RawClient.connect(lab.port);
  client.socket.setNoDelay(true);
  for (const piece of ['GET /hello.txt HT', 'TP/1.', '2', '\r\nHost: www.lab.test\r\n\r\n']) client.write(piece);
  const [res] = await client.responses(1);
  client.destroy();
  expect(res!.status).toBe(200);
});

test('a body that looks like a request line is left as it is', async () => {
  const body = 'GET / HTTP/1.2\r\n';
  const client = await RawClient.connect(lab.port);
  client.write(get('1.1'));
  await client.responses(1);
  client.write(`POST /inspect HTTP/1.1\r\nHost: www.lab.test\r\nContent-Length: ${body.length}\r\n\r\n`);
  client.write(body);
  const [, echo] = await client.responses(2);
  client.destroy();
  expect(echo!.status).toBe(200);
  expect(echo!.body.endsWith(`\r\n\r\n${body}`)).toBe(true);
});

test('pipelined requests (the next one sent before the answer): all answered, bodies untouched', async () => {
  const body = 'GET / HTTP/1.2\r\n';
  const client = await RawClient.connect(lab.port);
  client.write(get('1.1') + `POST /inspect HTTP/1.1\r\nHost: www.lab.test\r\nContent-Length: ${body.length}\r\n\r\n${body}` + get('1.1', '/hello.txt?third'));
  const answers = await client.responses(3);
  client.destroy();
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
  expect(answers[1]!.body.endsWith(`\r\n\r\n${body}`)).toBe(true);
});
