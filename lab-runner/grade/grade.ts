import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultLabDir, packageRoot } from '../../services/common/paths';
import { EmbeddedBackend } from '../backends/embedded';
import type { RunResult, StepResult } from '../result';
import { runScenarios } from '../run';
import { loadScenarioFile, ScenarioError, type Scenario } from '../scenario/load';
import { canvasCsv, columnsOf, gradebookCsv, outcomeOf, type Gradebook, type GradebookColumn, type GradebookEntry, type GradeStatus } from './gradebook';
import { loadRoster, RosterError, type Roster } from './roster';
import { DEFAULT_SCENARIOS, loadSubmission, SubmissionError, type Submission } from './submission';
import { startTarget, StartError, type RunningTarget } from './target';

/**
 * `wirelab grade`: every submission in its own lab. For each student folder: read
 * submission.yaml, bring the student's server up, start an embedded lab on free ports
 * with that server standing in for its service (`targets`), run the scenarios, bring
 * everything down again. A few at a time; each one's result written as it finishes;
 * the gradebook at the end.
 */

export interface GradeOptions {
  /** Where to write `<student>/result.json`, `<student>/report.html`, gradebook.csv and gradebook.json. Default: grades/. */
  out?: string;
  /** How many submissions are graded at once. Default: 2. */
  jobs?: number;
  /** How long a student's server may take to answer after it is started (ms). Default: 10000. */
  startupTimeoutMs?: number;
  /**
   * How long one submission's scenarios may run, in all (ms): when it runs out, the step
   * running is stopped, the rest are not run, and the submission keeps the points it
   * earned, marked time-limit. Default: 15000 (see DEFAULT_TIME_LIMIT_MS).
   */
  timeLimitMs?: number;
  /** A roster CSV (roster.ts): folder -> the learning platform's student id. Default: none. */
  roster?: string;
  /** canvas.csv's assignment column: `Title (12345)` as Canvas exports it. Default: the scenario's title, or "wirelab" for several. */
  assignment?: string;
  /** Where the scenario names of submission.yaml are looked up. Default: wirelab's scenarios/. */
  scenariosDir?: string;
  /** The lab world each submission's lab serves. Default: wirelab's lab/ (or $WIRELAB_LAB). */
  labDir?: string;
  /** Called once the submissions are found, before any is graded: the students' names. */
  onStart?(students: string[]): void;
  /** Called as each submission is graded: `done` of `total`. */
  onGraded?(entry: GradebookEntry, done: number, total: number): void;
}

export const DEFAULT_JOBS = 2;
export const DEFAULT_STARTUP_TIMEOUT_MS = 10_000;
/**
 * A correct server goes through http-basics' 9 steps in about 0.3 s here, so 15 s leaves
 * a slow one (a second or more per request) room to finish; a server that accepts
 * connections and never answers would otherwise wait out each step's 5 s timeout in
 * turn (35 s for http-basics), and a class of them with --jobs 2, ten minutes.
 */
export const DEFAULT_TIME_LIMIT_MS = 15_000;
export const DEFAULT_OUT = 'grades';

/** The class cannot be graded at all (no such folder, no submissions, bad options): a usage error. */
export class GradeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GradeError';
  }
}

export async function gradeClass(dir: string, options: GradeOptions = {}): Promise<Gradebook> {
  const started = Date.now();
  const out = path.resolve(options.out ?? DEFAULT_OUT);
  const jobs = options.jobs ?? DEFAULT_JOBS;
  const startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  if (!Number.isInteger(jobs) || jobs < 1) throw new GradeError(`jobs must be a whole number of at least 1, got ${jobs}`);
  if (!Number.isFinite(startupTimeoutMs) || startupTimeoutMs <= 0) throw new GradeError(`the startup timeout must be a positive number of milliseconds, got ${startupTimeoutMs}`);
  const timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  if (!Number.isFinite(timeLimitMs) || timeLimitMs <= 0) throw new GradeError(`the time limit must be a positive number of milliseconds, got ${timeLimitMs}`);
  const roster = options.roster ? await loadRoster(options.roster).catch((err: unknown) => {
    throw err instanceof RosterError ? new GradeError(`--roster: ${err.message}`) : err;
  }) : undefined;
  const folders = await submissionFolders(dir, out);
  const context: Context = {
    out,
    startupTimeoutMs,
    timeLimitMs,
    scenariosDir: options.scenariosDir ?? path.join(packageRoot(), 'scenarios'),
    labDir: options.labDir ?? defaultLabDir(),
    scenarios: new Map(),
  };

  options.onStart?.(folders.map((f) => path.basename(f)));
  const entries: GradebookEntry[] = new Array(folders.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < folders.length) {
      const index = next++;
      const folder = folders[index]!;
      const started = performance.now();
      // Whatever goes wrong with one submission, the others are graded.
      entries[index] = await gradeOne(folder, context).catch((err: unknown) => ({
        student: path.basename(folder),
        status: 'error' as const,
        outcome: 'failed' as const,
        score: 0,
        max: 0,
        scenarios: [],
        reason: `the grader failed (not the student's fault; grade again): ${err instanceof Error ? err.message : String(err)}`,
        durationMs: Math.round(performance.now() - started),
        files: [],
      }));
      options.onGraded?.(entries[index]!, ++done, folders.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, folders.length) }, worker));

  const columns = columnsOf(entries);
  const book: Gradebook = {
    submissionsDir: path.resolve(dir),
    out,
    gradedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    timeLimitMs,
    columns,
    students: roster ? withRoster(entries, roster, columns) : entries,
    ...(roster ? { roster: { file: roster.file, columns: roster.columns, notInRoster: entries.filter((e) => !roster.students.has(e.student)).map((e) => e.student) } } : {}),
  };
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'gradebook.json'), JSON.stringify(book, null, 2) + '\n');
  await writeFile(path.join(out, 'gradebook.csv'), gradebookCsv(book));
  if (roster) await writeFile(path.join(out, 'canvas.csv'), canvasCsv(book, options.assignment ?? (columns.length === 1 ? columns[0]!.title : 'wirelab')));
  return book;
}

/**
 * The entries with who each student is in the learning platform, then a row of 0 for
 * each student the roster names who handed in no folder (an import must not leave them
 * out), in the roster's order.
 */
function withRoster(entries: GradebookEntry[], roster: Roster, columns: GradebookColumn[]): GradebookEntry[] {
  const named = entries.map((e) => (roster.students.has(e.student) ? { ...e, roster: roster.students.get(e.student)! } : e));
  const max = columns.reduce((sum, c) => sum + c.maxPoints, 0);
  const missing = [...roster.students]
    .filter(([folder]) => !entries.some((e) => e.student === folder))
    .map(([folder, student]): GradebookEntry => ({ student: folder, roster: student, status: 'missing', outcome: 'failed', score: 0, max, scenarios: [], reason: `no submission: the roster names ${folder}, and there is no such folder`, durationMs: 0, files: [] }));
  return [...named, ...missing];
}

interface Context {
  out: string;
  startupTimeoutMs: number;
  timeLimitMs: number;
  scenariosDir: string;
  labDir: string;
  /** Scenario files loaded so far, by name: each is read once for the whole class. */
  scenarios: Map<string, Promise<Scenario>>;
}

/** Every folder of the submissions folder, by name (hidden ones and the output folder aside). */
async function submissionFolders(dir: string, out: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GradeError(code === 'ENOENT' ? `${dir}: no such folder` : code === 'ENOTDIR' ? `${dir}: not a folder of submissions` : `${dir}: ${(err as Error).message}`);
  }
  const folders = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => path.join(dir, e.name))
    .filter((f) => path.resolve(f) !== out)
    .sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
  if (!folders.length) throw new GradeError(`${dir}: no submissions: each is a folder, <student>/submission.yaml`);
  return folders;
}

async function gradeOne(folder: string, context: Context): Promise<GradebookEntry> {
  const started = performance.now();
  const student = path.basename(folder);
  const studentOut = path.join(context.out, student);
  await rm(studentOut, { recursive: true, force: true });
  await mkdir(studentOut, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, text: string): Promise<void> => {
    await writeFile(path.join(studentOut, name), text);
    files.push(path.join(student, name));
  };
  /** `names`: the scenarios as submission.yaml names them, for the gradebook's columns. */
  const finish = async (status: GradeStatus, names: string[], scenarios: Scenario[], result: RunResult | undefined, reason?: string): Promise<GradebookEntry> => {
    const run = result ?? notRun(scenarios, reason!);
    if (run.scenarios.length) await writeReports(run, write);
    if (reason) await write('reason.txt', reason + '\n');
    return {
      student,
      status,
      outcome: outcomeOf({ status, score: run.points, max: run.maxPoints }),
      score: run.points,
      max: run.maxPoints,
      scenarios: run.scenarios.map((s, i) => ({ file: names[i] ?? s.file, title: s.title, points: s.points, maxPoints: s.maxPoints })),
      ...(reason ? { reason } : {}),
      durationMs: Math.round(performance.now() - started),
      files,
    };
  };

  let submission: Submission;
  try {
    submission = await loadSubmission(folder);
  } catch (err) {
    if (!(err instanceof SubmissionError)) throw err;
    // Score it against what its service would have been graded with, so its max is the class's.
    const names = err.service && DEFAULT_SCENARIOS[err.service] ? [DEFAULT_SCENARIOS[err.service]!] : [];
    const fallback = await scenariosFor(names, context).catch(() => []);
    return finish('invalid', fallback.length ? names : [], fallback, undefined, `submission.yaml: ${err.message}`);
  }

  let scenarios: Scenario[];
  try {
    scenarios = await scenariosFor(submission.scenarios, context);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    return finish('invalid', [], [], undefined, `a scenario it names cannot be used: ${err.message}`);
  }

  let target: RunningTarget | undefined;
  let dataDir: string | undefined;
  let backend: EmbeddedBackend | undefined;
  try {
    try {
      target = await startTarget(submission, { startupTimeoutMs: context.startupTimeoutMs, student });
    } catch (err) {
      if (!(err instanceof StartError)) throw err;
      if (err.output) await write('server.log', err.output);
      return await finish('not-started', submission.scenarios, scenarios, undefined, `did not start: ${err.message}`);
    }
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-grade-'));
    backend = new EmbeddedBackend({
      labDir: context.labDir,
      dataDir,
      freePorts: true,
      targets: { [submission.target.service]: { host: target.host, port: target.port } },
    });
    try {
      await backend.start();
    } catch (err) {
      return await finish('error', submission.scenarios, scenarios, undefined, `the lab did not start (not the student's fault; grade again): ${(err as Error).message}`);
    }
    // The submission's own time limit, for all its scenarios: a server that never answers cannot wait out every step's timeout.
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(new Error(`time limit ${seconds(context.timeLimitMs)} s reached`)), context.timeLimitMs);
    try {
      const result = await runScenarios(scenarios, backend, {}, { signal: limit.signal });
      return await finish(result.stopped ? 'time-limit' : 'graded', submission.scenarios, scenarios, result, result.stopped);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await backend?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (target) {
      await target.stop();
      const output = target.output();
      if (output) {
        await writeFile(path.join(studentOut, 'server.log'), output);
        // `files` was handed out with the entry already: the log is listed there too.
        files.push(path.join(student, 'server.log'));
      }
    }
  }
}

/** Milliseconds as seconds to a tenth: 2000 -> 2, 1500 -> 1.5. */
const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/** The scenarios a submission names, each file loaded once for the class. */
async function scenariosFor(names: string[], context: Context): Promise<Scenario[]> {
  return Promise.all(
    names.map((name) => {
      let loading = context.scenarios.get(name);
      if (!loading) {
        const file = path.join(context.scenariosDir, name);
        const shown = path.relative(process.cwd(), file);
        loading = loadScenarioFile(shown.startsWith('..') || path.isAbsolute(shown) ? file : shown);
        context.scenarios.set(name, loading);
      }
      return loading;
    }),
  );
}

/**
 * The result of a submission whose scenarios could not run: every step at 0 with the
 * reason, so the student's report says what happened where the steps would be.
 */
function notRun(scenarios: Scenario[], reason: string): RunResult {
  const results = scenarios.map((scenario) => {
    const steps: StepResult[] = scenario.steps.map((step) => ({
      name: step.name,
      action: step.action,
      summary: step.action,
      file: scenario.file,
      line: step.line,
      status: 'error',
      points: 0,
      maxPoints: step.points,
      durationMs: 0,
      attempts: 0,
      checks: [],
      error: reason,
      hint: step.hint,
      saved: {},
      transcript: [],
    }));
    return {
      file: scenario.file,
      title: scenario.title,
      description: scenario.description,
      tags: scenario.tags,
      status: 'failed' as const,
      points: 0,
      maxPoints: scenario.maxPoints,
      durationMs: 0,
      steps,
    };
  });
  return {
    backend: 'embedded',
    startedAt: new Date().toISOString(),
    durationMs: 0,
    passed: false,
    points: 0,
    maxPoints: results.reduce((sum, s) => sum + s.maxPoints, 0),
    scenarios: results,
  };
}

interface Reporters {
  renderReport(format: 'json' | 'html', result: RunResult): string;
}

/** lab-runner/report/index.ts when it is there (it masks secrets); plain JSON and no HTML otherwise. */
function reporters(): Reporters | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require('../report/index') as Partial<Reporters>;
    return typeof module.renderReport === 'function' ? (module as Reporters) : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /report[\\/]index/.test((err as Error).message)) return undefined;
    throw err;
  }
}

async function writeReports(result: RunResult, write: (name: string, text: string) => Promise<void>): Promise<void> {
  const render = reporters();
  await write('result.json', render ? render.renderReport('json', result) : JSON.stringify(result, null, 2) + '\n');
  if (render) await write('report.html', render.renderReport('html', result));
}
