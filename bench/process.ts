import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * The processes the bench starts: the servers (ours and the reference daemons) and the
 * load tools. Each is stopped by its own PID (and, for a daemon that forked, each of its
 * children by theirs): never by name. A server's memory is sampled from /proc while it
 * runs, so a daemon made of several processes (nginx's master and worker, Dovecot,
 * Postfix) is counted whole.
 */

/** Every server started and not yet stopped: stopped (SIGKILL, by PID) if the bench exits early. */
const live = new Set<Daemon>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const daemon of live) daemon.killNow();
  });
}

export interface DaemonOptions {
  /** Shown in tables and errors: `nginx`, `ours http`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr go to this file (the server's log); default: discarded. */
  logFile?: string;
  /** Talk to it: stdin and stdout are pipes (stderr still goes to logFile). */
  pipe?: boolean;
}

/** A server process: its PID, its memory over time, and a stop that waits until it and its children are gone. */
export class Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  private readonly sampler: NodeJS.Timeout;
  private peak = 0;
  private mostProcesses = 0;
  private lastTree: number[] = [];
  private exited = false;
  private readonly exit: Promise<unknown>;

  constructor(options: DaemonOptions) {
    installExitHook();
    this.name = options.name;
    const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
    const stdio = options.pipe ? (['pipe', 'pipe', out] as const) : (['ignore', out, out] as const);
    this.child = spawn(options.command, options.args, { cwd: options.cwd, env: options.env ?? process.env, stdio: [...stdio] });
    if (typeof out === 'number') closeSync(out); // the child has its own copy
    this.exit = once(this.child, 'exit').then(() => (this.exited = true));
    this.child.once('error', () => (this.exited = true));
    live.add(this);
    // Every 100 ms: the resident memory of the process and all its descendants.
    this.sampler = setInterval(() => this.sample(), 100);
    this.sampler.unref();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return !this.exited && this.child.exitCode === null;
  }

  /** Why the process is not running (for an error while waiting for it), or undefined while it is. */
  failure(): string | undefined {
    if (this.running) return undefined;
    return `${this.name} (pid ${this.pid}) exited with ${this.child.exitCode ?? this.child.signalCode}`;
  }

  /** Resident memory of the whole process tree now, in bytes. */
  rssNow(): number {
    return treeRss(this.lastTree.length ? this.lastTree : [this.pid]);
  }

  /** Highest resident memory seen since the last resetPeak(), in bytes (the tree's sum; a single process's VmHWM when higher). */
  peakRss(): number {
    this.sample();
    return Math.max(this.peak, this.lastTree.length === 1 ? highWater(this.pid) : 0);
  }

  /** The most processes the server ran at once since the last resetPeak() (nginx: 2; Postfix under load: dozens). */
  peakProcesses(): number {
    return this.mostProcesses;
  }

  resetPeak(): void {
    this.peak = 0;
    this.mostProcesses = 0;
    // A single process's own high-water mark starts again too (proc(5): clear_refs, "5").
    try {
      if (this.running) writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      // not allowed here: the sampled peak still holds
    }
    this.sample();
  }

  private sample(): void {
    if (!this.running) return;
    this.lastTree = processTree(this.pid);
    this.peak = Math.max(this.peak, treeRss(this.lastTree));
    this.mostProcesses = Math.max(this.mostProcesses, this.lastTree.length);
  }

  /** SIGTERM to the process, SIGKILL after `graceMs`; then any child it left behind, by its PID. */
  async stop(graceMs = 5000): Promise<void> {
    clearInterval(this.sampler);
    const tree = this.running ? processTree(this.pid) : this.lastTree;
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exit;
      clearTimeout(timer);
    }
    for (const pid of tree) if (pid !== this.pid && isAlive(pid)) signal(pid, 'SIGKILL');
    live.delete(this);
  }

  /** At exit of the bench: no waiting, no graceful close. */
  killNow(): void {
    for (const pid of [...this.lastTree, this.pid]) if (pid > 0 && isAlive(pid)) signal(pid, 'SIGKILL');
  }
}

/** Stop every server still running (the bench was interrupted). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((d) => d.stop(1000)));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `pid` and all its descendants, from the parent field of /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name in parentheses may hold spaces: the fields after its closing parenthesis are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const walk = (pid: number): void => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return tree;
}

/** A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`), 0 if the process is gone. */
function statusBytes(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function treeRss(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + statusBytes(pid, 'VmRSS'), 0);
}

function highWater(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  /** Wall-clock time from spawn to exit, in seconds. */
  seconds: number;
}

/**
 * Run a load tool (wrk, dnsperf, smtp-source, a python client) to its end: its output,
 * or an Error with its stderr if it fails or outlives `timeoutMs` (then it is killed by PID).
 */
export async function runTool(command: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<ToolResult> {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8192)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const [code, sig] = (await Promise.race([once(child, 'exit'), once(child, 'error').then(([e]) => Promise.reject(e))])) as [number | null, string | null];
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const described = `${command} ${args.join(' ')}`;
  if (timedOut) throw new Error(`${described} did not finish within ${timeoutMs / 1000} s; stopped it.\n${stderr}`);
  if (code !== 0) throw new Error(`${described} failed (${code ?? sig}):\n${stderr || stdout.slice(-2000)}`);
  return { stdout, stderr, seconds };
}
