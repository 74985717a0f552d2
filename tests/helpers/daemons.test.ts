import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { curl, parseResponse } from '../services/http/harness';
import { startDnsmasq, startNginx } from './daemons';
import { run, stopLeftovers } from './process';
import { poll } from './wait';

/** curl's answer: status and body. */
async function get(url: string): Promise<{ status: number; body: string }> {
  const { status, body } = parseResponse((await curl('-i', url)).stdout);
  return { status, body };
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'wirelab-private-'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

test('nginx serves a site that only its owner can read (a checkout under a 0700 folder), not 403', async () => {
  // The checkout as a clone under a private folder leaves it: folders 0700, files 0600,
  // all owned by the user running the tests. (As root, nginx's workers would be `nobody`.)
  const checkout = path.join(base, 'checkout');
  const www = path.join(checkout, 'www');
  await mkdir(www, { recursive: true });
  await writeFile(path.join(www, 'index.html'), '<h1>private</h1>\n');
  await chmod(path.join(www, 'index.html'), 0o600);
  for (const dir of [www, checkout, base]) await chmod(dir, 0o700);
  expect((await stat(www)).uid).toBe(process.getuid!());

  const nginx = await startNginx({ root: www });
  try {
    expect(await get(`${nginx.url}/`)).toEqual({ status: 200, body: '<h1>private</h1>\n' });
    expect((await get(`${nginx.url}/missing.html`)).status).toBe(404);
  } finally {
    await nginx.stop();
  }
  expect(nginx.child.running).toBe(false);
});

test('nginx with a server block of the test\'s own', async () => {
  const nginx = await startNginx({ server: 'location / { return 200 "configured\\n"; }' });
  try {
    expect(await get(`${nginx.url}/anything`)).toEqual({ status: 200, body: 'configured\n' });
  } finally {
    await nginx.stop();
  }
});

test('a configuration nginx refuses: the start fails with nginx\'s own words', async () => {
  await expect(startNginx({ server: 'no_such_directive on;' })).rejects.toThrow(/nginx did not come up on 127\.0\.0\.1:\d+: nginx exited with 1;[\s\S]*unknown directive "no_such_directive"/);
});

test('dnsmasq answers on its port, and is stopped by its PID', async () => {
  const dnsmasq = await startDnsmasq();
  expect(dnsmasq.port).toBeGreaterThan(0);
  await dnsmasq.stop();
  expect(dnsmasq.child.running).toBe(false);
});

/** The processes of `pids` still running (gone, or a zombie nobody reaps, counts as ended). */
async function running(pids: number[]): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=,stat=', '-p', pids.join(',')]);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && !stat?.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

test('nginx left running by a test is stopped after it, its workers too (a SIGKILL to the master would leave them behind)', async () => {
  const nginx = await startNginx({ server: 'location / { return 204; }' });
  const workers = (await run('ps', ['-o', 'pid=', '--ppid', String(nginx.child.pid)])).stdout.split('\n').filter(Boolean).map(Number);
  expect(workers.length).toBeGreaterThan(0);
  await stopLeftovers(); // what runs after this file's tests
  expect(nginx.child.running).toBe(false);
  await poll('nginx\'s workers to end', async () => ((await running(workers)).length === 0 ? true : undefined), { describe: async () => `still running: ${await running(workers)}` });
  await nginx.stop(); // already stopped: only its folder goes
});
