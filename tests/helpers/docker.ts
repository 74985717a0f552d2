import os from 'node:os';
import path from 'node:path';
import { publishedPorts, PASSIVE_PORTS_VARIABLE } from '../../lab-runner/backends/docker/settings';
import { freePort, freePortRange } from './ports';
import { Child } from './process';

/**
 * Settings for a Docker lab in the tests: every published port moved to a free one
 * (the standard ones may be held by an embedded lab on this machine), as a person
 * would in .env. Pass them in the environment: Compose and wirelab both read it.
 */
export async function freeLabPorts(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const p of publishedPorts({})) env[p.variable] = String(await freePort(p.service === 'dns'));
  const passive = await freePortRange(10);
  env[PASSIVE_PORTS_VARIABLE] = `${passive.from}-${passive.to}`;
  return env;
}

/**
 * One Docker lab at a time: every Docker test brings up Compose project `wirelabtest` on
 * the lab's fixed subnet, and Jest runs test files in parallel. Holds flock(1) on a file
 * until the returned function is called; the kernel lets go if the test process dies, so
 * a crashed run leaves no stale lock. The wait names what it waits for.
 */
export async function holdDockerLab(ms = 15 * 60_000): Promise<() => Promise<void>> {
  const holder = Child.start('flock', [path.join(os.tmpdir(), 'wirelabtest-docker.lock'), '-c', 'echo locked; exec cat'], { stdin: 'pipe', name: 'flock (the Docker lab of the tests)' });
  try {
    await holder.waitFor(/^locked$/, { ms });
  } catch (err) {
    await holder.stop('SIGKILL');
    throw new Error(`the Docker lab of the tests was not free within ${ms} ms (another Docker test file held it): ${(err as Error).message}`);
  }
  return async () => {
    holder.process.stdin?.end();
    await holder.exit();
  };
}
