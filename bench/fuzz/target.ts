import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend } from '../../lab-runner/backends/embedded';
import type { Level } from '../../services/common/logger';
import { defaultLabDir, packageRoot } from '../../services/common/paths';
import { sendInput, type Finding, type Input } from './inputs';
import type { Protocol } from './protocols';

/**
 * The servers under fuzzing: lab services from the embedded backend (the real server
 * classes), on free ports of 127.0.0.1, with a fresh data folder that goes when they stop.
 *
 * Each runs in a child process, so that a crash takes down only the server and its
 * memory is measured alone:
 *
 *   node --expose-gc dist/bench/fuzz/target.js smtp dns
 *
 * The child tells its parent over the IPC channel: `ready` with the ports, each log
 * line at level error, and its memory after a garbage collection when asked.
 * TargetProcess is the parent's side; check() is what "still well" means.
 */

/** A health exchange or a memory report not done within this is a hang. */
export const HEALTH_MS = 10_000;
const START_MS = 30_000;
/** A leak test: an input sent this many times (after as many to warm up) must not grow live memory by MEMORY_SLACK. */
export const MEMORY_REPEAT = 300;
export const MEMORY_SLACK = 1.5 * 1024 * 1024;
const STOP_MS = 5000;

/** What the child sends its parent. */
type TargetMessage =
  | { type: 'ready'; ports: Record<string, Record<string, number>> }
  | { type: 'log'; service: string; level: Level; line: string }
  | ({ type: 'memory' } & Memory);

export interface Memory {
  /** The resident set: what the process holds from the system (the allocator may keep freed memory). */
  rss: number;
  /** What is still referenced after a garbage collection: the JavaScript heap and the Buffers outside it. */
  live: number;
}

/** The services, started in this process. */
async function startServices(services: readonly string[], onLog: (service: string, line: string, level: Level) => void): Promise<{ ports: Record<string, Record<string, number>>; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-fuzz-'));
  const backend = new EmbeddedBackend({ labDir: defaultLabDir(), dataDir, freePorts: true, only: [...services], onLog });
  try {
    await backend.start();
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const ports = Object.fromEntries(backend.status().map((s) => [s.name, Object.fromEntries(Object.entries(s.endpoints).map(([k, e]) => [k, Number(e.slice(e.lastIndexOf(':') + 1))]))]));
  return {
    ports,
    async stop() {
      await backend.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The child: start the services named on the command line, then answer the parent. */
function childMain(): void {
  const send = (message: TargetMessage): void => void process.send?.(message);
  startServices(process.argv.slice(2), (service, line, level) => {
    if (level === 'error') send({ type: 'log', service, level, line });
  }).then(
    (running) => {
      process.on('message', (request: { type: string }) => {
        if (request.type !== 'memory') return;
        // --expose-gc: measure what is still referenced, not garbage waiting for collection.
        // Buffers are freed by callbacks after a collection: collect again once they ran.
        const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
        gc();
        setImmediate(() => {
          gc();
          const { rss, heapUsed, external } = process.memoryUsage();
          send({ type: 'memory', rss, live: heapUsed + external });
        });
      });
      const stop = (): void => void running.stop().finally(() => process.exit(0));
      process.once('SIGTERM', stop);
      // The parent went away without stopping us: do not linger.
      process.once('disconnect', stop);
      send({ type: 'ready', ports: running.ports });
    },
    (err: Error) => {
      process.stderr.write(`fuzz target: cannot start ${process.argv.slice(2).join(', ')}: ${err.message}\n`);
      process.exit(2);
    },
  );
}

/** The parent's side: a child process we started, stopped by its PID. */
export class TargetProcess {
  /** Its log lines at level error, in order. */
  readonly errors: string[] = [];
  private exit?: string;
  private memoryWaiter?: (m: Memory) => void;

  private constructor(
    private readonly child: ChildProcess,
    readonly ports: Record<string, Record<string, number>>,
  ) {
    child.on('message', (message: TargetMessage) => {
      if (message.type === 'log') this.errors.push(message.line);
      if (message.type === 'memory') this.memoryWaiter?.(message);
    });
  }

  /** Start the services of `protocol` in a new child process; resolves once they listen. */
  static start(protocol: Protocol): Promise<TargetProcess> {
    const services = protocol.services;
    // The compiled file, also when this runs from the TypeScript sources (the replay test).
    const child = fork(path.join(packageRoot(), 'dist', 'bench', 'fuzz', 'target.js'), [...services], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    const keep = (chunk: Buffer): void => void (stderr = (stderr + chunk.toString()).slice(-4000));
    child.stderr!.on('data', keep);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the fuzz target for ${services.join(', ')} did not start within ${START_MS} ms: ${stderr}`));
      }, START_MS);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the fuzz target for ${services.join(', ')} exited at start (${code ?? signal}): ${stderr}`));
      });
      child.once('message', (message: TargetMessage) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        const target = new TargetProcess(child, message.ports);
        child.once('exit', (code, signal) => void (target.exit = `exited with ${signal ?? `code ${code}`}: ${stderr.trim().split('\n').slice(-8).join(' | ')}`));
        resolve(target);
      });
    });
  }

  /** Why the process is gone, or undefined while it runs. */
  get died(): string | undefined {
    return this.exit;
  }

  /** The fuzzed service's port. */
  portOf(protocol: Protocol): number {
    const port = this.ports[protocol.services[0]!]?.[protocol.port];
    if (!port) throw new Error(`the fuzz target has no port ${protocol.port} for ${protocol.services[0]}`);
    return port;
  }

  /** Its memory after a garbage collection. */
  memory(): Promise<Memory> {
    if (this.exit) return Promise.reject(new Error(`no memory report: the server process ${this.exit}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no memory report within ${HEALTH_MS} ms${this.exit ? `: the server process ${this.exit}` : ''}`)), HEALTH_MS);
      this.memoryWaiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.child.send({ type: 'memory' });
    });
  }

  /** SIGTERM to our child's PID, then SIGKILL if it has not exited in time. */
  async stop(): Promise<void> {
    if (this.exit !== undefined || this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.child.pid!, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_MS);
    });
    if ((await Promise.race([exited, late])) === 'late') {
      process.kill(this.child.pid!, 'SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }
}

/** Is the server alive, silent at level error since `errorsBefore`, and answering its health exchange? */
export async function check(target: TargetProcess, protocol: Protocol, errorsBefore: number): Promise<Finding | undefined> {
  if (target.died) return { kind: 'crash', note: `the server process ${target.died}` };
  try {
    await protocol.health(target.portOf(protocol), HEALTH_MS);
  } catch (err) {
    if (target.died) return { kind: 'crash', note: `the server process ${target.died}` };
    return { kind: 'hang', note: `no proper answer to the health exchange after the input: ${(err as Error).message}` };
  }
  const errors = target.errors.slice(errorsBefore);
  if (errors.length > 0) return { kind: 'error-log', note: `the server logged at level error: ${errors[0]}` };
  return undefined;
}

/** Send `input` `times` times, `width` at a time. */
export async function repeat(target: TargetProcess, protocol: Protocol, input: Input, times: number, width = 8): Promise<void> {
  for (let done = 0; done < times; done += width) {
    await Promise.all(Array.from({ length: Math.min(width, times - done) }, () => sendInput(protocol, target.portOf(protocol), input)));
  }
}

/** How much live memory (after gc) grows over `times` sends of `input`, after as many to warm up. */
export async function memoryGrowth(target: TargetProcess, protocol: Protocol, input: Input, times: number): Promise<number> {
  await repeat(target, protocol, input, times);
  const before = await target.memory();
  await repeat(target, protocol, input, times);
  const after = await target.memory();
  return after.live - before.live;
}

if (require.main === module) childMain();
