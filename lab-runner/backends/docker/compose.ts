import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../../services/common/paths';

/**
 * Docker Compose, as the user has it: `docker compose` (v2) or Debian's
 * `docker-compose` (1.29). compose.yaml works with both.
 */

let found: string[] | undefined;

export function composeCommand(): string[] {
  if (found) return found;
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    const probe = spawnSync(candidate[0]!, [...candidate.slice(1), 'version'], { stdio: 'ignore' });
    if (probe.status === 0) return (found = candidate);
  }
  throw new Error('Docker Compose is not installed: install docker-compose (Debian: apt-get install docker-compose) or the docker compose plugin');
}

export interface ComposeOptions {
  project: string;
  /** Print what compose prints (default: only on failure). */
  inherit?: boolean;
}

/** Run a compose command in the package's compose.yaml; resolves with its exit code and output. */
export function compose(args: string[], options: ComposeOptions): Promise<{ code: number; output: string }> {
  const [cmd, ...pre] = composeCommand();
  const file = path.join(packageRoot(), 'compose.yaml');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...pre, '-p', options.project, '-f', file, ...args], {
      cwd: packageRoot(),
      stdio: options.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
