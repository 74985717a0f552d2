import { readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { executorFor } from '../../lab-runner/executors/registry';
import { failureOutput } from '../../lab-runner/executors/types';
import { loadScenarioFile } from '../../lab-runner/scenario/load';
import { runScenario } from '../../lab-runner/run';
import { problems, SCENARIOS_DIR, startLab } from '../helpers/lab';

/** Every classroom scenario passes, unchanged, on the embedded lab. */

const files = readdirSync(SCENARIOS_DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('scenarios/ on the embedded backend', () => {
  let lab: Awaited<ReturnType<typeof startLab>>;
  beforeAll(async () => {
    lab = await startLab();
  });
  afterAll(() => lab.stop());

  test('there are scenarios to run', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
  });

  test.each(files)('%s passes with full points', async (file) => {
    const scenario = await loadScenarioFile(path.join(SCENARIOS_DIR, file));
    const result = await runScenario(scenario, lab.backend);
    expect(problems(result)).toEqual([]);
    expect(result.points).toBe(result.maxPoints);
    // Every step that talked to the lab recorded its exchange.
    for (const step of result.steps.filter((s) => s.action !== 'lab')) expect(step.transcript.length).toBeGreaterThan(0);
    // Every output is what its executor declares (the schema expect: and save: are checked against).
    for (const step of result.steps) {
      const output = z.union([executorFor(step.action as never).output, failureOutput]).safeParse(step.output);
      expect([step.name, output.error?.issues ?? []]).toEqual([step.name, []]);
    }
  });
});
