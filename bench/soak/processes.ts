import path from 'node:path';
import { freePort } from '../../lab-runner/grade/target';
import { packageRoot } from '../../services/common/paths';
import type { Daemon } from '../process';
import { startServer } from '../servers';

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
