import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend, type EmbeddedOptions } from '../../lab-runner/backends/embedded';
import type { StepResult, ScenarioResult } from '../../lab-runner/result';
import { LAB_DIR } from './paths';

export { LAB_DIR, SCENARIOS_DIR } from './paths';

/** A whole embedded lab on free ports with its own fresh data directory. */
export async function startLab(options: Partial<EmbeddedOptions> = {}): Promise<{ backend: EmbeddedBackend; dataDir: string; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-test-'));
  const backend = new EmbeddedBackend({ labDir: LAB_DIR, dataDir, freePorts: true, ...options });
  await backend.start();
  return {
    backend,
    dataDir,
    async stop() {
      await backend.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A failing scenario's steps in a form that reads well in a test failure. */
export function problems(result: ScenarioResult): string[] {
  return result.steps.filter((s) => s.status !== 'passed').map(describeStep);
}

export function describeStep(s: StepResult): string {
  return `${s.file}:${s.line} ${s.name}: ${s.status}: ${s.error ?? ''}`;
}
