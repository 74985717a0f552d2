import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { RecordType } from 'dns-packet';
import { dnsExchange } from './dns';
import { StepError } from './errors';
import { STACK } from './plan';
import type { Wire } from './recorder';
import type { Endpoint, Route } from './route';

export interface NetworkOptions {
  /** Also let loopback addresses through as they are (the exploring clients do). */
  allowLoopback?: boolean;
  /**
   * Only some of the lab is known (an explorer given a DNS server and nothing else, or
   * one that cannot tell which of several labs is meant): why a lab address (or the DNS)
   * cannot be routed, and what to do instead. A route is never guessed.
   */
  unrouted?: string;
  /** The lab CA's certificate (PEM file): what the runner's TLS clients trust unless a step says otherwise. */
  caFile?: string;
}

/**
 * The lab network as the runner sees it. Names are resolved by asking the lab's own
 * DNS server (recorded on the wire, never the host's resolver); an address and a
 * lab port are then routed to wherever that service really listens: 127.0.0.1:8080
 * for www.lab.test:80 when embedded, the same address inside Docker.
 *
 * It also knows whom a client in this lab trusts: the lab CA (`caFile`, made by the
 * services at their first start in the data folder).
 */
export class LabNetwork {
  private readonly routes = new Map<string, Route>();
  private readonly hostsByAddress = new Map<string, string>();

  constructor(
    /** Where the lab DNS really listens; unknown only with `options.unrouted`. */
    private readonly dnsRoute: Route | undefined,
    routes: Iterable<[address: string, port: number, route: Route]>,
    private readonly options: NetworkOptions = {},
  ) {
    for (const [address, port, route] of routes) this.routes.set(`${address}:${port}`, route);
    for (const s of STACK) this.hostsByAddress.set(s.address, s.host);
  }

  /** Where the lab DNS really listens. */
  get dns(): Route {
    if (!this.dnsRoute) throw new StepError(`where the lab DNS listens is not known: ${this.options.unrouted ?? 'no DNS route'}`, 'ENOROUTE');
    return this.dnsRoute;
  }

  /**
   * A network for a lab whose services listen at `endpoints` (service -> port name ->
   * real endpoint). Every lab port of every service in the plan gets a route.
   */
  static fromEndpoints(endpoints: Map<string, Record<string, Endpoint>>, options: NetworkOptions = {}): LabNetwork {
    const routes: [string, number, Route][] = [];
    let dns: Route | undefined;
    for (const service of STACK) {
      const real = endpoints.get(service.name);
      if (!real) continue;
      for (const [portName, plan] of Object.entries(service.ports)) {
        const to = real[portName];
        if (!to) continue;
        const route = { ...to, service: service.name, label: `${service.host}:${plan.lab}` };
        routes.push([service.address, plan.lab, route]);
        if (service.name === 'dns' && portName === 'dns') dns = route;
      }
    }
    if (!dns && !options.unrouted) throw new Error('the lab network needs a DNS server');
    return new LabNetwork(dns, routes, options);
  }

  /** Where to connect for `address:port` in the lab. Anything else is refused: the runner talks only to the lab. */
  route(address: string, port: number): Route {
    const route = this.routes.get(`${address}:${port}`);
    if (route) return route;
    if (this.options.allowLoopback && isLoopback(address)) return { host: address, port, label: `${address}:${port}` };
    const host = this.hostsByAddress.get(address);
    if (host && this.options.unrouted) throw new StepError(`where ${host}:${port} listens is not known: ${this.options.unrouted}`, 'ENOROUTE');
    const what = host ? `${host} (${address}) has no service on port ${port}` : `${address} is not an address in the lab network`;
    throw new StepError(`cannot reach ${address}:${port}: ${what}. Scenarios name lab hosts and their standard ports, e.g. www.lab.test:80.`, 'ENOTLAB');
  }

  /**
   * The address of a lab name, asked of the lab DNS (an A query, recorded on the
   * wire). An address is returned as it is.
   */
  async resolve(name: string, wire: Wire, signal: AbortSignal, type: Extract<RecordType, 'A' | 'AAAA'> = 'A'): Promise<string> {
    if (net.isIP(name)) return name;
    if (this.options.allowLoopback && name === 'localhost') return '127.0.0.1';
    const { response } = await dnsExchange(this.dns, { name, type, transport: 'udp', recursion: true }, wire, signal);
    const rcode = (response as { rcode?: string }).rcode ?? 'NOERROR';
    const address = (response.answers?.find((a) => a.type === type) as { data?: unknown } | undefined)?.data;
    if (rcode !== 'NOERROR' || typeof address !== 'string') {
      throw new StepError(`the lab DNS has no ${type} record for ${name} (${rcode}${rcode === 'NOERROR' ? ', no answer' : ''})`, 'ENOTFOUND');
    }
    return address;
  }

  /** Resolve a host name and route it in one go: what a client does before connect(). */
  async locate(host: string, port: number, wire: Wire, signal: AbortSignal): Promise<Route & { address: string }> {
    const address = await this.resolve(host, wire, signal);
    return { ...this.route(address, port), address };
  }

  /**
   * The lab CA's certificate, read as each TLS connection starts (a lab reset makes a
   * new CA); undefined when this network knows of none, or it is not made yet: a client
   * then trusts what Node trusts (its own list, and NODE_EXTRA_CA_CERTS).
   */
  trustedCa(): Buffer | undefined {
    if (!this.options.caFile) return undefined;
    try {
      return readFileSync(this.options.caFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Where the lab CA's certificate is (it may not be made yet). */
  get caFile(): string | undefined {
    return this.options.caFile;
  }

  /** The lab host name of an address, when it is one of the lab's. */
  hostOf(address: string): string | undefined {
    return this.hostsByAddress.get(address);
  }
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/** `host`, `host:port` or `[v6]:port` into its parts. */
export function splitHostPort(text: string, defaultPort: number): [string, number] {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return [v6[1]!, v6[2] ? Number(v6[2]) : defaultPort];
  const at = text.lastIndexOf(':');
  if (at > 0 && text.indexOf(':') === at) return [text.slice(0, at), Number(text.slice(at + 1))];
  return [text, defaultPort];
}
