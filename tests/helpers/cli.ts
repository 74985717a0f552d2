import { Child } from './process';
import { built, REPO_DIR } from './paths';

/**
 * `wirelab up` as a user runs it, in the background: the built CLI from the package root
 * with NO_COLOR, waited for until it says the lab is up. (A one-shot `wirelab ...` is
 * `wirelab()` in process.ts.)
 */

/** A lab started with `wirelab up`: its output so far, where each service listens, and how to stop it. */
export interface UpLab {
  child: Child;
  output(): string;
  /** `127.0.0.1:PORT` of a service's port, as `wirelab up` printed it: `endpoint('http')`, `endpoint('smtp', 587)`. */
  endpoint(service: string, labPort?: number): string;
  /** Ctrl+C, and its exit code. */
  stop(): Promise<number | null>;
}

/** `wirelab up ARGS` in the background, once it says the lab is up (or a deadline that names what was awaited). */
export async function startUp(args: string[], env: Record<string, string> = {}, deadlineMs = 30000): Promise<UpLab> {
  const child = Child.node(built('lab-runner/cli.js'), ['up', ...args], { cwd: REPO_DIR, env: { ...process.env, NO_COLOR: '1', ...env }, name: `wirelab up ${args.join(' ')}` });
  await child.waitFor(/Ctrl\+C stops the lab/, { ms: deadlineMs });
  const output = (): string => child.stdout + child.stderr;
  return {
    child,
    output,
    endpoint(service, labPort) {
      const line = child.stdout.split('\n').find((l) => new RegExp(`^  ${service} `).test(l));
      const match = line && new RegExp(`${labPort ?? '\\d+'} → (127\\.0\\.0\\.1:\\d+)`).exec(line);
      if (!match) throw new Error(`wirelab up printed no port for ${service}${labPort ? ` ${labPort}` : ''}:\n${output()}`);
      return match[1]!;
    },
    async stop() {
      return (await child.stop('SIGINT')).code;
    },
  };
}
