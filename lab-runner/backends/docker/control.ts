import { existsSync } from 'node:fs';
import os from 'node:os';
import Docker from 'dockerode';
import type { LabAction, LabActionOptions, ServiceStatus } from '../types';
import { STACK } from '../../wire';
import { tlsFaultOf } from '../faults';

/**
 * The lab's containers, through the Docker API (dockerode): find a service's
 * container by its Compose labels, act on it (stop, start, restart, pause, unpause,
 * disconnect from / reconnect to the lab network), read its health and logs.
 * Used by the docker backend on the host and by the runner inside the client container
 * when the Docker socket is mounted there.
 */

export type DockerAction = LabAction | 'pause' | 'unpause' | 'disconnect' | 'connect';

export const DOCKER_SOCKET = '/var/run/docker.sock';

/**
 * POP3 and IMAP run in their own containers but share their SMTP container's network
 * (compose.yaml: network_mode service:smtp), so mail.lab.test is one address for all.
 * When the SMTP container stops or restarts, that network is gone: they must be restarted too.
 */
export const SHARES_NETWORK_WITH: Record<string, string[]> = { smtp: ['pop3', 'imap'], 'smtp-example': ['pop3-example'] };

export function dockerAvailable(): boolean {
  return existsSync(DOCKER_SOCKET);
}

/**
 * Inside a container of the lab: the Compose project is the one whose network holds
 * this container's address. (Compose names the project after the checkout's folder
 * unless told otherwise, so it cannot be written into compose.yaml.)
 */
export async function discoverProject(): Promise<string | undefined> {
  const own = Object.values(os.networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  for (const summary of await docker.listNetworks()) {
    const project = summary.Labels?.['com.docker.compose.project'];
    if (!project) continue;
    const info = (await docker.getNetwork(summary.Id).inspect()) as { Containers?: Record<string, { IPv4Address?: string }> };
    if (Object.values(info.Containers ?? {}).some((c) => own.includes((c.IPv4Address ?? '').split('/')[0]!))) return project;
  }
  return undefined;
}

export class LabContainers {
  /** The engine at DOCKER_HOST, else /var/run/docker.sock (mounted there in the client container). */
  readonly docker = new Docker();

  /** @param project the Compose project name (`wirelab` unless COMPOSE_PROJECT_NAME says otherwise). */
  constructor(readonly project: string) {}

  async container(service: string): Promise<Docker.Container> {
    const found = await this.docker.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${this.project}`, `com.docker.compose.service=${service}`] },
    });
    const first = found.find((c) => c.Labels['com.docker.compose.oneoff'] !== 'True') ?? found[0];
    if (!first) throw new Error(`no container for the lab service ${service} in the Compose project ${this.project}: is the lab up?`);
    return this.docker.getContainer(first.Id);
  }

  /** The lab network's Docker name: `<project>_lab`. */
  get network(): string {
    return `${this.project}_lab`;
  }

  async act(service: string, action: DockerAction, options: LabActionOptions = {}): Promise<ServiceStatus> {
    if (action === 'tls-fault') return this.tlsFault(service, options);
    const container = await this.container(service);
    const info = await container.inspect();
    switch (action) {
      case 'stop':
        if (info.State.Running) await container.stop({ t: 10 });
        break;
      case 'start':
        if (info.State.Paused) await container.unpause();
        else if (!info.State.Running) await container.start();
        break;
      case 'restart':
        await container.restart({ t: 10 });
        break;
      case 'pause':
        if (!info.State.Paused) await container.pause();
        break;
      case 'unpause':
        if (info.State.Paused) await container.unpause();
        break;
      case 'disconnect':
        if (info.NetworkSettings.Networks[this.network]) await this.docker.getNetwork(this.network).disconnect({ Container: info.Id });
        break;
      case 'connect': {
        if (!info.NetworkSettings.Networks[this.network]) {
          // Back at its fixed address, the one the zone files publish.
          const address = STACK.find((s) => s.name === service)?.address;
          await this.docker.getNetwork(this.network).connect({ Container: info.Id, EndpointConfig: address ? { IPAMConfig: { IPv4Address: address } } : {} });
        }
        break;
      }
      case 'duplicate':
        return { ...(await this.status(service)), info: await this.duplicate(info) };
      case 'status':
        break;
    }
    if (['start', 'restart', 'connect', 'unpause'].includes(action)) {
      for (const dependent of SHARES_NETWORK_WITH[service] ?? []) await (await this.container(dependent)).restart({ t: 10 });
    }
    return this.status(service);
  }

  async status(service: string): Promise<ServiceStatus> {
    const plan = STACK.find((s) => s.name === service);
    const info = await (await this.container(service)).inspect();
    const state = info.State.Running && !info.State.Paused ? 'running' : 'stopped';
    const health = info.State.Health?.Status;
    const net = info.NetworkSettings.Networks[this.network];
    const endpoints: Record<string, string> = {};
    for (const [portName, port] of Object.entries(plan?.ports ?? {})) endpoints[portName] = `${net?.IPAddress || plan?.address}:${port.lab}`;
    const published = Object.entries(info.NetworkSettings.Ports ?? {})
      .filter(([, b]) => b?.length)
      .map(([p, b]) => `${b![0]!.HostIp}:${b![0]!.HostPort}->${p}`);
    const fingerprint = service === 'sftp' ? await this.fingerprint(service) : undefined;
    return {
      name: service,
      host: plan?.host ?? service,
      state,
      endpoints,
      info: {
        container: info.Name.replace(/^\//, ''),
        state: info.State.Paused ? 'paused' : info.State.Status,
        ...(health ? { health } : {}),
        address: net ? net.IPAddress : info.HostConfig.NetworkMode?.startsWith('container:') ? `${plan?.address} (shared)` : 'disconnected',
        ...(published.length ? { published: published.join(' ') } : {}),
        ...(fingerprint ? { fingerprint } : {}),
      },
    };
  }

  /**
   * A second copy of the service in the same network namespace as the first (so on
   * the same address): it tries to bind the same port and exits with the error it got.
   */
  private async duplicate(original: Docker.ContainerInspectInfo): Promise<Record<string, string>> {
    const copy = await this.docker.createContainer({
      Image: original.Config.Image,
      Cmd: original.Config.Cmd,
      Env: original.Config.Env,
      User: original.Config.User,
      HostConfig: { NetworkMode: `container:${original.Id}`, Binds: original.HostConfig.Binds ?? [] },
      Labels: { 'wirelab.duplicate-of': original.Name },
    });
    try {
      await copy.start();
      const done = (await Promise.race([copy.wait(), new Promise((r) => setTimeout(() => r(undefined), 15000))])) as { StatusCode: number } | undefined;
      const output = demux((await copy.logs({ stdout: true, stderr: true })) as unknown as Buffer).trim();
      if (!done) return { duplicate: 'started', output: output.split('\n').pop() ?? '' };
      const error = output.split('\n').filter(Boolean).pop() ?? '';
      return { duplicate: done.StatusCode === 0 ? 'started' : 'refused', error, code: /already in use|EADDRINUSE/.test(error) ? 'EADDRINUSE' : String(done.StatusCode) };
    } finally {
      await copy.remove({ force: true }).catch(() => {});
    }
  }

  /**
   * A certificate lesson on or off: the service's own container writes its fault file
   * (`main.js tls-fault SERVICE FAULT|none`) into the tls volume, where the service reads
   * it as each connection arrives.
   */
  private async tlsFault(service: string, options: LabActionOptions): Promise<ServiceStatus> {
    const plan = STACK.find((s) => s.name === service);
    if (!plan) throw new Error(`no lab service named ${service}`);
    const fault = tlsFaultOf(plan, options) ?? 'none';
    await this.run(service, ['tls-fault', service, fault]);
    const status = await this.status(service);
    return fault === 'none' ? status : { ...status, info: { ...status.info, tlsFault: fault } };
  }

  /** Every certificate lesson off, from one container (the tls volume is the same in all): the services one was on for. */
  async clearTlsFaults(): Promise<string[]> {
    const off = /^tls faults off: (.*)$/m.exec(await this.run('http', ['tls-fault', 'all', 'none']))?.[1] ?? NONE_WAS_ON;
    return off === NONE_WAS_ON ? [] : off.split(' ');
  }

  /** `node /app/dist/services/main.js ARGS` in the service's container (docker exec): its output, or an error with it. */
  private async run(service: string, args: string[]): Promise<string> {
    const container = await this.container(service);
    const exec = await container.exec({ Cmd: ['node', '/app/dist/services/main.js', ...args], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const output = demux(Buffer.concat(chunks)).trim();
    const { ExitCode } = await exec.inspect();
    if (ExitCode !== 0) throw new Error(`${args.join(' ')} in ${service}'s container failed (exit ${ExitCode}): ${output}`);
    return output;
  }

  /** The service's log lines (since a moment), as the service wrote them. */
  async logs(service: string, since?: Date): Promise<string[]> {
    const container = await this.container(service);
    const raw = (await container.logs({ stdout: true, stderr: true, follow: false, since: since ? Math.floor(since.getTime() / 1000) : 0 })) as unknown as Buffer;
    return demux(raw)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter((l) => !since || !/^\d{4}-/.test(l) || Date.parse(l.split(' ')[0]!) >= since.getTime());
  }

  /** The SFTP host key fingerprint, from the line the service logs when it starts. */
  private async fingerprint(service: string): Promise<string | undefined> {
    const lines = await this.logs(service).catch(() => []);
    // Only the `listening ... hostKey=` line: other lines name users' key fingerprints.
    for (const line of lines.reverse()) {
      const match = /\blistening\b.*\bhostKey=(SHA256:[A-Za-z0-9+/]+)/.exec(line);
      if (match) return match[1];
    }
    return undefined;
  }
}

/** What `main.js tls-fault all none` says when there was nothing to switch off. */
const NONE_WAS_ON = 'none was on';

/** Docker's log stream without a TTY: 8-byte frame headers (stream, size) before each chunk. */
export function demux(raw: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The lab services Compose runs, in plan order. */
export const COMPOSE_SERVICES = STACK.map((s) => s.name);
