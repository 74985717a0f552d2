import path from 'node:path';
import Docker from 'dockerode';
import { CLIENT_IMAGE, LAB_IMAGE } from '../../lab-runner/backends/docker/backend';
import { DOCKER_SOCKET } from '../../lab-runner/backends/docker/control';
import { packageRoot } from '../../services/common/paths';
import { solo, type Recorder, type Values } from '../figures';
import { has } from '../packages';
import { runTool } from '../process';

/**
 * The Docker lab: `compose up` to every service healthy, and the lab image's size.
 * Only when Docker is here with the images built (`npm run images`), and only holding
 * /tmp/wirelab-docker.lock (flock), which every Docker user of this machine's lab
 * takes: the bench waits for it (--quick: at most a minute) and never runs beside
 * another Docker lab.
 */

export const DOCKER_LOCK = '/tmp/wirelab-docker.lock';

export async function dockerSuite(rec: Recorder): Promise<void | string> {
  if (!has('flock')) return 'no flock (util-linux) to take the Docker lock with';
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  try {
    await docker.ping();
  } catch {
    return `no Docker engine answers at ${DOCKER_SOCKET}`;
  }
  for (const image of [LAB_IMAGE, CLIENT_IMAGE]) {
    try {
      await docker.getImage(image).inspect();
    } catch {
      return `the image ${image} is not built (npm run images)`;
    }
  }
  const waitS = rec.settings.quick ? 60 : 900;
  let busy = false;
  const run = async (): Promise<Values> => {
    try {
      const { stdout } = await runTool(
        'flock',
        ['-w', String(waitS), DOCKER_LOCK, process.execPath, path.join(packageRoot(), 'dist', 'bench', 'dockerProcess.js')],
        (waitS + 300) * 1000,
      );
      return JSON.parse(stdout.trim().split('\n').pop()!) as Values;
    } catch (err) {
      // flock -w gives up with status 1 and says nothing: the lock is someone else's.
      if (/failed \(1\):\s*$/.test((err as Error).message)) busy = true;
      throw err;
    }
  };
  try {
    await solo(rec, {
      id: 'docker',
      group: 'docker',
      runs: rec.settings.pairs,
      run,
      metrics: [
        { key: 'healthyS', title: 'Docker lab: compose up to every service healthy', unit: 's', better: 'lower' },
        { key: 'imageMB', title: `Docker lab: image size (${LAB_IMAGE})`, unit: 'MB', better: 'lower' },
      ],
    });
  } catch (err) {
    if (busy) return `Docker is busy: ${DOCKER_LOCK} was held by another user for ${waitS} s`;
    throw err;
  }
}
