import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { waitUntilUp } from '../../lab-runner/grade/target';
import { packageRoot } from '../../services/common/paths';
import { solo, type Recorder, type Values } from '../figures';
import { Daemon } from '../process';
import { folder } from '../servers';

/**
 * The whole embedded lab, one Node process with every service (bench/labProcess.ts):
 *
 *   start: from `node` being started to every port accepting (DNS: answering a query)
 *   memory idle: resident memory once it is up
 *   after 1 scenario, after all of scenarios/: resident memory then, and the suite's time
 *
 * Each run is a fresh process with a fresh data folder; "1" and "all" are separate
 * processes, so the second does not start from the first's state. --quick: "1" only.
 */

const MB = 2 ** 20;
const LAB_TARGET = { of: 'value' as const, atMost: 150 };

export async function labSuite(rec: Recorder, lab: string): Promise<void> {
  const { settings } = rec;
  const runs = settings.pairs;
  let n = 0;
  const session = async (scenarios: '1' | 'all'): Promise<Values> => {
    const data = await folder(rec.dir, `data-${++n}`);
    const started = process.hrtime.bigint();
    const daemon = new Daemon({
      name: 'embedded lab',
      command: process.execPath,
      args: [path.join(packageRoot(), 'dist', 'bench', 'labProcess.js'), lab, data],
      logFile: path.join(rec.dir, `lab-${n}.log`),
      pipe: true,
    });
    try {
      const lines = readline.createInterface({ input: daemon.child.stdout! });
      const next = nextLine(lines, daemon);
      const { endpoints } = (await next()) as { endpoints: { service: string; where: string }[] };
      for (const e of endpoints) {
        const [host, port] = [e.where.slice(0, e.where.lastIndexOf(':')), Number(e.where.slice(e.where.lastIndexOf(':') + 1))];
        await waitUntilUp(e.service === 'dns' ? 'dns' : 'http', host, port, 30_000, () => daemon.failure());
      }
      const startMs = Number(process.hrtime.bigint() - started) / 1e6;
      // Once up, let start-up's garbage be collected before reading memory.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const idle = daemon.rssNow() / MB;
      daemon.child.stdin!.write(`run ${scenarios}\n`);
      const result = (await next()) as { scenarios: number; passed: number; failed: number; ms: number };
      if (result.failed) rec.say(`  note: ${result.failed} of ${result.scenarios} scenario(s) failed in this run (see ${rec.dir}/lab-${n}.log)`);
      const after = daemon.rssNow() / MB;
      const peak = daemon.peakRss() / MB;
      daemon.child.stdin!.write('exit\n');
      await Promise.race([once(daemon.child, 'exit'), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      return { startMs, idle, after, peak, suiteS: result.ms / 1000, passed: result.passed, failed: result.failed };
    } finally {
      await daemon.stop();
    }
  };
  await solo(rec, {
    id: 'lab-1',
    group: 'embedded lab',
    runs,
    run: () => session('1'),
    metrics: [
      { key: 'startMs', title: 'embedded lab: start to every port accepting', unit: 'ms', better: 'lower' },
      { key: 'idle', title: 'embedded lab: memory idle (all services)', unit: 'MB', better: 'lower', target: LAB_TARGET },
      { key: 'after', title: 'embedded lab: memory after 1 scenario', unit: 'MB', better: 'lower', target: LAB_TARGET },
    ],
  });
  if (settings.quick) return;
  await solo(rec, {
    id: 'lab-all',
    group: 'embedded lab',
    runs,
    run: () => session('all'),
    metrics: [
      { key: 'after', title: 'embedded lab: memory after all scenarios', unit: 'MB', better: 'lower', target: LAB_TARGET },
      { key: 'peak', title: 'embedded lab: peak memory during all scenarios', unit: 'MB', better: 'lower', target: LAB_TARGET },
      { key: 'suiteS', title: 'embedded lab: time for all scenarios', unit: 's', better: 'lower' },
      { key: 'failed', title: 'embedded lab: scenarios failed', unit: 'count', better: 'lower' },
    ],
  });
}

/** The next line of JSON the lab process prints; fails if it exits first, or after 120 s. */
function nextLine(lines: readline.Interface, daemon: Daemon): () => Promise<unknown> {
  const queue: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  lines.on('line', (line) => (waiting ? (waiting(line), (waiting = undefined)) : queue.push(line)));
  return () =>
    new Promise((resolve, reject) => {
      const take = (line: string): void => {
        clearTimeout(timer);
        daemon.child.off('exit', onExit);
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`the lab process printed ${JSON.stringify(line)}, not JSON`));
        }
      };
      const onExit = (): void => reject(new Error(`the lab process exited: ${daemon.failure()}`));
      const timer = setTimeout(() => reject(new Error('the lab process did not answer within 120 s')), 120_000);
      daemon.child.once('exit', onExit);
      const queued = queue.shift();
      if (queued !== undefined) take(queued);
      else waiting = take;
    });
}
