import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunResult } from '../../result';
import type { Scenario } from '../../scenario/load';
import { compose } from './compose';

/**
 * Run scenarios on the Docker lab from the `client` container, inside the lab network
 * (standard ports, real addresses), with `wirelab run` there. Each scenario's folder is
 * mounted at the same path as on this machine and the client works in our working
 * folder, so every file name the client prints is the one given here. The client
 * writes its whole result (secrets masked) into a folder only we read: the reports are
 * written here, at the paths the user gave.
 */

export interface ClientRunOptions {
  trace?: boolean;
  /** `--packets`: the trace with each step's TCP layer. */
  packets?: boolean;
  /** Where the client's terminal report goes: our stdout, or stderr when stdout carries a report. */
  show: 'stdout' | 'stderr';
  /** `--capture FILE`: the client captures its own traffic (tcpdump on every interface) into FILE here. */
  capture?: string;
}

/** Mounted in the client for its result; no scenario lives there. */
const RESULT_DIR = '/run/wirelab-result';

export async function runInClient(lab: { project: string }, scenarios: Scenario[], options: ClientRunOptions): Promise<{ code: number; result?: RunResult }> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-'));
  try {
    const folders = [...new Set(scenarios.map((s) => path.dirname(path.resolve(s.file))))];
    const mounts = [`${out}:${RESULT_DIR}`, ...folders.map((f) => `${f}:${f}:ro`)].flatMap((m) => ['-v', m]);
    const stream = options.show === 'stdout' ? process.stdout : process.stderr;
    const env = ['-e', `WIRELAB_PROJECT=${lab.project}`];
    if ('NO_COLOR' in process.env) env.push('-e', 'NO_COLOR=1');
    else if (stream.isTTY || 'FORCE_COLOR' in process.env) env.push('-e', 'FORCE_COLOR=1');
    const args = [
      'run',
      scenarios.map((s) => s.file),
      '--result-file',
      `${RESULT_DIR}/result.json`,
      options.trace ? ['--trace'] : [],
      options.packets ? ['--packets'] : [],
      options.capture ? ['--capture', `${RESULT_DIR}/capture.pcapng`] : [],
    ].flat();
    const { code } = await compose(['run', '--rm', '-T', '-w', process.cwd(), ...mounts, ...env, 'client', 'wirelab', ...args], {
      project: lab.project,
      show: options.show,
    });
    let result: RunResult | undefined;
    try {
      result = { ...(JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8')) as RunResult), backend: 'docker' };
    } catch {
      // No result: the client stopped before the end; it said why above.
    }
    if (options.capture) {
      await mkdir(path.dirname(path.resolve(options.capture)), { recursive: true });
      await copyFile(path.join(out, 'capture.pcapng'), options.capture).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT' || result) throw err; // no file and no result: the client said why
      });
    }
    return { code: result && (code === 0 || code === 1) ? code : 2, result };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
