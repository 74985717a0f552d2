/**
 * One client cannot take shop.lab.test from the others (issue 16): the proxy's share of
 * connections per client address answers 503 with Retry-After past it; a client from
 * another address still reaches the app through the proxy.
 */
import { takeEveryPlace } from '../../helpers/fairness';
import { keptAlive } from '../http/harness';
import { curl, ShopLab, type RawClient } from './harness';

let lab: ShopLab;
beforeAll(async () => {
  lab = await ShopLab.start({ maxConnectionsPerAddress: 4, keepAliveTimeoutMs: 60_000 }, { keepAliveTimeoutMs: 60_000 });
});
afterAll(async () => {
  await lab.stop();
});

test('a client holds 4 connections to the proxy, the 5th gets 503 with Retry-After; curl from 127.0.0.2 gets the app\'s page', async () => {
  const greedy = await takeEveryPlace<RawClient>(() => keptAlive(lab.proxyPort, 'shop.lab.test'));
  try {
    expect(greedy.held).toHaveLength(4);
    expect(greedy.refusal).toBe('HTTP/1.1 503 Service Unavailable; Retry-After: 5; Connection: close');
    await lab.proxyLogs.waitFor(/ warn connection refused .*reason="too many connections from your address" limit=4/);
    const other = await curl('--interface', '127.0.0.2', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: shop.lab.test', `${lab.base}/`);
    expect(other.stdout).toBe('200');
  } finally {
    for (const c of greedy.held) c.destroy();
  }
});
