import os from 'node:os';
import path from 'node:path';
import { Child } from './process';

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
