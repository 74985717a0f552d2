import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { LogCollector } from './logs';
import { built, LAB_DIR, REPO_DIR } from './paths';
import { pointAtCaller, within, type WaitOptions } from './wait';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** The process's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default: stdout and stderr collected. 'ignore' for a daemon whose output does not matter. */
  stdio?: 'pipe' | 'ignore';
  /** Default 'ignore'; 'pipe' for a program that runs until its input ends (write to and end `child.process.stdin`). */
  stdin?: 'pipe' | 'ignore';
  /** How failures name it; default: the command and its first argument. */
  name?: string;
}

/** The children started in this test file that have not exited yet. */
const live = new Set<Child>();

// A test that fails before it stops what it started must not leave it running, nor keep
// Jest waiting for it: whatever is left is stopped after the file's tests. This hook is
// declared before the file's own afterAll hooks, so it runs first: SIGTERM, as their
// stop() would send (a daemon's master, nginx's, then takes its workers down with it;
// after a SIGKILL they would live on, holding Jest's output pipes open), and SIGKILL
// for what outlasts it.
afterAll(() => stopLeftovers());

/** Stops every child of this file still running: SIGTERM, then SIGKILL for what outlasts 2 s. */
export async function stopLeftovers(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop('SIGTERM', { ms: 2000 }).catch(() => child.stop('SIGKILL'))));
}

/**
 * A program a test runs: a service's main.js, the CLI, a daemon from Debian. Its output
 * is collected line by line (`output`, both streams) and whole (`stdout`, `stderr`);
 * waiting for a line has a deadline and fails at once, with the last lines, if the
 * process exits first. Stopped by its PID.
 */
export class Child {
  /** Every line of stdout and stderr, in the order they came. */
  readonly output = new LogCollector();
  stdout = '';
  stderr = '';
  /** Resolves when the process has exited (no deadline: await exit() to wait for it). */
  readonly exited: Promise<Exit>;
  exitStatus?: Exit;

  private constructor(
    readonly process: ChildProcess,
    /** How failures name it: `node dist/services/smtp/main.js`, `nginx`. */
    readonly name: string,
  ) {
    live.add(this);
    this.exited = new Promise<Exit>((resolve) => {
      process.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
      // A program that cannot be started at all (ENOENT) exits with no 'exit' event.
      process.once('error', (err) => {
        this.stderr += `${err.message}\n`;
        this.output.add(err.message);
        this.exitStatus ??= { code: -1, signal: null };
        resolve(this.exitStatus);
      });
    }).finally(() => live.delete(this));
    this.collect('stdout');
    this.collect('stderr');
  }

  static start(command: string, args: string[], options: StartOptions = {}): Child {
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env ?? process.env, stdio: [options.stdin ?? 'ignore', options.stdio ?? 'pipe', options.stdio ?? 'pipe'] };
    return new Child(spawn(command, args, spawnOptions), options.name ?? [command, ...args.slice(0, 1)].join(' '));
  }

  /** `node SCRIPT ARGS...` with this test's Node. */
  static node(script: string, args: string[] = [], options: StartOptions = {}): Child {
    return Child.start(process.execPath, [script, ...args], { name: `node ${path.relative(REPO_DIR, script)}`, ...options });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** The first line of its output that matches, as a match (for the groups). */
  async waitFor(pattern: RegExp, options: WaitOptions = {}): Promise<RegExpExecArray> {
    const asked = new Error();
    const decided = new AbortController(); // whichever comes first, the other wait ends with it
    const line = this.output.waitFor(pattern, { ...options, signal: decided.signal }).then((lines) => lines[0]!);
    const died = this.exited.then((exit) => {
      // Output may still be in the pipes when 'exit' comes: one more look before failing.
      const match = this.output.matching(pattern)[0];
      if (match) return match;
      throw pointAtCaller(new Error(`${this.name} exited (${describeExit(exit)}) before printing a line matching ${pattern}; ${this.output.tail()}`), asked);
    });
    line.catch(() => {}); // the loser's rejection is nobody's business
    died.catch(() => {});
    try {
      return pattern.exec(await Promise.race([line, died]))!;
    } finally {
      decided.abort();
    }
  }

  /** Waits (with a deadline) for the process to exit on its own. */
  exit(options: WaitOptions = {}): Promise<Exit> {
    return within(this.exited, `${this.name} (pid ${this.pid}) to exit`, { ms: options.ms, seen: () => this.output.tail() });
  }

  /** Sends `signal` (default SIGTERM) to its PID and waits for the exit; a process already gone is fine. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', options: WaitOptions = {}): Promise<Exit> {
    if (this.running) {
      try {
        process.kill(this.pid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    return this.exit(options);
  }

  private collect(stream: 'stdout' | 'stderr'): void {
    const readable = this.process[stream];
    if (!readable) return;
    let partial = '';
    readable.setEncoding('utf8');
    readable.on('data', (chunk: string) => {
      this[stream] += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.output.add(line);
    });
    readable.on('end', () => {
      if (partial) this.output.add(partial);
    });
  }
}

function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** A service's listening line: `... listening on 127.0.0.1:PORT` on stdout, or its log line `listening ... port=PORT`. */
const LISTENING = / listening (?:on [^\s:]+:(\d+)|.*\bport=(\d+))/;

/**
 * `node dist/services/<service>/main.js`, as its container runs it, on 127.0.0.1 and
 * port 0 (`<SERVICE>_HOST`, `<SERVICE>_PORT`), with the lab's folder; `env` adds to or
 * overrides that. The environment is otherwise only PATH: nothing leaks in from the
 * shell that runs the tests. Fails (asking for `npm run build`) when dist/ is missing.
 */
export function spawnMain(service: string, env: Record<string, string> = {}): Child {
  const prefix = service.toUpperCase();
  return Child.node(built(`services/${service}/main.js`), [], {
    env: { PATH: process.env.PATH ?? '', WIRELAB_LAB: LAB_DIR, [`${prefix}_HOST`]: '127.0.0.1', [`${prefix}_PORT`]: '0', ...env },
  });
}

/**
 * spawnMain(), then its listening line; resolves with the port that line names. `ready`
 * replaces the line looked for (its first group that matched is the port).
 */
export async function startMain(service: string, env: Record<string, string> = {}, options: WaitOptions & { ready?: RegExp } = {}): Promise<{ child: Child; port: number }> {
  const child = spawnMain(service, env);
  try {
    const match = await child.waitFor(options.ready ?? LISTENING, options);
    return { child, port: Number(match.slice(1).find((g) => g !== undefined)) };
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
}

export interface RunResult<T = string> {
  /** The exit code; -1 when there was none (killed by a signal, or never started). */
  code: number;
  stdout: T;
  stderr: string;
}

export interface RunOptions extends WaitOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How stdout is decoded (default utf8); 'buffer' keeps the octets. */
  encoding?: BufferEncoding | 'buffer';
  /** Written to its stdin, which is then closed (`openssl s_client` and `nc` end when their input does); default: stdin left open. */
  input?: string | Buffer;
}

/**
 * Run a client to the end (curl, swaks, lftp, dig, ssh, python3 ...): its exit code and
 * output, whatever the code. A run that outlasts `ms` (default 20 s, inside Jest's 30 s
 * for a test: a client may run a whole session) is killed, and fails naming the command
 * and what it printed.
 */
export function run(command: string, args: string[], options: RunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
export function run(command: string, args: string[], options?: RunOptions & { encoding?: BufferEncoding }): Promise<RunResult>;
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult<string | Buffer>> {
  const ms = options.ms ?? 20000;
  const encoding = options.encoding ?? 'utf8';
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd: options.cwd, env: options.env, encoding, timeout: ms, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const text = (out: string | Buffer): string => (Buffer.isBuffer(out) ? out.toString('utf8') : out);
      if ((err?.code as unknown) === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') reject(new Error(`${command} printed more than 64 MiB`));
      else if (err?.killed) reject(new Error(`${[command, ...args].join(' ').slice(0, 300)} did not finish within ${ms} ms; its output so far:\n${text(stdout)}${text(stderr)}`));
      else resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr: text(stderr) });
    });
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {}); // a client that never reads its input may be gone before it is written
      child.stdin?.end(options.input);
    }
  });
}

/** run(), for a command that must succeed (docker, a setup script): fails naming it, its exit code and its output otherwise. */
export async function succeeds(command: string, args: string[], options: RunOptions & { encoding?: BufferEncoding } = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${[command, ...args].join(' ').slice(0, 300)} exited ${result.code}:\n${result.stdout}${result.stderr}`);
  return result;
}

/**
 * The built CLI (dist/lab-runner/cli.js) as a user runs it: from the checkout, without
 * colour. `env` adds to this process's environment (a variable set to undefined is
 * removed). A run that outlasts `ms` (default 25 s, inside Jest's 30 s) fails naming
 * the command.
 */
export function wirelab(args: string[], options: { env?: Record<string, string | undefined>; ms?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [built('lab-runner/cli.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, NO_COLOR: '1', ...options.env }, ms: options.ms ?? 25000 });
}
