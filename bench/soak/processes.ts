import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The lab's services as separate processes, as their containers run them
 * (`node dist/services/<service>/main.js`, settings in the environment), so that one can
 * be killed with SIGKILL and started again on the same data while the others serve on.
 */

/** A service's listening line: `... listening on 127.0.0.1:PORT` on stdout, or its log line `listening ... port=PORT` (www). */
const LISTENING = / listening (?:on [^\s:]+:(\d+)|.*\bport=(\d+))/;

export interface ServiceSpec {
  /** The name in the table (`smtp`). */
  name: string;
  /** Its main under dist/services/ (`smtp`). */
  main: string;
  /** Its settings; `<PORT_VAR>` is added: 0 the first time, then the port it got. */
  env: Record<string, string>;
  /** The variable that holds its port (`SMTP_PORT`). */
  portVar: string;
}

export class ServiceProcess {
  port = 0;
  /** The highest resident set size seen, in bytes, across every process of this service. */
  peakRss = 0;
  /** The last lines of its output, for an error message. */
  private tail: string[] = [];
  private child?: ChildProcess;
  private exited?: Promise<number | null>;

  constructor(
    readonly spec: ServiceSpec,
    private readonly distDir: string,
    private readonly base: Record<string, string>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start it (on the port it had before, if any) and resolve once it listens; fail after `ms`. */
  async start(ms = 20000): Promise<void> {
    const env = { ...this.base, ...this.spec.env, [this.spec.portVar]: String(this.port) };
    const child = spawn(process.execPath, [path.join(this.distDir, 'services', this.spec.main, 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const listening = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.spec.name} did not say it listens within ${ms} ms: ${this.tail.join(' | ')}`)), ms);
      let partial = '';
      const onLine = (chunk: Buffer): void => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          this.tail = [...this.tail.slice(-4), line];
          const match = LISTENING.exec(line);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1] ?? match[2]));
          }
        }
      };
      child.stdout!.on('data', onLine);
      child.stderr!.on('data', onLine);
      void this.exited!.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.spec.name} exited (${code}) before it listened: ${this.tail.join(' | ')}`));
      });
    });
    this.port = await listening;
  }

  /** Look at its memory now (/proc/PID/status, VmRSS). */
  sample(): void {
    if (!this.child?.pid || this.child.exitCode !== null) return;
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
      if (kb) this.peakRss = Math.max(this.peakRss, Number(kb[1]) * 1024);
    } catch {
      // gone between the check and the read
    }
  }

  /** Send `signal` and wait for the exit; resolves with the exit code (null when killed by a signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return this.child?.exitCode ?? null;
    this.child.kill(signal);
    return this.exited!;
  }
}
