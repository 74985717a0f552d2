/**
 * One client cannot take www.lab.test from the others (issue 16): a share of the
 * connections per client address (maxConnectionsPerAddress), past which requests get
 * 503 with Retry-After; a client from another address is served all along.
 */
import { takeEveryPlace } from '../../helpers/fairness';
import { curl, keptAlive, startServer, type RawClient, type RunningServer } from './harness';

let s: RunningServer;
beforeAll(async () => {
  // Held connections stay open for the test's length, not for the default 5 s of keep-alive.
  s = await startServer({ keepAliveTimeoutMs: 60_000 });
});
afterAll(async () => {
  await s.stop();
});

test('a client holds 32 connections, the 33rd is answered 503 with Retry-After; curl from 127.0.0.2 gets the page', async () => {
  const greedy = await takeEveryPlace<RawClient>(() => keptAlive(s.port));
  try {
    expect(greedy.held).toHaveLength(32);
    expect(greedy.refusal).toBe('HTTP/1.1 503 Service Unavailable; Retry-After: 5; Connection: close');
    await s.logs.waitFor(/ warn connection refused .*reason="too many connections from your address" limit=32/);
    // curl from the same address sees the same answer, in words.
    const same = await curl('-i', `${s.base}/`);
    expect(same.stdout).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(same.stdout).toMatch(/\r\nRetry-After: 5\r\n/);
    expect(same.stdout).toMatch(/too many connections from your address \(32\)/);
    // Another student, another address: served.
    const other = await curl('--interface', '127.0.0.2', '-o', '/dev/null', '-w', '%{http_code}', `${s.base}/`);
    expect(other.stdout).toBe('200');
  } finally {
    for (const c of greedy.held) c.destroy();
  }
  // Gone, the places are free again.
  await s.logs.waitFor(/ debug connection closed/, { count: 35 });
  expect((await curl('-o', '/dev/null', '-w', '%{http_code}', `${s.base}/`)).stdout).toBe('200');
});
