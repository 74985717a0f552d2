import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../../services/common/paths';

/**
 * Docker Compose, as the user has it: `docker compose` (v2) or Debian's
 * `docker-compose` (1.29). compose.yaml works with both.
 */

const CANDIDATES = [['docker', 'compose'], ['docker-compose']];
let found: string[] | null | undefined;

function detect(): string[] | null {
  if (found !== undefined) return found;
  for (const candidate of CANDIDATES) {
    const probe = spawnSync(candidate[0]!, [...candidate.slice(1), 'version'], { stdio: 'ignore' });
    if (probe.status === 0) return (found = candidate);
  }
  return (found = null);
}

export function composeCommand(): string[] {
  const command = detect();
  if (!command) throw new Error('Docker Compose is not installed: install the docker compose plugin, or docker-compose (Debian: apt-get install docker-compose)');
  return command;
}

/** What to tell a person to type: the Compose that is installed (`docker compose` when neither is). */
export function composeName(): string {
  return (detect() ?? CANDIDATES[0]!).join(' ');
}

export interface ComposeOptions {
  project: string;
  /** Show what compose prints, on our standard output or standard error (default: keep it, for the result). */
  show?: 'stdout' | 'stderr';
  /** Settings for this command only, over the environment (LAB_CAPTURE_DIR ...). */
  env?: Record<string, string>;
}

/** Run a compose command in the package's compose.yaml; resolves with its exit code and output. */
export function compose(args: string[], options: ComposeOptions): Promise<{ code: number; output: string }> {
  const [cmd, ...pre] = composeCommand();
  const file = path.join(packageRoot(), 'compose.yaml');
  return new Promise((resolve, reject) => {
    const out = options.show === 'stdout' ? 'inherit' : options.show === 'stderr' ? process.stderr : 'pipe';
    const child = spawn(cmd!, [...pre, '-p', options.project, '-f', file, ...args], {
      cwd: packageRoot(),
      // Spelled out: Compose reads LAB_* settings from it (and under jest, process.env is the test's own).
      env: { ...process.env, ...options.env },
      stdio: ['ignore', out, options.show ? 'inherit' : 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
