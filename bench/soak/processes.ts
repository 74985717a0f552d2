import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../lab-runner/grade/target';
import { defaultLabDir, packageRoot } from '../../services/common/paths';
import type { Daemon } from '../process';
import { startServer } from '../servers';
import type { SoakLab } from './lab';

/**
 * The lab's services as separate processes, as their containers run them
 * (`node dist/services/<service>/main.js`, settings in the environment), so that one can
 * be killed with SIGKILL and started again on the same data and port while the others
 * serve on. Each is a bench Daemon (bench/process.ts: its PID, its memory sampled, a
 * stop by PID), started when its port answers (bench/servers.ts).
 */

export interface ServiceSpec {
  /** The name in the table (`smtp`). */
  name: string;
  /** Its main under dist/services/ (`smtp`). */
  main: string;
  /** Its settings; `<portVar>` is added: a free port, the same one on a restart. */
  env: Record<string, string>;
  /** The variable that holds its port (`SMTP_PORT`). */
  portVar: string;
  /** A DNS server: its port must be free for UDP too, and it is up when it answers a query. */
  udp?: boolean;
}

export class ServiceProcess {
  port = 0;
  /** The highest resident memory seen, in bytes, across every process this service had. */
  private peak = 0;
  private daemon?: Daemon;

  constructor(
    readonly spec: ServiceSpec,
    private readonly base: Record<string, string>,
    /** Where its log goes: `<logDir>/<name>.log`. */
    private readonly logDir: string,
  ) {}

  get pid(): number | undefined {
    return this.daemon?.pid;
  }

  /** Start it on its port (a free one the first time) and resolve once the port answers. */
  async start(): Promise<void> {
    this.port ||= await freePort(this.spec.udp);
    this.daemon = await startServer(
      {
        name: this.spec.name,
        command: process.execPath,
        args: [path.join(packageRoot(), 'dist', 'services', this.spec.main, 'main.js')],
        env: { ...this.base, ...this.spec.env, [this.spec.portVar]: String(this.port) },
        logFile: path.join(this.logDir, `${this.spec.name}.log`),
      },
      [{ kind: this.spec.udp ? 'dns' : 'tcp', port: this.port }],
    );
  }

  /** The highest resident memory of this service so far, in bytes. */
  peakRss(): number {
    if (this.daemon?.running) this.peak = Math.max(this.peak, this.daemon.peakRss());
    return this.peak;
  }

  /** SIGKILL: no goodbye, nothing flushed; resolves once it is gone. */
  async kill(): Promise<void> {
    this.peakRss();
    this.daemon?.child.kill('SIGKILL');
    await this.daemon?.stop();
  }

  /** SIGTERM, as `docker stop` sends it; resolves with its exit code (null if it had to be killed). */
  async stop(): Promise<number | null> {
    if (!this.daemon) return null;
    this.peakRss();
    // The service's own grace (SHUTDOWN_GRACE_MS, 10 s) and its margin: SIGKILL only after that.
    await this.daemon.stop(20_000);
    return this.daemon.child.exitCode;
  }
}

/**
 * The embedded backend of the soak: every service as its own process on 127.0.0.1, with
 * a fresh data folder, started in the order a lab starts (the DNS first, the app before
 * the proxy in front of it).
 */
export class EmbeddedLab implements SoakLab {
  private dataDir = '';
  private readonly services = new Map<string, ServiceProcess>();

  async start(): Promise<void> {
    this.dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-soak-'));
    const base = { PATH: process.env.PATH ?? '', WIRELAB_LAB: defaultLabDir(), WIRELAB_DATA: this.dataDir, WIRELAB_LOG_LEVEL: 'warn' };
    const add = (spec: ServiceSpec): ServiceProcess => {
      const p = new ServiceProcess(spec, base, this.dataDir);
      this.services.set(spec.name, p);
      return p;
    };
    process.stderr.write(`soak: data in ${this.dataDir}; starting the services...\n`);
    const dns = add({ name: 'dns', main: 'dns', portVar: 'DNS_PORT', env: { DNS_HOST: '127.0.0.1' }, udp: true });
    await dns.start();
    const labDns = `127.0.0.1:${dns.port}`;
    const plan: ServiceSpec[] = [
      { name: 'http', main: 'http', portVar: 'HTTP_PORT', env: { HTTP_HOST: '127.0.0.1', HTTPS_PORT: '' } },
      { name: 'app', main: 'app', portVar: 'APP_PORT', env: { APP_HOST: '127.0.0.1' } },
      { name: 'smtp', main: 'smtp', portVar: 'SMTP_PORT', env: { SMTP_HOST: '127.0.0.1', SUBMISSION_PORT: '', SMTPS_PORT: '' } },
      { name: 'pop3', main: 'pop3', portVar: 'POP3_PORT', env: { POP3_HOST: '127.0.0.1', POP3S_PORT: '' } },
      { name: 'imap', main: 'imap', portVar: 'IMAP_PORT', env: { IMAP_HOST: '127.0.0.1', IMAPS_PORT: '', IMAP_PLAINTEXT_LOGIN: 'yes' } },
      { name: 'ftp', main: 'ftp', portVar: 'FTP_PORT', env: { FTP_HOST: '127.0.0.1', FTPS_PORT: '' } },
      { name: 'sftp', main: 'sftp', portVar: 'SFTP_PORT', env: { SFTP_HOST: '127.0.0.1' } },
    ];
    for (const spec of plan) await add({ ...spec, env: { ...spec.env, LAB_DNS: labDns } }).start();
    const upstream = `127.0.0.1:${this.services.get('app')!.port}`;
    await add({ name: 'proxy', main: 'proxy', portVar: 'PROXY_PORT', env: { PROXY_HOST: '127.0.0.1', PROXY_HTTPS_PORT: '', LAB_DNS: labDns, PROXY_UPSTREAM: upstream } }).start();
  }

  port(service: string): number {
    return this.services.get(service)!.port;
  }

  async killAndRestart(service: string, when: string): Promise<void> {
    const victim = this.services.get(service)!;
    process.stderr.write(`soak: SIGKILL to ${service} (pid ${victim.pid}) ${when}\n`);
    await victim.kill();
    const t0 = Date.now();
    await victim.start();
    process.stderr.write(`soak: ${service} serves again on port ${victim.port} after ${Date.now() - t0} ms\n`);
  }

  async stop(): Promise<Map<string, number | null>> {
    const codes = new Map<string, number | null>();
    for (const [name, service] of [...this.services].reverse()) codes.set(name, await service.stop());
    return codes;
  }

  peakMemory(): Map<string, number> {
    return new Map([...this.services].map(([name, s]) => [name, s.peakRss()]));
  }

  async data(): Promise<string> {
    return this.dataDir;
  }

  async close(keep: boolean): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.kill())); // what an error left running
    if (!this.dataDir) return;
    if (keep) process.stderr.write(`soak: data kept in ${this.dataDir}\n`);
    else await rm(this.dataDir, { recursive: true, force: true });
  }
}
