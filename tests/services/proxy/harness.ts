/**
 * Test helpers for the reverse proxy (shop.lab.test) and the app behind it
 * (app.lab.test): a real lab DNS, a real AppServer and a real ProxyServer, all on
 * 127.0.0.1 port 0, and a dialer that routes the app's lab address (172.28.0.82:5000)
 * to wherever the test's app listens, and refuses everything else: nothing leaves
 * loopback.
 */
import http from 'node:http';
import type net from 'node:net';
import type { LabDialer } from '../../../services/common/dialer';
import { createLogger } from '../../../services/common/logger';
import { AppServer, type AppServerOptions } from '../../../services/app/server';
import { DnsServer } from '../../../services/dns/server';
import { ProxyServer, type ProxyServerOptions } from '../../../services/proxy/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { listenTcp, type TcpPeer } from '../../helpers/socket';
import { within, type WaitOptions } from '../../helpers/wait';

export { curl, RawClient, request, parseResponse, type NodeResponse } from '../http/harness';

/** app.lab.test in lab/zones/lab.test.zone. */
export const APP_ADDRESS = '172.28.0.82';
export const APP_PORT = 5000;

/** The wire lines (logWire) a service logged, without the connection id each carries. */
export function wireLines(logs: LogCollector): Record<string, string>[] {
  return logs.wire().map(({ conn, ...rest }) => {
    expect(conn).toMatch(/^c\d+$/);
    return rest;
  });
}

export interface RunningApp {
  server: AppServer;
  port: number;
  logs: LogCollector;
}

export async function startApp(options: AppServerOptions = {}, port = 0): Promise<RunningApp> {
  const logs = new LogCollector();
  const server = new AppServer({ log: createLogger('app', { sink: logs.sink, level: 'debug' }), ...options });
  const address = await server.listen(port, '127.0.0.1');
  return { server, port: address.port, logs };
}

/** The routes the test dialer knows: lab `address:port` -> a port on 127.0.0.1. */
export type Routes = Map<string, number>;

/**
 * The embedded lab's dialer in miniature: the lab DNS on 127.0.0.1, and only the
 * routes the test gave. Anything else throws, as a dialer does for an address outside the lab.
 */
export function testDialer(dnsPort: () => number, routes: Routes): LabDialer {
  return {
    dns: () => ({ host: '127.0.0.1', port: dnsPort() }),
    route: (address, port) => {
      const local = routes.get(`${address}:${port}`);
      if (local === undefined) throw new Error(`${address}:${port} is not in this test's lab`);
      return { host: '127.0.0.1', port: local };
    },
  };
}

/** A lab in miniature: the lab DNS, app.lab.test and shop.lab.test. */
export class ShopLab {
  app!: RunningApp;
  dns!: DnsServer;
  dnsPort = 0;
  readonly routes: Routes = new Map();
  proxy!: ProxyServer;
  proxyPort = 0;
  readonly proxyLogs = new LogCollector();
  private readonly extra: { close(): Promise<void> | void }[] = [];

  static async start(proxyOptions: Partial<ProxyServerOptions> = {}, appOptions: AppServerOptions = {}): Promise<ShopLab> {
    const lab = new ShopLab();
    lab.dns = DnsServer.fromLab(LAB_DIR, { log: createLogger('dns', { sink: () => {} }) });
    lab.dnsPort = (await lab.dns.listen(0, '127.0.0.1')).port;
    lab.app = await startApp(appOptions);
    lab.routes.set(`${APP_ADDRESS}:${APP_PORT}`, lab.app.port);
    lab.proxy = new ProxyServer({
      dialer: testDialer(() => lab.dnsPort, lab.routes),
      log: createLogger('proxy', { sink: lab.proxyLogs.sink, level: 'debug' }),
      ...proxyOptions,
    });
    lab.proxyPort = (await lab.proxy.listen(0, '127.0.0.1')).port;
    return lab;
  }

  get base(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  get dialer(): LabDialer {
    return testDialer(() => this.dnsPort, this.routes);
  }

  /** The app goes away, as `lab: { stop: app }` does. */
  async stopApp(): Promise<void> {
    await this.app.server.close();
  }

  /** A new app on the same port, as `lab: { start: app }` does. */
  async restartApp(options: AppServerOptions = {}): Promise<void> {
    this.app = await startApp(options, this.app.port);
  }

  /** Something else the test started, closed with the lab. */
  own<T extends { close(): Promise<void> | void }>(thing: T): T {
    this.extra.push(thing);
    return thing;
  }

  /** A second proxy on the same DNS and app, with other options. */
  async proxyWith(options: Partial<ProxyServerOptions>, logs = new LogCollector()): Promise<{ port: number; logs: LogCollector; proxy: ProxyServer }> {
    const proxy = this.own(
      new ProxyServer({ dialer: this.dialer, log: createLogger('proxy', { sink: logs.sink, level: 'debug' }), ...options }),
    );
    const { port } = await proxy.listen(0, '127.0.0.1');
    return { port, logs, proxy };
  }

  async stop(): Promise<void> {
    await Promise.all([this.proxy.close(), this.app.server.close(), this.dns.close(), ...this.extra.map((e) => e.close())]);
  }
}

/**
 * A stand-in app that writes exactly the bytes it is given and closes: for what the
 * real app never sends (hop-by-hop response headers), or never answering at all.
 */
export class ScriptedUpstream {
  /** Every byte received, per connection, as latin1. */
  readonly received: string[] = [];
  private closedCount = 0;
  private readonly closedWaiters = new Set<() => void>();

  private constructor(private readonly peer: TcpPeer) {}

  get port(): number {
    return this.peer.port;
  }

  get connections(): net.Socket[] {
    return this.peer.connections;
  }

  /** `answer` undefined: accept, read, never answer. */
  static async start(answer?: string): Promise<ScriptedUpstream> {
    let upstream: ScriptedUpstream | undefined;
    const peer = await listenTcp((socket) => {
      const index = upstream!.received.push('') - 1;
      socket.on('data', (chunk: Buffer) => {
        upstream!.received[index] += chunk.toString('latin1');
        if (answer !== undefined && upstream!.received[index]!.includes('\r\n\r\n')) socket.end(answer);
      });
      socket.on('close', () => {
        upstream!.closedCount++;
        for (const wake of [...upstream!.closedWaiters]) wake();
      });
    });
    upstream = new ScriptedUpstream(peer);
    return upstream;
  }

  /** Resolves once `count` connections to it have closed. */
  closed(count = 1, options: WaitOptions = {}): Promise<void> {
    let check!: () => void;
    const done = new Promise<void>((resolve) => {
      check = () => {
        if (this.closedCount >= count) resolve();
      };
    });
    this.closedWaiters.add(check);
    check();
    return within(done, `${count} connection(s) to the scripted upstream on port ${this.port} to close`, { ms: options.ms, seen: () => `${this.closedCount} closed` }).finally(() =>
      this.closedWaiters.delete(check),
    );
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}

/**
 * POST /echo in two pieces, the second sent only once the first has come back: resolves
 * with the whole echo when the body streams through, and times out (naming the wait)
 * when anything on the way holds the body back.
 */
export function echoInTwoPieces(port: number, first: string, second: string): Promise<string> {
  const echoed = new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', agent: false }, (res) => {
      let all = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        all += chunk;
        if (all === first) req.end(second);
      });
      res.on('end', () => resolve(all));
    });
    req.on('error', reject);
    req.write(first); // chunked: node:http knows no length yet
  });
  return within(echoed, `the echo of ${JSON.stringify(first)}, and then of ${JSON.stringify(second)}`);
}

/** A keep-alive agent for one test, destroyed with it. */
export function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}
