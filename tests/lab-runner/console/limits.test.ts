import net from 'node:net';
import { once } from 'node:events';
import { ConsoleServer } from '../../../lab-runner/console/server';
import { request, startConsole, type TestConsole } from '../../helpers/console';
import { SCENARIOS_DIR, startLab } from '../../helpers/lab';
import { run } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';

/** Each limit of the console is a named option with a safe default; each is kept. */

let c: TestConsole;
beforeAll(async () => {
  c = await startConsole({ limits: { maxRuns: 1, maxBodyBytes: 2048, connectionsPerAddress: 3, maxStreams: 1 } });
});
afterAll(() => c?.stop());

test('maxRuns: a run while another one goes on is refused with 429, and says why', async () => {
  // app's slow page keeps the first run going for a while.
  const slow = c.api('POST', '/api/try', { action: 'http', input: { url: 'http://app.lab.test:5000/slow?ms=1500' } });
  let busy;
  // The first request may not have reached the limiter yet: ask until it has, or the slow one ends.
  for (let i = 0; i < 100; i++) {
    busy = await c.api('POST', '/api/try', { action: 'dns', input: { query: 'www.lab.test' } });
    if (busy.status === 429) break;
  }
  expect(busy!.status).toBe(429);
  expect(busy!.json().error).toMatch(/at most 1 at once/);
  expect((await slow).json().step.output.status).toBe(200);
  expect((await c.api('POST', '/api/try', { action: 'dns', input: { query: 'www.lab.test' } })).status).toBe(200);
});

test('maxBodyBytes: a larger request is refused with 413', async () => {
  const r = await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://www.lab.test/', body: 'x'.repeat(3000) } });
  expect(r.status).toBe(413);
  expect(r.json().error).toMatch(/larger than 2048 bytes \(maxBodyBytes\)/);
});

test('maxStreams: one page listening at a time here; the next gets 503', async () => {
  const first = net.connect(c.port, '127.0.0.1');
  await once(first, 'connect');
  first.write(`GET /api/events HTTP/1.1\r\nHost: ${c.host}\r\nCookie: ${c.cookie}\r\n\r\n`);
  await once(first, 'data');
  const second = await request(c.port, 'GET', '/api/events', { Host: c.host, Cookie: c.cookie });
  expect(second.status).toBe(503);
  first.destroy();
});

test('connectionsPerAddress: past the limit, a request from the same address gets 503 with Retry-After; curl from 127.0.0.2 is served', async () => {
  const held = await Promise.all([1, 2, 3].map(() => RawSocket.connect(c.port)));
  try {
    const args = ['-sS', '-i', '--noproxy', '*', '-H', `Host: ${c.host}`, '-H', `Cookie: ${c.cookie}`, `http://127.0.0.1:${c.port}/api/lab`];
    const same = await run('curl', args);
    expect(same.stdout).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(same.stdout).toMatch(/\r\nRetry-After: 5\r\n/i);
    expect(same.stdout).toMatch(/too many connections from your address \(3\)/);
    const other = await run('curl', ['--interface', '127.0.0.2', '-o', '/dev/null', '-w', '%{http_code}', ...args.filter((a) => a !== '-i')]);
    expect(other.stdout).toBe('200');
  } finally {
    for (const s of held) s.destroy();
  }
});

test('a limit out of range stops the console at start, naming it', async () => {
  const lab = await startLab();
  try {
    expect(() => new ConsoleServer({ backend: lab.backend, scenariosDir: SCENARIOS_DIR, quizzesDir: SCENARIOS_DIR, limits: { maxRuns: 0 } })).toThrow('console: maxRuns must be a whole number, at least 1; got 0');
  } finally {
    await lab.stop();
  }
});
