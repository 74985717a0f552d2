/**
 * The proxy and the app as processes (dist/services/{app,proxy}/main.js, as their
 * containers run them): settings from the environment, a listening line on stdout,
 * SIGTERM closes them cleanly, bad settings stop them with a message.
 */
import { createLogger } from '../../../services/common/logger';
import { DnsServer } from '../../../services/dns/server';
import { LAB_DIR } from '../../helpers/paths';
import { spawnMain, startMain, type Child } from '../../helpers/process';
import { curl, parseResponse } from './harness';

/** At info, as a container logs. */
const ENV = { WIRELAB_LOG_LEVEL: 'info' };

const running: Child[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((child) => child.stop('SIGKILL')));
});

/** startMain(), and the process is killed after the test whatever happens. */
async function start(service: string, env: Record<string, string>, ready: RegExp): Promise<{ child: Child; port: number }> {
  const started = await startMain(service, { ...ENV, ...env }, { ready });
  running.push(started.child);
  return started;
}

test('the app: APP_PORT and APP_HOST, a listening line, SIGTERM exits 0', async () => {
  const { child: app, port } = await start('app', { APP_PORT: '0', APP_HOST: '127.0.0.1' }, /^app app\.lab\.test listening on 127\.0\.0\.1:(\d+)$/);
  const res = parseResponse((await curl('-i', `http://127.0.0.1:${port}/health`)).stdout);
  expect(res.status).toBe(200);
  expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  expect(app.stderr).toMatch(/ app info listening address=127\.0\.0\.1 port=\d+/);
  expect(app.stderr).toMatch(/ app info shutting down signal=SIGTERM/);
});

test('the proxy: PROXY_PORT, PROXY_UPSTREAM, LAB_DNS and PROXY_TIMEOUT_MS; SIGTERM exits 0', async () => {
  const dns = DnsServer.fromLab(LAB_DIR, { log: createLogger('dns', { sink: () => {} }) });
  const dnsPort = (await dns.listen(0, '127.0.0.1')).port;
  try {
    const { child: app, port: appPort } = await start('app', {}, /listening on 127\.0\.0\.1:(\d+)$/);
    // In a container the upstream is app.lab.test:5000 and the dialer connects to its lab
    // address; on this machine an IP upstream stands in (directDialer connects as told).
    const env = { PROXY_PORT: '0', PROXY_HOST: '127.0.0.1', PROXY_UPSTREAM: `127.0.0.1:${appPort}`, LAB_DNS: `127.0.0.1:${dnsPort}`, PROXY_TIMEOUT_MS: '300' };
    const { child: proxy, port } = await start('proxy', env, /^proxy shop\.lab\.test listening on 127\.0\.0\.1:(\d+), forwarding to 127\.0\.0\.1:\d+$/);
    const ok = await curl('-s', `http://127.0.0.1:${port}/headers`);
    expect(JSON.parse(ok.stdout).headers.via).toBe('1.1 shop.lab.test');
    const slow = parseResponse(Buffer.from((await curl('-i', `http://127.0.0.1:${port}/slow?ms=20000`)).stdout, 'latin1').toString('utf8'));
    expect(slow.status).toBe(504);
    expect(slow.body).toContain('The app did not answer within 300 ms');
    expect(await proxy.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(proxy.stderr).toMatch(/ proxy info listening address=127\.0\.0\.1 port=\d+ upstream=127\.0\.0\.1:\d+ via=shop\.lab\.test/);
  } finally {
    await dns.close();
  }
});

test.each([
  ['app', { APP_PORT: 'eighty' }, /^app: APP_PORT must be a port number \(0-65535\), got "eighty"\n$/],
  ['proxy', { PROXY_PORT: '99999' }, /^proxy: PROXY_PORT must be a port number \(0-65535\), got "99999"\n$/],
  ['proxy', { PROXY_UPSTREAM: 'app.lab.test' }, /^proxy: PROXY_UPSTREAM must be host:port, got "app\.lab\.test"\n$/],
  ['proxy', { LAB_DNS: 'ns.lab.test' }, /^proxy: LAB_DNS must be host:port, got "ns\.lab\.test"\n$/],
  ['proxy', { PROXY_TIMEOUT_MS: '5s' }, /^proxy: PROXY_TIMEOUT_MS must be a whole number of milliseconds, got "5s"\n$/],
  ['proxy', { PROXY_TIMEOUT_MS: '0' }, /^proxy: upstreamTimeoutMs must be a whole number, at least 1; got 0\n$/],
])('bad settings stop it with a message: %#', async (service, env, message) => {
  const child = spawnMain(service, { ...ENV, ...env });
  running.push(child);
  expect(await child.exit()).toEqual({ code: 1, signal: null });
  expect(child.stderr).toMatch(message);
});
