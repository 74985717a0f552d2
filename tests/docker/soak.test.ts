/**
 * `npm run soak -- --docker --quick`, short: the Docker lab (Compose project wirelabtest,
 * every published port moved to a free one) driven on its published 127.0.0.1 ports by
 * the soak's good and bad clients; half way the smtp container is killed (`docker kill`)
 * and brought back with `docker-compose up -d smtp` (POP3 and IMAP, in its network,
 * restarted), and what was acknowledged is counted in the volumes. Exit 0 and a row per
 * service with nothing lost; with --drop-one, the message deleted is found lost (exit 1),
 * so the count really reads what came out of the volumes. The soak takes the lab down
 * with `down --volumes`. Runs when WIRELAB_DOCKER_TESTS=1, after `npm run images`, under
 * `flock /tmp/wirelab-docker.lock`.
 */
import { holdDockerLab } from '../helpers/dockerLock';
import { built } from '../helpers/paths';
import { run } from '../helpers/process';

const enabled = process.env.WIRELAB_DOCKER_TESTS === '1';
const suite = enabled ? describe : describe.skip;

/** The lab's start (about 10 to 60 s), 6 s of load, the restart of smtp's three containers, the stop, down. */
const SOAK = ['--docker', '--quick', '--seconds', '6', '--clients', '1'];
const MS = 240_000;

function soak(...extra: string[]): ReturnType<typeof run> {
  return run(process.execPath, [built('bench/soak/soak.js'), ...SOAK, ...extra], { ms: MS });
}

suite('the soak on the Docker lab', () => {
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await holdDockerLab(); // one Docker lab test file at a time: the soak brings up wirelabtest
  }, 20 * 60_000);
  afterAll(async () => {
    await release?.();
  });

  test('docker kill of smtp half way and compose up again: a row per service, nothing lost, exit 0', async () => {
    const result = await soak();
    expect(result.stderr).toMatch(/soak: docker kill smtp \(container wirelabtest_smtp_1\) at [\d.]+ s\nsoak: smtp, pop3, imap healthy again after \d+ ms/);
    expect(result.stderr).toContain('soak: wirelabtest down --volumes');
    expect(result.stdout).toMatch(/^wirelab soak \(Docker\): 6 s, 1 clients per service, SIGKILL to smtp half way/m);
    expect(result.stdout).toMatch(/^\| service \| served +\| errors +\| p50 ms \| p99 ms \| peak RSS \| acked \| lost \| dup \| bad clients +\|$/m);
    for (const service of ['dns', 'http', 'app', 'proxy', 'smtp', 'pop3', 'imap', 'ftp', 'sftp']) {
      const row = new RegExp(`^\\| ${service} +\\| (\\d+) +\\|.*\\| (\\d+) MB +\\| ([-\\d]+) +\\| 0 +\\| 0 +\\|`, 'm').exec(result.stdout);
      expect({ service, row: row?.[0] }).toEqual({ service, row: expect.any(String) });
      expect(Number(row![1])).toBeGreaterThan(0); // requests served
      expect(Number(row![2])).toBeGreaterThan(0); // the container's memory was sampled
    }
    // Deliveries and uploads acknowledged, and every one found in the volumes.
    for (const service of ['smtp', 'ftp', 'sftp']) expect(new RegExp(`^\\| ${service} .*\\| [1-9]\\d* +\\| 0 +\\| 0 +\\|`, 'm').test(result.stdout)).toBe(true);
    expect(result.stdout).toContain('items lost: 0\n');
    expect(result.code).toBe(0);
  }, MS + 10_000);

  test('a message deleted from what came out of the volumes is found lost, and the exit is 1', async () => {
    const result = await soak('--drop-one');
    expect(result.stdout).toMatch(/^\| smtp +\|.*\| [1-9]\d* +\| 1 +\| 0 +\|/m);
    expect(result.stdout).toContain('items lost or duplicated: 1\n');
    expect(result.code).toBe(1);
  }, MS + 10_000);
});
