import { setTimeout as delay } from 'node:timers/promises';
import { LabContainers } from './control';
import { compose } from './compose';
import { STACK } from '../stack';
import type { ServiceStatus } from '../types';

/**
 * The lab as Docker containers, driven from the host: Compose brings the stack up and
 * down; the Docker API (dockerode) waits for health, reads status and logs. Scenarios
 * run inside the lab network, in a `client` container (see runClient).
 */

export const DEFAULT_IMAGE = process.env.WIRELAB_IMAGE ?? 'wirelab/lab:latest';

export class DockerLab {
  readonly containers: LabContainers;

  constructor(readonly project = process.env.COMPOSE_PROJECT_NAME ?? 'wirelab') {
    this.containers = new LabContainers(project);
  }

  /** Start every service (the client is not one: it runs on demand) and wait until all are healthy. */
  async up(timeoutMs = 120_000): Promise<void> {
    try {
      await this.containers.docker.getImage(DEFAULT_IMAGE).inspect();
    } catch {
      throw new Error(`the lab image ${DEFAULT_IMAGE} is not built yet: run \`npm run images\` first (it needs no registry)`);
    }
    const { code, output } = await compose(['up', '-d', '--remove-orphans'], { project: this.project });
    if (code !== 0) throw new Error(`docker compose up failed:\n${output.trim()}`);
    await this.waitHealthy(timeoutMs);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: ServiceStatus[] = [];
    while (Date.now() < deadline) {
      last = await this.status();
      if (last.every((s) => s.info?.health === 'healthy')) return;
      const dead = last.find((s) => s.info?.state === 'exited');
      if (dead) throw new Error(`${dead.name} stopped while starting. Its log:\n${(await this.logs(dead.name)).slice(-15).join('\n')}`);
      await delay(500);
    }
    const waiting = last.filter((s) => s.info?.health !== 'healthy').map((s) => `${s.name} (${s.info?.health ?? s.info?.state})`);
    throw new Error(`the lab did not become healthy in ${timeoutMs / 1000} s: ${waiting.join(', ')}`);
  }

  /** Remove the containers and the network, and the volumes too unless asked to keep them. */
  async down(options: { volumes?: boolean } = {}): Promise<void> {
    const args = ['down', '--remove-orphans', ...(options.volumes === false ? [] : ['--volumes'])];
    const { code, output } = await compose(args, { project: this.project });
    if (code !== 0) throw new Error(`docker compose down failed:\n${output.trim()}`);
  }

  status(): Promise<ServiceStatus[]> {
    return Promise.all(STACK.map((s) => this.containers.status(s.name)));
  }

  logs(service: string, since?: Date): Promise<string[]> {
    return this.containers.logs(service, since);
  }

  /**
   * `wirelab ARGS` in a client container on the lab network (compose.yaml gives it the
   * Docker socket, so `lab` steps can act on containers and failures show the services'
   * logs), with `work` mounted at /work. Its output streams to ours; resolves with its exit code.
   */
  async runClient(args: string[], work: string): Promise<number> {
    const env = ['-e', `WIRELAB_PROJECT=${this.project}`];
    if ('NO_COLOR' in process.env) env.push('-e', 'NO_COLOR=1');
    else if (process.stdout.isTTY || 'FORCE_COLOR' in process.env) env.push('-e', 'FORCE_COLOR=1');
    const { code } = await compose(
      ['run', '--rm', '-T', '-v', `${work}:/work`, ...env, 'client', 'wirelab', ...args],
      { project: this.project, inherit: true },
    );
    return code;
  }
}
