/**
 * The console's close() (SIGTERM to `wirelab console` or `wirelab up`): it stops
 * accepting, ends the live-event streams, and lets a request in flight finish within
 * closeGraceMs, answered with `Connection: close`.
 */
import { startConsole, type TestConsole } from '../../helpers/console';
import { RawSocket } from '../../helpers/socket';

let c: TestConsole;
beforeAll(async () => {
  c = await startConsole();
});
afterAll(() => c?.backend && c.stop());

test('a request whose body is still arriving at close() is answered, with Connection: close; then close() resolves', async () => {
  const body = JSON.stringify({ input: { url: 'http://www.lab.test/' } });
  const raw = await RawSocket.connect(c.port);
  // Expect: 100-continue: node:http answers "100 Continue" once the request is under way.
  raw.write(`POST /api/inspect HTTP/1.1\r\nHost: ${c.host}\r\nOrigin: ${c.origin}\r\nCookie: ${c.cookie}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
  await raw.readUntil('HTTP/1.1 100 Continue\r\n\r\n');
  const closed = c.server.close();
  raw.write(body);
  const response = await raw.rest();
  expect(response).toMatch(/^HTTP\/1\.1 200 /);
  expect(response).toMatch(/\r\nConnection: close\r\n/i);
  expect(response).toContain('GET / HTTP/1.1'); // the body arrived after close() began, and was read
  await closed;
  await expect(RawSocket.connect(c.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});
