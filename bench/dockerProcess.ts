/**
 * One Docker lab, up and down again, for the bench's Docker figures (bench/suites/docker.ts
 * runs this under `flock /tmp/wirelab-docker.lock`, so it never meets another Docker user
 * of this machine's lab network). Prints one line of JSON: the seconds from `compose up`
 * to every service healthy, and the lab image's size.
 *
 *   node dist/bench/dockerProcess.js
 *
 * Its own Compose project (wirelabbench) and free ports on 127.0.0.1 (tests/helpers' freeLabPorts()).
 */
import { DockerBackend, LAB_IMAGE } from '../lab-runner/backends/docker/backend';
import { freeLabPorts } from '../tests/helpers/docker';

const PROJECT = 'wirelabbench';

async function main(): Promise<void> {
  Object.assign(process.env, await freeLabPorts()); // Compose reads them, as from .env
  const lab = new DockerBackend({ project: PROJECT });
  await lab.down().catch(() => {}); // what an interrupted run may have left
  const started = process.hrtime.bigint();
  try {
    await lab.start();
    const healthyS = Number(process.hrtime.bigint() - started) / 1e9;
    const image = await lab.containers.docker.getImage(LAB_IMAGE).inspect();
    process.stdout.write(JSON.stringify({ healthyS, imageMB: image.Size / 2 ** 20 }) + '\n');
  } finally {
    await lab.down();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`dockerProcess: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
