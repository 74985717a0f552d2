import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DockerBackend } from '../../lab-runner/backends/docker/backend';
import { compose } from '../../lab-runner/backends/docker/compose';
import { SHARES_NETWORK_WITH } from '../../lab-runner/backends/docker/control';
import { composeSettings, publishedPorts } from '../../lab-runner/backends/docker/settings';
import { freeLabPorts } from '../../tests/helpers/docker';
import { SOAK_SERVICES, type SoakLab } from './lab';

/**
 * The Docker backend of the soak: the lab's containers (compose.yaml), brought up by the
 * Docker backend of the runner (lab-runner/backends/docker) in the Compose project of the
 * Docker tests, `wirelabtest` (the lab network's addresses are fixed: one lab at a time
 * on a machine), with every published port moved to a free one on 127.0.0.1, as a person
 * would in .env. The kill is `docker kill` (SIGKILL to the container), the restart
 * `docker-compose up -d` of the service (and a restart of the containers that share its
 * network: POP3 and IMAP live in SMTP's). What was kept is read from the volumes once the
 * containers are stopped, with `docker cp` into a folder here, so that the count is the
 * same code as for the embedded lab. At the end `down --volumes` throws everything away.
 *
 * Run it under the machine's Docker lock: `flock /tmp/wirelab-docker.lock npm run soak -- --docker`.
 */

export const SOAK_PROJECT = 'wirelabtest';

const run = promisify(execFile);

/** Where each kind of data lives in the containers, and a container that mounts it. */
const VOLUMES = [
  { folder: 'mail', service: 'smtp' },
  { folder: 'homes', service: 'ftp' },
];

export class DockerLab implements SoakLab {
  private backend?: DockerBackend;
  private readonly ports = new Map<string, number>();
  private readonly peak = new Map<string, number>();
  private sampling = false;
  private sampler?: Promise<void>;
  private dataDir = '';
  /** The LAB_*_PORT variables set here, put back as they were by close(). */
  private readonly saved = new Map<string, string | undefined>();

  async start(): Promise<void> {
    // Every published port moved to a free one: the standard ones may be held by an embedded lab.
    // FTP's passive range too: the embedded lab (and its --capture) use 30000-30009.
    for (const [variable, value] of Object.entries(await freeLabPorts())) {
      this.saved.set(variable, process.env[variable]);
      process.env[variable] = value;
    }
    // The first port of each service is its main one (smtp's 25, not 587).
    for (const p of publishedPorts(composeSettings())) if (!this.ports.has(p.service)) this.ports.set(p.service, p.hostPort);
    this.backend = new DockerBackend({ project: SOAK_PROJECT });
    process.stderr.write(`soak: bringing the Docker lab up (Compose project ${SOAK_PROJECT})...\n`);
    const t0 = Date.now();
    await this.backend.start();
    process.stderr.write(`soak: the Docker lab is healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    this.sampling = true;
    this.sampler = this.sample();
  }

  port(service: string): number {
    const port = this.ports.get(service);
    if (!port) throw new Error(`the Docker lab publishes no port for ${service}`);
    return port;
  }

  async killAndRestart(service: string, when: string): Promise<void> {
    const container = await this.backend!.containers.container(service);
    process.stderr.write(`soak: docker kill ${service} (container ${(await container.inspect()).Name.replace(/^\//, '')}) ${when}\n`);
    await container.kill({ signal: 'SIGKILL' });
    const t0 = Date.now();
    const up = await compose(['up', '-d', service], { project: SOAK_PROJECT });
    if (up.code !== 0) throw new Error(`compose up -d ${service} failed:\n${up.output}`);
    // Their network was the killed container's: back in the new one (as the runner's `lab: start` does).
    const sharers = SHARES_NETWORK_WITH[service] ?? [];
    if (sharers.length) {
      const restart = await compose(['restart', ...sharers], { project: SOAK_PROJECT });
      if (restart.code !== 0) throw new Error(`compose restart ${sharers.join(' ')} failed:\n${restart.output}`);
    }
    await this.healthy([service, ...sharers], 120_000);
    process.stderr.write(`soak: ${[service, ...sharers].join(', ')} healthy again after ${Date.now() - t0} ms\n`);
  }

  async stop(): Promise<Map<string, number | null>> {
    this.sampling = false;
    await this.sampler;
    // Compose stops them in the order of their dependencies, each with SIGTERM and its stop_grace_period.
    const stopped = await compose(['stop', ...SOAK_SERVICES], { project: SOAK_PROJECT });
    if (stopped.code !== 0) throw new Error(`compose stop failed:\n${stopped.output}`);
    const codes = new Map<string, number | null>();
    for (const service of SOAK_SERVICES) {
      const state = (await (await this.backend!.containers.container(service)).inspect()).State;
      // 137 is SIGKILL: the service did not finish within its grace.
      codes.set(service, state.Running ? null : state.ExitCode);
    }
    return codes;
  }

  peakMemory(): Map<string, number> {
    return new Map(this.peak);
  }

  /** mail/ and homes/ out of the volumes, through the (stopped) containers that mount them. */
  async data(): Promise<string> {
    this.dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-soak-docker-'));
    for (const { folder, service } of VOLUMES) {
      const container = await this.backend!.containers.container(service);
      await run('docker', ['cp', `${container.id}:/data/${folder}`, path.join(this.dataDir, folder)]);
    }
    return this.dataDir;
  }

  async close(keep: boolean): Promise<void> {
    this.sampling = false;
    await this.sampler;
    try {
      if (this.backend) {
        process.stderr.write(`soak: ${SOAK_PROJECT} down --volumes\n`);
        await this.backend.stop();
      }
    } finally {
      for (const [variable, value] of this.saved) {
        if (value === undefined) delete process.env[variable];
        else process.env[variable] = value;
      }
      if (this.dataDir && keep) process.stderr.write(`soak: data copied out of the volumes kept in ${this.dataDir}\n`);
      else if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
    }
  }

  /** Wait until each service's container reports healthy (compose.yaml's checks talk the protocol). */
  private async healthy(services: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const service of services) {
      const container = await this.backend!.containers.container(service);
      for (;;) {
        const state = (await container.inspect()).State;
        if (state.Health?.Status === 'healthy') break;
        if (Date.now() > deadline) throw new Error(`${service} was not healthy again within ${timeoutMs / 1000} s (${state.Health?.Status ?? state.Status})`);
        await delay(250);
      }
    }
  }

  /** Each container's memory (the engine's figure, less the page cache), every 2 s while the soak runs. */
  private async sample(): Promise<void> {
    while (this.sampling) {
      await Promise.all(
        SOAK_SERVICES.map(async (service) => {
          try {
            const stats = await (await this.backend!.containers.container(service)).stats({ stream: false, 'one-shot': true } as { stream: false });
            const memory = stats.memory_stats as { usage?: number; stats?: { inactive_file?: number; cache?: number } };
            const used = (memory.usage ?? 0) - (memory.stats?.inactive_file ?? memory.stats?.cache ?? 0);
            this.peak.set(service, Math.max(this.peak.get(service) ?? 0, used));
          } catch {
            // Killed and not back yet: no figure this round.
          }
        }),
      );
      await delay(2000);
    }
  }
}
