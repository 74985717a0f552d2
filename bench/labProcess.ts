/**
 * The embedded lab in a process of its own, for the bench's whole-lab figures
 * (bench/suites/lab.ts): it starts every service on free ports, prints one line of JSON
 * with where each listens, then takes commands on stdin, one a line:
 *
 *   run N     run the first N scenarios of scenarios/ (run all: every one); prints {passed, failed, ms}
 *   exit      stop the lab and exit
 *
 *   node dist/bench/labProcess.js LAB_DIR DATA_DIR
 */
import path from 'node:path';
import readline from 'node:readline';
import { EmbeddedBackend } from '../lab-runner/backends/embedded';
import { runScenarios } from '../lab-runner/run';
import { findScenarioFiles, loadScenarioFile } from '../lab-runner/scenario/load';
import { packageRoot } from '../services/common/paths';

async function main(): Promise<void> {
  const [labDir, dataDir] = process.argv.slice(2);
  if (!labDir || !dataDir) throw new Error('usage: labProcess.js LAB_DIR DATA_DIR');
  const backend = new EmbeddedBackend({ labDir, dataDir, freePorts: true });
  await backend.start();
  const endpoints = backend.status().flatMap((s) => Object.entries(s.endpoints).map(([name, where]) => ({ service: s.name, name, where })));
  const reply = (value: unknown): void => void process.stdout.write(JSON.stringify(value) + '\n');
  reply({ endpoints });
  const files = await findScenarioFiles([path.join(packageRoot(), 'scenarios')]);
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [command, arg] = line.trim().split(/\s+/);
    if (command === 'exit') break;
    if (command === 'run') {
      const chosen = arg === 'all' ? files : files.slice(0, Number(arg));
      const scenarios = await Promise.all(chosen.map((f) => loadScenarioFile(f)));
      const started = Date.now();
      const result = await runScenarios(scenarios, backend);
      const passed = result.scenarios.filter((s) => s.status === 'passed').length;
      reply({ scenarios: scenarios.length, passed, failed: scenarios.length - passed, ms: Date.now() - started });
    } else reply({ error: `unknown command ${JSON.stringify(line)}` });
  }
  await backend.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`labProcess: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
