/**
 * Test helpers for the reverse proxy (shop.lab.test) and the app behind it
 * (app.lab.test): a real lab DNS, a real AppServer and a real ProxyServer, all on
 * 127.0.0.1 port 0, and a dialer that routes the app's lab address (172.28.0.82:5000)
 * to wherever the test's app listens, and refuses everything else: nothing leaves
 * loopback.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { LabDialer } from '../../../services/common/dialer';
import { createLogger, parseLogLine, type ParsedLogLine } from '../../../services/common/logger';
import { AppServer, type AppServerOptions } from '../../../services/app/server';
import { DnsServer } from '../../../services/dns/server';
import { ProxyServer, type ProxyServerOptions } from '../../../services/proxy/server';
import { LogCollector } from '../http/harness';

export { curl, LogCollector, RawClient, request, parseResponse, type NodeResponse } from '../http/harness';

export const LAB = path.resolve(__dirname, '../../../lab');
/** app.lab.test in lab/zones/lab.test.zone. */
export const APP_ADDRESS = '172.28.0.82';
export const APP_PORT = 5000;

/** A collector's lines of one service, read back into their parts. */
export function parsed(logs: LogCollector): ParsedLogLine[] {
  return logs.lines.map((l) => parseLogLine(l)).filter((l): l is ParsedLogLine => l !== undefined);
}

/** The wire lines (logWire) among them, without the connection id each carries. */
export function wireLines(logs: LogCollector): Record<string, string>[] {
  return parsed(logs)
    .filter((l) => l.message === 'wire')
    .map(({ fields: { conn, ...rest } }) => {
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
    lab.dns = DnsServer.fromLab(LAB, { log: createLogger('dns', { sink: () => {} }) });
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
  readonly connections: net.Socket[] = [];
  /** Every byte received, per connection, as latin1. */
  readonly received: string[] = [];
  private closedWaiters: (() => void)[] = [];
  private closedCount = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** `answer` undefined: accept, read, never answer. */
  static async start(answer?: string): Promise<ScriptedUpstream> {
    let upstream: ScriptedUpstream | undefined;
    const server = net.createServer((socket) => {
      const index = upstream!.connections.push(socket) - 1;
      upstream!.received[index] = '';
      socket.on('data', (chunk: Buffer) => {
        upstream!.received[index] += chunk.toString('latin1');
        if (answer !== undefined && upstream!.received[index]!.includes('\r\n\r\n')) socket.end(answer);
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        upstream!.closedCount++;
        upstream!.closedWaiters.forEach((w) => w());
      });
    });
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
    upstream = new ScriptedUpstream(server, port);
    return upstream;
  }

  /** Resolves once `count` connections to it have closed. */
  closed(count = 1): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closedCount >= count) resolve();
      };
      this.closedWaiters.push(check);
      check();
    });
  }

  close(): Promise<void> {
    for (const s of this.connections) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A keep-alive agent for one test, destroyed with it. */
export function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}
