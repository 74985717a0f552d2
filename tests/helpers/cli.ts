import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

/**
 * The `wirelab` command as a user runs it: the built CLI (npm test builds first), run
 * from the package root with NO_COLOR, its exit status and what it printed.
 */

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'dist/lab-runner/cli.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function wirelab(args: string[], env: Record<string, string> = {}, timeoutMs = 60000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A lab started with `wirelab up`: its output so far, where each service listens, and how to stop it. */
export interface UpLab {
  child: ChildProcess;
  output(): string;
  /** `127.0.0.1:PORT` of a service's port, as `wirelab up` printed it: `endpoint('http')`, `endpoint('smtp', 587)`. */
  endpoint(service: string, labPort?: number): string;
  /** Ctrl+C, and its exit code. */
  stop(): Promise<number | null>;
}

/** `wirelab up ARGS` in the background, once it says the lab is up (or a deadline that names what was awaited). */
export async function startUp(args: string[], env: Record<string, string> = {}, deadlineMs = 30000): Promise<UpLab> {
  const child = spawn(process.execPath, [CLI, 'up', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  const deadline = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  try {
    while (!out.includes('Ctrl+C stops the lab')) {
      const what = await Promise.race([once(child.stdout, 'data').then(() => 'data'), exited.then(() => 'exit')]);
      if (what === 'exit') throw new Error(`wirelab up ${args.join(' ')} exited before "Ctrl+C stops the lab" (within ${deadlineMs} ms):\n${out}`);
    }
  } finally {
    clearTimeout(deadline);
  }
  return {
    child,
    output: () => out,
    endpoint(service, labPort) {
      const line = out.split('\n').find((l) => new RegExp(`^  ${service} `).test(l));
      const match = line && new RegExp(`${labPort ?? '\\d+'} → (127\\.0\\.0\\.1:\\d+)`).exec(line);
      if (!match) throw new Error(`wirelab up printed no port for ${service}${labPort ? ` ${labPort}` : ''}:\n${out}`);
      return match[1]!;
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
