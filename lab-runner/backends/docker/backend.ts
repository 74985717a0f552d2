import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { packageRoot } from '../../../services/common/paths';
import { LabNetwork, STACK, type Endpoint } from '../../wire';
import type { Backend, LabAction, LabActionOptions, ServiceStatus } from '../types';
import type { RunResult } from '../../result';
import type { Scenario } from '../../scenario/load';
import { CAPTURE_PROFILE, captureSettings, prepareCaptureFile, runningCapture, startLabCapture, stopLabCapture, waitCapturing, type LabCaptureDone } from './capture';
import { runInClient, type ClientRunOptions } from './client';
import { compose, composeName } from './compose';
import { LabContainers, SHARES_NETWORK_WITH } from './control';
import { composeFailed, labAlreadyUp, noEngine, noImage, portTaken, subnetTaken, type NetworkInTheWay } from './errors';
import { composeSettings, labSubnet, type ComposeSettings } from './settings';

/**
 * The lab as Docker containers, driven from the host: Compose brings the stack up and
 * down (compose.yaml); the Docker API (dockerode) checks the engine, waits for health,
 * reads status and logs, and acts on containers for `lab` steps. Scenarios run inside
 * the lab network, in the `client` container (client.ts), where names and addresses
 * are the real ones; network() maps the lab to the ports published on 127.0.0.1, for
 * clients on this machine.
 */

export const LAB_IMAGE = process.env.WIRELAB_IMAGE ?? 'wirelab/lab:latest';
export const CLIENT_IMAGE = process.env.WIRELAB_CLIENT_IMAGE ?? 'wirelab/client:latest';

export interface DockerBackendOptions {
  /** The Compose project: COMPOSE_PROJECT_NAME, else `wirelab`. */
  project?: string;
  /** Use a lab that is already up (this project's, or the one on the lab network) and leave it up. Default: such a lab is an error. */
  reuse?: boolean;
  /** Leave the lab up at stop(). Default: stop() removes what start() made. */
  keep?: boolean;
  /** Default: the lab/ of this checkout (the one compose.yaml mounts). */
  labDir?: string;
  /** Default: 120 s. */
  startTimeoutMs?: number;
  /** Capture the whole lab's packets into this file (compose.yaml's capture service), from start() until stop() or down(). */
  capture?: string;
}

export class DockerBackend implements Backend {
  readonly name = 'docker';
  readonly labDir: string;
  /** The lab's .env, as Compose reads it. */
  readonly settings: ComposeSettings = composeSettings();
  private current: LabContainers;
  /** True when start() brought the lab up: stop() takes it down again. */
  private startedHere = false;
  private net?: LabNetwork;
  /** True when the capture service was started here: stop() ends it. */
  private capturingHere = false;
  /** Set by start() when `capture` was asked and the lab was capturing already: that capture's file. */
  capturingAlready?: string;

  constructor(private readonly options: DockerBackendOptions = {}) {
    this.current = new LabContainers(options.project ?? process.env.COMPOSE_PROJECT_NAME ?? 'wirelab');
    this.labDir = options.labDir ?? path.join(packageRoot(), 'lab');
  }

  /** The Compose project of the lab in use (the running one's, after start() with reuse). */
  get project(): string {
    return this.current.project;
  }

  get containers(): LabContainers {
    return this.current;
  }

  /** True when start() found a lab up and used it. */
  get reused(): boolean {
    return !this.startedHere;
  }

  /**
   * Bring the lab up and wait until every service is healthy; with `reuse`, use the lab
   * that is up already. Every failure says what is wrong and what to do.
   */
  async start(): Promise<void> {
    await this.checkEngine();
    for (const image of [LAB_IMAGE, CLIENT_IMAGE]) {
      try {
        await this.current.docker.getImage(image).inspect();
      } catch {
        throw noImage(image);
      }
    }
    const running = await this.runningLab();
    if (running) {
      if (!this.options.reuse) throw labAlreadyUp(running, composeName());
      this.current = new LabContainers(running);
    } else {
      const inTheWay = await this.networkInTheWay();
      if (inTheWay?.isLab && inTheWay.project && this.options.reuse) this.current = new LabContainers(inTheWay.project);
      else if (inTheWay) throw subnetTaken(inTheWay, this.settings, composeName());
      else await this.up();
    }
    if (this.options.capture) await this.startCapture(this.options.capture);
    await this.waitHealthy(this.options.startTimeoutMs ?? 120_000);
    this.net = await this.hostNetwork();
  }

  /** Remove what start() made (containers, network, volumes), unless the lab was reused or kept; end a capture started here. */
  async stop(): Promise<void> {
    if (this.capturingHere) await this.stopCapture();
    if (this.startedHere && !this.options.keep) await this.down();
  }

  /** End the capture service cleanly (tcpdump finishes its file): what it wrote, if it ran. */
  async stopCapture(): Promise<LabCaptureDone | undefined> {
    this.capturingHere = false;
    return stopLabCapture(this.current);
  }

  /** With up(): the capture started with the lab (its first DNS lookups too); on a lab that is up: started now, unless one runs already. */
  private async startCapture(file: string): Promise<void> {
    if (this.startedHere) {
      await waitCapturing(this.current);
    } else {
      this.capturingAlready = await runningCapture(this.current);
      if (this.capturingAlready !== undefined) return;
      await startLabCapture(this.current, file);
    }
    this.capturingHere = true;
  }

  network(): LabNetwork {
    if (!this.net) throw new Error('the Docker lab is not started');
    return this.net;
  }

  control(service: string, action: LabAction, options?: LabActionOptions): Promise<ServiceStatus> {
    return this.current.act(service, action, options);
  }

  clearTlsFaults(): Promise<string[]> {
    return this.current.clearTlsFaults();
  }

  status(): Promise<ServiceStatus[]> {
    return Promise.all(STACK.map((s) => this.current.status(s.name)));
  }

  logs(service: string, since?: Date): Promise<string[]> {
    return this.current.logs(service, since);
  }

  /** Run scenarios from the client container inside the lab network (see client.ts). */
  runScenarios(scenarios: Scenario[], options: ClientRunOptions): Promise<{ code: number; result?: RunResult }> {
    return runInClient(this, scenarios, options);
  }

  /** Remove the containers and the network, and the volumes too unless asked to keep them; a capture is ended first, its file finished. */
  async down(options: { volumes?: boolean } = {}): Promise<LabCaptureDone | undefined> {
    const captured = await this.stopCapture();
    const args = [...CAPTURE_PROFILE, 'down', '--remove-orphans', ...(options.volumes === false ? [] : ['--volumes'])];
    const { code, output } = await compose(args, { project: this.project });
    if (code !== 0) throw composeFailed(output, `${composeName()} down`);
    return captured;
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

  private async checkEngine(): Promise<void> {
    try {
      await this.current.docker.ping();
    } catch (err) {
      const where = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
      const e = err as NodeJS.ErrnoException;
      throw noEngine(where, e.code ? `${e.code}` : e.message);
    }
  }

  private async up(): Promise<void> {
    this.startedHere = true;
    const capture = this.options.capture;
    if (capture) await prepareCaptureFile(capture);
    // With --capture the capture service comes up with the lab: the bridge exists before any container starts.
    const { code, output } = await compose([...(capture ? CAPTURE_PROFILE : []), 'up', '-d', '--remove-orphans'], { project: this.project, env: capture ? captureSettings(capture) : undefined });
    if (code === 0) return;
    // Leave nothing half made: the next try starts clean.
    await compose([...CAPTURE_PROFILE, 'down', '--volumes', '--remove-orphans'], { project: this.project });
    this.startedHere = false;
    if (/Pool overlaps/i.test(output)) throw subnetTaken(await this.networkInTheWay(), this.settings, composeName());
    throw portTaken(output, this.settings) ?? composeFailed(output, `${composeName()} up`);
  }

  /** This project's lab, when its containers are running: the project's name. */
  private async runningLab(): Promise<string | undefined> {
    const found = await this.current.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${this.project}`], status: ['running', 'paused', 'restarting'] },
    });
    return found.some((c) => c.Labels['com.docker.compose.oneoff'] !== 'True') ? this.project : undefined;
  }

  /** A Docker network (another project's lab, or anything else) on the lab network's addresses. */
  private async networkInTheWay(): Promise<NetworkInTheWay | undefined> {
    const ours = labSubnet(this.settings);
    for (const summary of await this.current.docker.listNetworks()) {
      const project = summary.Labels?.['com.docker.compose.project'];
      if (project === this.project) continue; // our own, left from a stopped lab: Compose reuses it
      for (const config of summary.IPAM?.Config ?? []) {
        if (!config.Subnet || !overlaps(config.Subnet, ours)) continue;
        return { network: summary.Name, subnet: config.Subnet, project, isLab: Boolean(project) && summary.Name === `${project}_lab` };
      }
    }
    return undefined;
  }

  /** Each lab port at the port Docker published it on 127.0.0.1 (POP3's are on its SMTP container). */
  private async hostNetwork(): Promise<LabNetwork> {
    const endpoints = new Map<string, Record<string, Endpoint>>();
    for (const plan of STACK) {
      const owner = Object.entries(SHARES_NETWORK_WITH).find(([, sharers]) => sharers.includes(plan.name))?.[0] ?? plan.name;
      const info = await (await this.current.container(owner)).inspect();
      const ports: Record<string, Endpoint> = {};
      for (const [portName, port] of Object.entries(plan.ports)) {
        const binding = info.NetworkSettings.Ports?.[`${port.lab}/tcp`]?.[0];
        if (binding) ports[portName] = { host: binding.HostIp || '127.0.0.1', port: Number(binding.HostPort) };
      }
      endpoints.set(plan.name, ports);
    }
    return LabNetwork.fromEndpoints(endpoints);
  }
}

/** Whether two IPv4 CIDR blocks share an address. */
export function overlaps(a: string, b: string): boolean {
  const parse = (cidr: string): [number, number] | undefined => {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
    if (!m) return undefined;
    const ip = ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
    const bits = +m[5]!;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return [(ip & mask) >>> 0, mask];
  };
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return false;
  const mask = (x[1] & y[1]) >>> 0; // the shorter prefix
  return (x[0] & mask) >>> 0 === (y[0] & mask) >>> 0;
}
