/**
 * What the proxy keeps between requests: its connections to the app (upstreamKeepAlive,
 * as nginx's upstream keepalive) and the app's address from the lab DNS, for its TTL
 * (dnsCacheMs). The answers stay what they were: the app restarted between two requests
 * is found again; a failed lookup is not kept. What was kept is read from the logs: the
 * app's request lines carry the connection they came on, the proxy's wire lines the lookups.
 */
import net from 'node:net';
import { APP_ADDRESS, APP_PORT, request, ShopLab, wireLines } from './harness';

let lab: ShopLab;
afterEach(async () => {
  await lab?.stop();
});

/** The connection id of each request line the app logged for `target`. */
async function appConnections(target: string, count: number): Promise<string[]> {
  const pattern = new RegExp(`"GET ${target.replace(/[?]/g, '\\$&')} HTTP/1\\.1" \\d{3} \\d+ conn=(c\\d+)`);
  const lines = await lab.app.logs.waitFor(pattern, { count });
  return lines.map((l) => pattern.exec(l)![1]!);
}

test('requests one after the other reach the app on one kept connection; the answers are the same', async () => {
  lab = await ShopLab.start();
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await request(lab.proxyPort, { path: '/health' })).status);
  expect(statuses).toEqual([200, 200, 200]);
  expect(new Set(await appConnections('/health', 3)).size).toBe(1);
});

test('upstreamKeepAlive 0: a new connection to the app for every request, as before', async () => {
  lab = await ShopLab.start({ upstreamKeepAlive: 0 });
  for (let i = 0; i < 3; i++) expect((await request(lab.proxyPort, { path: '/health' })).status).toBe(200);
  expect(new Set(await appConnections('/health', 3)).size).toBe(3);
});

test('the app restarted between two requests: the second is answered, on a new connection', async () => {
  lab = await ShopLab.start();
  expect((await request(lab.proxyPort, { path: '/health' })).status).toBe(200);
  await lab.stopApp();
  await lab.restartApp();
  expect((await request(lab.proxyPort, { path: '/health' })).status).toBe(200);
});

test('the app\'s address is looked up once, then kept: the wire lines show one lookup for three requests', async () => {
  lab = await ShopLab.start();
  for (let i = 0; i < 3; i++) await request(lab.proxyPort, { path: '/health' });
  await lab.proxyLogs.waitFor(/"GET \/health HTTP\/1\.1" 200/, { count: 3 });
  const protos = wireLines(lab.proxyLogs).map((w) => `${w.proto} ${w.kind}`);
  expect(protos).toEqual(['dns send', 'dns recv', ...Array(3).fill(['http send', 'http recv']).flat()]);
});

test('dnsCacheMs 0: a lookup for every request', async () => {
  lab = await ShopLab.start({ dnsCacheMs: 0 });
  for (let i = 0; i < 2; i++) await request(lab.proxyPort, { path: '/health' });
  await lab.proxyLogs.waitFor(/"GET \/health HTTP\/1\.1" 200/, { count: 2 });
  expect(wireLines(lab.proxyLogs).filter((w) => w.proto === 'dns' && w.kind === 'send')).toHaveLength(2);
});

test('a failed lookup is not kept: the next request asks again and gets through', async () => {
  lab = await ShopLab.start();
  const dnsPort = lab.dnsPort;
  lab.dnsPort = 9; // nothing answers there
  const failed = await request(lab.proxyPort, { path: '/health' });
  expect([failed.status, failed.headers['x-proxy-error']]).toEqual([502, 'EAI_AGAIN']);
  lab.dnsPort = dnsPort;
  expect((await request(lab.proxyPort, { path: '/health' })).status).toBe(200);
});

test('a kept connection the app resets when the next request arrives: a GET is sent again on a new connection', async () => {
  // A stand-in app that answers the first request on a connection (keeping it open), and
  // resets the connection when a second one comes on it: what a proxy meets when the app
  // closed an idle connection just as the proxy reused it.
  let connections = 0;
  const app = net.createServer((socket) => {
    connections++;
    let requests = 0;
    socket.on('error', () => {});
    socket.on('data', () => {
      if (++requests === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\n\r\nok\n');
      else socket.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  lab = await ShopLab.start();
  lab.own({ close: () => new Promise<void>((resolve) => app.close(() => resolve())) });
  lab.routes.set(`${APP_ADDRESS}:${APP_PORT}`, (app.address() as net.AddressInfo).port);
  const bodies: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await request(lab.proxyPort, { path: '/health' });
    bodies.push(`${res.status} ${res.body.toString()}`);
  }
  expect(bodies).toEqual(['200 ok\n', '200 ok\n']);
  expect(connections).toBe(2); // the kept one, reset; then a new one
});
