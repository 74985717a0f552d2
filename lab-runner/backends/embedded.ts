import dgram from 'node:dgram';
import net from 'node:net';
import { createLogger, type Level } from '../../services/common/logger';
import { caCertificateFile, clearFaults, readFault, setFault } from '../../services/common/tlsFaults';
import { hasTls, LabNetwork, STACK, type Endpoint, type ServicePlan } from '../wire';
import { tlsFaultOf } from './faults';
import { SERVICE_FACTORIES, type RunningService } from './services';
import type { Backend, LabAction, LabActionOptions, ServiceStatus, Targets } from './types';

/**
 * The embedded backend: every lab service in this Node process, on 127.0.0.1, at the
 * embedded ports of the lab plan (5353, 8080, ...) or on free ports (for tests and
 * for running beside a lab that is already up).
 */

export interface EmbeddedOptions {
  labDir: string;
  dataDir: string;
  /** Bind every service to a free port instead of its embedded port. Default: false. */
  freePorts?: boolean;
  /** Default: 127.0.0.1. The lab is for this machine only (DESIGN principle 5). */
  host?: string;
  /** Ports to use instead of the plan's, per service and port name: `{ http: { http: 9000 } }`. */
  ports?: Record<string, Record<string, number>>;
  /** Services whose traffic goes to another server instead: not started here. */
  targets?: Targets;
  /** Only these services (default: all in the plan). */
  only?: string[];
  /** Also hand each log line to this function (`wirelab up` prints them). */
  onLog?: (service: string, line: string, level: Level) => void;
  /** How many recent log lines to keep per service. Default: 200. */
  logLines?: number;
  /**
   * FTP's passive data ports. Default: the plan's range (FTP_PASSIVE_PORTS) on the
   * embedded ports, any free port with `freePorts`; `--capture` asks for the plan's
   * range always, so that its filter covers the data connections.
   */
  ftpPassivePorts?: { from: number; to: number };
}

interface Slot {
  plan: ServicePlan;
  running?: RunningService;
  /** The ports the service got the first time, kept across stop/start. */
  ports?: Record<string, number>;
  logs: { at: number; line: string }[];
  /** While paused: the silent listeners standing in for the service. */
  frozen?: { close(): Promise<void> };
}

export class EmbeddedBackend implements Backend {
  readonly name = 'embedded';
  readonly labDir: string;
  private readonly slots = new Map<string, Slot>();
  private net?: LabNetwork;

  constructor(private readonly options: EmbeddedOptions) {
    this.labDir = options.labDir;
    for (const plan of STACK) {
      if (options.only && !options.only.includes(plan.name)) continue;
      if (options.targets?.[plan.name]) continue;
      this.slots.set(plan.name, { plan, logs: [] });
    }
  }

  async start(): Promise<void> {
    try {
      for (const name of this.slots.keys()) await this.startService(name);
      this.net = this.buildNetwork();
    } catch (err) {
      await this.stop(); // nothing started is left listening: a failed start leaves no half lab
      throw err;
    }
  }

  /** How the runner reaches this lab: every service's real ports, the targets, and this lab's CA. */
  private buildNetwork(): LabNetwork {
    const endpoints = new Map<string, Record<string, Endpoint>>();
    const host = this.options.host ?? '127.0.0.1';
    for (const [name, slot] of this.slots) {
      endpoints.set(name, Object.fromEntries(Object.entries(slot.ports!).map(([k, port]) => [k, { host, port }])));
    }
    for (const [name, target] of Object.entries(this.options.targets ?? {})) {
      const plan = STACK.find((s) => s.name === name)!;
      endpoints.set(name, { [Object.keys(plan.ports)[0]!]: target });
    }
    // The runner trusts this lab's CA, as a student's machine does once told to (`wirelab ca`).
    return LabNetwork.fromEndpoints(endpoints, { caFile: caCertificateFile(this.options.dataDir) });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.slots.values()].map(async (slot) => {
      const running = slot.running;
      slot.running = undefined;
      await running?.close();
      await slot.frozen?.close();
      slot.frozen = undefined;
    }));
  }

  network(): LabNetwork {
    if (!this.net) throw new Error('the embedded lab is not started');
    return this.net;
  }

  async control(service: string, action: LabAction, options: LabActionOptions = {}): Promise<ServiceStatus> {
    const slot = this.slots.get(service);
    if (!slot) {
      const known = [...this.slots.keys()].join(', ');
      throw new Error(this.options.targets?.[service] ? `${service} is a --target here; the lab cannot ${action} it` : `no lab service named ${service} (the lab has: ${known})`);
    }
    if (action === 'tls-fault') {
      // The service reads its fault file as each connection arrives: no restart.
      await setFault(this.options.dataDir, service, tlsFaultOf(slot.plan, options));
      return this.statusOf(slot);
    }
    if (action === 'duplicate') return { ...this.statusOf(slot), info: await this.duplicate(slot) };
    if (action === 'disconnect' || action === 'connect') {
      throw new Error(`${action} takes a container off or back on the lab network: it needs the Docker backend (--backend docker)`);
    }
    if (action === 'pause' && slot.running) {
      // A paused process keeps its ports but never answers: stand a silent listener in its place.
      await slot.running.close();
      slot.running = undefined;
      slot.frozen = await freeze(slot.ports!, slot.plan, this.options.host ?? '127.0.0.1');
    }
    if (action === 'unpause' || action === 'start' || action === 'stop' || action === 'restart') {
      await slot.frozen?.close();
      slot.frozen = undefined;
    }
    if (action === 'stop' || action === 'restart') {
      await slot.running?.close();
      slot.running = undefined;
    }
    if (action === 'start' || action === 'restart' || action === 'unpause') await this.startService(service);
    return this.statusOf(slot);
  }

  status(): ServiceStatus[] {
    const own = [...this.slots.values()].map((slot) => this.statusOf(slot));
    const targets = Object.entries(this.options.targets ?? {}).map(([name, t]) => {
      const plan = STACK.find((s) => s.name === name)!;
      // Keyed by the main port's name, as every service's endpoints are: the target stands in on that port.
      return { name, host: plan.host, state: 'target' as const, endpoints: { [Object.keys(plan.ports)[0]!]: `${t.host}:${t.port}` } };
    });
    return [...own, ...targets];
  }

  clearTlsFaults(): Promise<string[]> {
    return clearFaults(this.options.dataDir);
  }

  logs(service: string, since?: Date): string[] {
    const from = since?.getTime() ?? 0;
    return (this.slots.get(service)?.logs ?? []).filter((l) => l.at >= from).map((l) => l.line);
  }

  private statusOf(slot: Slot): ServiceStatus {
    const host = this.options.host ?? '127.0.0.1';
    const fault = hasTls(slot.plan) ? readFault(this.options.dataDir, slot.plan.name) : '';
    const info = { ...(slot.frozen ? { state: 'paused' } : {}), ...slot.running?.info, ...(fault ? { tlsFault: fault } : {}) };
    return {
      name: slot.plan.name,
      host: slot.plan.host,
      state: slot.running ? 'running' : 'stopped',
      endpoints: Object.fromEntries(Object.entries(slot.ports ?? {}).map(([k, p]) => [k, `${host}:${p}`])),
      ...(Object.keys(info).length ? { info } : {}),
    };
  }

  /** Start a second copy of the service on the ports the first one holds: what error does it get? */
  private async duplicate(slot: Slot): Promise<Record<string, string>> {
    const log = createLogger(`${slot.plan.name}-copy`, { sink: () => {} });
    const dialer = { dns: () => this.network().dns, route: (address: string, port: number) => this.network().route(address, port) };
    try {
      const copy = await SERVICE_FACTORIES[slot.plan.name]!({ labDir: this.options.labDir, dataDir: this.options.dataDir, log, dialer, ftpPassivePorts: this.options.ftpPassivePorts }, slot.ports!, this.options.host ?? '127.0.0.1');
      await copy.close();
      return { duplicate: 'started' };
    } catch (err) {
      return { duplicate: 'refused', error: (err as Error).message, code: String((err as NodeJS.ErrnoException).code ?? '') };
    }
  }

  private async startService(name: string): Promise<void> {
    const slot = this.slots.get(name)!;
    if (slot.running) return;
    const factory = SERVICE_FACTORIES[name];
    if (!factory) throw new Error(`the embedded backend cannot run ${name} yet`);
    const keep = this.options.logLines ?? 200;
    const log = createLogger(name, {
      sink: (line, level) => {
        slot.logs.push({ at: Date.now(), line });
        if (slot.logs.length > keep) slot.logs.splice(0, slot.logs.length - keep);
        this.options.onLog?.(name, line, level);
      },
    });
    const chosen = this.options.ports?.[name] ?? {};
    const wanted =
      slot.ports ??
      Object.fromEntries(Object.entries(slot.plan.ports).map(([k, p]) => [k, chosen[k] ?? (this.options.freePorts ? 0 : p.embedded)]));
    // Services look names up in the lab DNS and reach lab addresses through the same
    // routes as the runner (resolved when used: the network exists once all have started).
    const dialer = { dns: () => this.network().dns, route: (address: string, port: number) => this.network().route(address, port) };
    slot.running = await factory({ labDir: this.options.labDir, dataDir: this.options.dataDir, log, dialer, ftpPassivePorts: this.options.ftpPassivePorts }, wanted, this.options.host ?? '127.0.0.1');
    slot.ports = slot.running.ports;
  }
}

/**
 * What a paused service looks like from outside: its TCP ports still accept connections
 * (the kernel does that) but nothing is ever answered, and UDP datagrams vanish.
 */
async function freeze(ports: Record<string, number>, plan: ServicePlan, host: string): Promise<{ close(): Promise<void> }> {
  const closers: (() => Promise<void>)[] = [];
  for (const [name, port] of Object.entries(ports)) {
    const held = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      held.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    closers.push(async () => {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    if (plan.ports[name]?.transport === 'udp+tcp') {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(port, host, resolve));
      closers.push(() => new Promise((resolve) => udp.close(() => resolve())));
    }
  }
  return { close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
