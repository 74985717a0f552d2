/**
 * `npm run soak`, short: the built script (dist/bench/soak/soak.js) starts every service
 * as a process, drives them for a few seconds with good and bad clients, kills one with
 * SIGKILL half way and starts it again, and prints its table; exit 0 when nothing
 * acknowledged was lost. With --drop-one it deletes one delivered message before the
 * count: the count must find it, and the exit is 1.
 */
import { built } from '../helpers/paths';
import { run } from '../helpers/process';

/** About 15 s in all: the services' start, 3 s of load, SIGTERM to each. */
const SOAK = ['--quick', '--seconds', '3', '--clients', '1'];

function soak(...extra: string[]): ReturnType<typeof run> {
  return run(process.execPath, [built('bench/soak/soak.js'), ...SOAK, ...extra], { ms: 60000 });
}

test('a short soak: a row per service with requests served, the SIGKILL and restart of smtp, nothing lost, exit 0', async () => {
  const result = await soak();
  expect(result.stderr).toMatch(/soak: SIGKILL to smtp \(pid \d+\) at [\d.]+ s\nsoak: smtp serves again on port \d+ after \d+ ms/);
  expect(result.stdout).toMatch(/^\| service \| served +\| errors +\| p50 ms \| p99 ms \| peak RSS \| acked \| lost \| dup \| bad clients +\|$/m);
  for (const service of ['dns', 'http', 'app', 'proxy', 'smtp', 'pop3', 'imap', 'ftp', 'sftp']) {
    const row = new RegExp(`^\\| ${service} +\\| (\\d+) +\\|.*\\| (\\d+) MB +\\| ([-\\d]+) +\\| 0 +\\| 0 +\\|`, 'm').exec(result.stdout);
    expect({ service, row: row?.[0] }).toEqual({ service, row: expect.any(String) });
    expect(Number(row![1])).toBeGreaterThan(0); // requests served
    expect(Number(row![2])).toBeGreaterThan(0); // its memory was sampled
  }
  // What must survive the SIGKILL: deliveries and uploads, acknowledged and counted.
  for (const service of ['smtp', 'ftp', 'sftp']) expect(new RegExp(`^\\| ${service} .*\\| [1-9]\\d* +\\| 0 +\\| 0 +\\|`, 'm').test(result.stdout)).toBe(true);
  expect(result.stdout).toContain('items lost: 0\n');
  expect(result.code).toBe(0);
}, 70000);

test('a message deleted before the count is found lost, and the exit is 1', async () => {
  const result = await soak('--drop-one');
  expect(result.stdout).toMatch(/^\| smtp +\|.*\| [1-9]\d* +\| 1 +\| 0 +\|/m);
  expect(result.stdout).toContain('items lost or duplicated: 1\n');
  expect(result.code).toBe(1);
}, 70000);
