/**
 * The proxy and the app as processes (dist/services/{app,proxy}/main.js, as their
 * containers run them): settings from the environment, a listening line on stdout,
 * SIGTERM closes them cleanly, bad settings stop them with a message.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../services/common/logger';
import { DnsServer } from '../../../services/dns/server';
import { curl, LAB, parseResponse } from './harness';

const REPO = path.resolve(__dirname, '../../..');
const APP_MAIN = path.join(REPO, 'dist', 'services', 'app', 'main.js');
const PROXY_MAIN = path.join(REPO, 'dist', 'services', 'proxy', 'main.js');

beforeAll(async () => {
  // `npm test` builds first, but a plain `npx jest` may find dist/ missing or older than
  // the sources. The build is incremental: when dist/ is current it writes nothing.
  const output = await new Promise<string>((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO }, (_err, stdout, stderr) => resolve(stdout + stderr));
  });
  if (!existsSync(APP_MAIN) || !existsSync(PROXY_MAIN)) throw new Error(`could not build the mains:\n${output}`);
}, 120_000);

interface Started {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Started[] = [];

afterEach(() => {
  for (const s of running.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
});

function start(main: string, env: Record<string, string>): Started {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', WIRELAB_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const started: Started = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout!.on('data', (chunk: Buffer) => (started.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (started.stderr += chunk.toString()));
  running.push(started);
  return started;
}

/** Resolves with the port from the listening line on stdout. */
function listeningPort(started: Started, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(started.stdout);
      if (match) resolve(Number(match[1]));
    };
    started.child.stdout!.on('data', check);
    started.exited.then(({ code }) => reject(new Error(`exited with ${code} before listening:\n${started.stderr}`)));
    check();
  });
}

test('the app: APP_PORT and APP_HOST, a listening line, SIGTERM exits 0', async () => {
  const app = start(APP_MAIN, { APP_PORT: '0', APP_HOST: '127.0.0.1' });
  const port = await listeningPort(app, /^app app\.lab\.test listening on 127\.0\.0\.1:(\d+)\n/);
  const res = parseResponse((await curl('-i', `http://127.0.0.1:${port}/health`)).stdout);
  expect(res.status).toBe(200);
  app.child.kill('SIGTERM');
  expect(await app.exited).toEqual({ code: 0, signal: null });
  expect(app.stderr).toMatch(/ app info listening address=127\.0\.0\.1 port=\d+/);
  expect(app.stderr).toMatch(/ app info shutting down signal=SIGTERM/);
});

test('the proxy: PROXY_PORT, PROXY_UPSTREAM, LAB_DNS and PROXY_TIMEOUT_MS; SIGTERM exits 0', async () => {
  const dns = DnsServer.fromLab(LAB, { log: createLogger('dns', { sink: () => {} }) });
  const dnsPort = (await dns.listen(0, '127.0.0.1')).port;
  try {
    const app = start(APP_MAIN, { APP_PORT: '0', APP_HOST: '127.0.0.1' });
    const appPort = await listeningPort(app, /listening on 127\.0\.0\.1:(\d+)\n/);
    // In a container the upstream is app.lab.test:5000 and the dialer connects to its lab
    // address; on this machine an IP upstream stands in (directDialer connects as told).
    const proxy = start(PROXY_MAIN, {
      PROXY_PORT: '0',
      PROXY_HOST: '127.0.0.1',
      PROXY_UPSTREAM: `127.0.0.1:${appPort}`,
      LAB_DNS: `127.0.0.1:${dnsPort}`,
      PROXY_TIMEOUT_MS: '300',
    });
    const port = await listeningPort(proxy, /^proxy shop\.lab\.test listening on 127\.0\.0\.1:(\d+), forwarding to 127\.0\.0\.1:\d+\n/);
    const ok = await curl('-s', `http://127.0.0.1:${port}/headers`);
    expect(JSON.parse(ok.stdout).headers.via).toBe('1.1 shop.lab.test');
    const slow = parseResponse(Buffer.from((await curl('-i', `http://127.0.0.1:${port}/slow?ms=20000`)).stdout, 'latin1').toString('utf8'));
    expect(slow.status).toBe(504);
    expect(slow.body).toContain('The app did not answer within 300 ms');
    proxy.child.kill('SIGTERM');
    app.child.kill('SIGTERM');
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(proxy.stderr).toMatch(/ proxy info listening address=127\.0\.0\.1 port=\d+ upstream=127\.0\.0\.1:\d+ via=shop\.lab\.test/);
  } finally {
    await dns.close();
  }
});

test.each([
  [APP_MAIN, { APP_PORT: 'eighty' }, /^app: APP_PORT must be a port number \(0-65535\), got "eighty"\n$/],
  [PROXY_MAIN, { PROXY_PORT: '99999' }, /^proxy: PROXY_PORT must be a port number \(0-65535\), got "99999"\n$/],
  [PROXY_MAIN, { PROXY_UPSTREAM: 'app.lab.test' }, /^proxy: PROXY_UPSTREAM must be host:port, got "app\.lab\.test"\n$/],
  [PROXY_MAIN, { LAB_DNS: 'ns.lab.test' }, /^proxy: LAB_DNS must be host:port, got "ns\.lab\.test"\n$/],
  [PROXY_MAIN, { PROXY_TIMEOUT_MS: '5s' }, /^proxy: PROXY_TIMEOUT_MS must be a whole number of milliseconds, got "5s"\n$/],
  [PROXY_MAIN, { PROXY_TIMEOUT_MS: '0' }, /^proxy: upstreamTimeoutMs must be a whole number, at least 1; got 0\n$/],
])('bad settings stop it with a message: %#', async (main, env, message) => {
  const started = start(main, { PROXY_HOST: '127.0.0.1', APP_HOST: '127.0.0.1', PROXY_PORT: '0', APP_PORT: '0', ...env });
  expect(await started.exited).toEqual({ code: 1, signal: null });
  expect(started.stderr).toMatch(message);
});
