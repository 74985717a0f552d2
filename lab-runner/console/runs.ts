import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Backend } from '../backends/types';
import type { RunCapture } from '../packets/runCapture';
import { maskScenario, maskStep, renderReport } from '../report';
import type { RunResult, ScenarioResult } from '../result';
import { runScenarios, runScenario, type RunListener } from '../run';
import { findScenarioFiles, loadScenarioFile, ScenarioError, type Scenario } from '../scenario/load';
import type { EventHub } from './events';

/**
 * The Scenarios page: every scenario in the lab's folder, run one or all on the lab the
 * console serves, each step's result sent to the page the moment the runner finishes it
 * (`run` events), the whole result kept for the HTML, JUnit and JSON reports.
 * Quizzes' probes run through here too, so their steps arrive the same way. On a lab
 * started with capture on, every run takes its steps' packets from the lab's capture;
 * without it, the scenarios that check packets are listed with why they do not run.
 */

/** Too many runs at once: the console's `maxRuns` option. */
export class BusyError extends Error {}

/** At most `max` runs at a time (Try it, scenarios and probes alike), so a page cannot load the lab without end. */
export class RunLimiter {
  private active = 0;
  constructor(readonly max: number) {}

  /** A place for one run, or BusyError at once; call the returned function when the run ends. */
  take(): () => void {
    if (this.active >= this.max) throw new BusyError(`${this.active} runs are going on already (the console runs at most ${this.max} at once): wait for one to finish`);
    this.active++;
    let released = false;
    return () => {
      if (!released) this.active--;
      released = true;
    };
  }

  async run<T>(what: () => Promise<T>): Promise<T> {
    const release = this.take();
    try {
      return await what();
    } finally {
      release();
    }
  }
}

export interface ScenarioInfo {
  /** The file's path inside the scenarios folder: how the page names it. */
  file: string;
  title: string;
  description?: string;
  steps: { name: string; action: string; points: number }[];
  maxPoints: number;
  /** Why it does not run on this lab: it checks packets, and the lab was started without capture. */
  skipped?: string;
}

/** Why a scenario that checks packets does not run on a lab without capture, and how to run it. */
export const NEEDS_CAPTURE = 'it checks the packets under its steps (tcp:, packets:, payload:): start the lab with --capture (wirelab up --capture) to run it';

/**
 * A run's id: the one the page chose (so it knows the events of its run from the very
 * first, which may come before the answer to its request), when it is a plain word.
 */
export function runId(wanted: unknown): string {
  return typeof wanted === 'string' && /^[A-Za-z0-9-]{8,64}$/.test(wanted) ? wanted : randomUUID();
}

/** How many finished runs keep their reports for download. */
const KEPT_RUNS = 10;

export class ScenarioRuns {
  private readonly finished = new Map<string, RunResult>();

  constructor(
    private readonly dir: string,
    private readonly backend: Backend,
    private readonly hub: EventHub,
    private readonly limiter: RunLimiter,
    private readonly capture?: RunCapture,
  ) {}

  /** The scenarios in the folder, loaded afresh (an instructor may be editing them); files that do not load, with why. */
  async list(): Promise<{ scenarios: ScenarioInfo[]; errors: string[]; loaded: Scenario[] }> {
    const loaded: Scenario[] = [];
    const errors: string[] = [];
    let files: string[] = [];
    try {
      files = await findScenarioFiles([this.dir]);
    } catch (err) {
      errors.push((err as Error).message);
    }
    for (const file of files) {
      try {
        loaded.push(await loadScenarioFile(file));
      } catch (err) {
        if (!(err instanceof ScenarioError)) throw err;
        errors.push(err.message.replaceAll(this.dir + path.sep, ''));
      }
    }
    const scenarios = loaded.map((s) => ({
      file: path.relative(this.dir, s.file),
      title: s.title,
      description: s.description,
      steps: s.steps.map((step) => ({ name: step.name, action: step.action, points: step.points })),
      maxPoints: s.maxPoints,
      ...(s.needsCapture && !this.capture ? { skipped: NEEDS_CAPTURE } : {}),
    }));
    return { scenarios, errors, loaded };
  }

  /**
   * Start a run of these scenarios (by their names in the folder; none: all of them).
   * Returns its id at once; the steps arrive as `run` events. A name that is not a
   * scenario of the folder is refused: the page cannot make the console read other files.
   */
  async start(files: unknown, wantedId?: unknown): Promise<{ id: string; scenarios: ScenarioInfo[] }> {
    const { scenarios: all, loaded } = await this.list();
    let chosen = loaded;
    if (files !== undefined) {
      if (!Array.isArray(files) || !files.every((f) => typeof f === 'string')) throw new TypeError('files: a list of scenario file names');
      const unknown = files.filter((f) => !all.some((s) => s.file === f));
      if (unknown.length) throw new TypeError(`no scenario named ${unknown.join(', ')} in the scenarios folder`);
      chosen = loaded.filter((s) => files.includes(path.relative(this.dir, s.file)));
    }
    // Without capture, the scenarios that check packets are left out (each says why in the list).
    const runnable = this.capture ? chosen : chosen.filter((s) => !s.needsCapture);
    if (chosen.length && !runnable.length) throw new TypeError(`${chosen.map((s) => path.relative(this.dir, s.file)).join(', ')}: ${NEEDS_CAPTURE}`);
    chosen = runnable;
    if (!chosen.length) throw new TypeError('no scenario to run');
    const id = runId(wantedId);
    const info = all.filter((s) => chosen.some((c) => path.relative(this.dir, c.file) === s.file));
    // Taken before answering, so a page that asks for too much hears so at once.
    const release = this.limiter.take();
    void this.runAll(id, chosen)
      .catch((err: unknown) => this.hub.send('run', { id, type: 'failed', error: (err as Error).message }))
      .finally(release);
    return { id, scenarios: info };
  }

  /** A finished run's report: html, junit or json, secrets masked. */
  report(id: string, format: 'html' | 'junit' | 'json'): string | undefined {
    const result = this.finished.get(id);
    return result ? renderReport(format, result) : undefined;
  }

  /** The listener that sends a run's progress to the pages, under the run's id. */
  listener(id: string, relative = (file: string): string => path.relative(this.dir, file)): RunListener {
    return {
      scenarioStart: (s) => this.hub.send('run', { id, type: 'scenario', file: relative(s.file), title: s.title, steps: s.steps.map((st) => st.name) }),
      stepEnd: (s, step) => this.hub.send('run', { id, type: 'step', file: relative(s.file), step: maskStep(step), endedAt: Date.now() }),
      scenarioEnd: (r) => this.hub.send('run', { id, type: 'scenarioEnd', file: relative(r.file), status: r.status, points: r.points, maxPoints: r.maxPoints }),
    };
  }

  /** One scenario (a quiz's probe) run on the lab as it is, its steps sent like a scenario run's. */
  async runOne(id: string, scenario: Scenario, name: string): Promise<ScenarioResult> {
    return this.limiter.run(async () => {
      const result = await runScenario(scenario, this.backend, this.listener(id, () => name), { asItIs: true, capture: this.capture?.run() });
      this.hub.send('run', { id, type: 'end', points: result.points, maxPoints: result.maxPoints, passed: result.status === 'passed' });
      return maskScenario(result);
    });
  }

  private async runAll(id: string, scenarios: Scenario[]): Promise<void> {
    const result = await runScenarios(scenarios, this.backend, this.listener(id), { capture: this.capture?.run() });
    for (const s of result.scenarios) s.file = path.relative(this.dir, s.file);
    this.finished.set(id, result);
    while (this.finished.size > KEPT_RUNS) this.finished.delete(this.finished.keys().next().value!);
    this.hub.send('run', { id, type: 'end', points: result.points, maxPoints: result.maxPoints, passed: result.passed, durationMs: result.durationMs });
  }
}
