import { setTimeout as delay } from 'node:timers/promises';
import type { Backend, ServiceStatus } from './backends/types';
import { evaluate } from './expect/evaluate';
import { executorFor } from './executors/registry';
import type { FailureOutput, Session } from './executors/types';
import { findService, mergeByTime, nowMs, serviceWireEvents, STACK, StepError, Wire, type WireEvent } from './wire';
import type { StepPacketSource } from './packets/runCapture';
import type { StepCapture } from './packets/steps';
import { interpolate, MissingVariableError } from './scenario/interpolate';
import { getPath } from './scenario/path';
import type { Scenario, Step } from './scenario/load';
import { attachSecrets, type RunResult, type ScenarioResult, type StepResult, type TargetInfo } from './result';
import type { KeylogFile } from './tls/keylog';

/**
 * The engine: run each scenario's steps in order against a backend. For each step:
 * fill in variables, validate the action's input, run it with a timeout (and retry if
 * asked), check the expectations, save variables, award points.
 */

export interface RunListener {
  scenarioStart?(scenario: Scenario): void;
  stepEnd?(scenario: Scenario, step: StepResult): void;
  /** Each message of the step running, as the client records it (before the step ends: the console shows it live). */
  wireEvent?(scenario: Scenario, step: Step, event: WireEvent): void;
  scenarioEnd?(result: ScenarioResult): void;
}

export interface RunOptions {
  /**
   * Stops the whole run when it fires (`wirelab grade`'s time limit for a submission):
   * the step running is stopped, and every step after it is an error that says why
   * (the signal's reason, an Error's message). Default: the run goes to its end.
   */
  signal?: AbortSignal;
  /**
   * Run on the lab as it is: a service that is stopped stays stopped (the console's Try
   * it: "stop app, then ask shop"), a certificate lesson stays on. Default: each scenario
   * first starts every stopped service, whatever the last one stopped, and clears the
   * certificate lessons (tls-fault).
   */
  asItIs?: boolean;
  /** `--keylog FILE`: the secrets of every TLS session the steps open (SSLKEYLOGFILE format). */
  keylog?: KeylogFile;
  /**
   * `--capture`: the packets under each step, handed over as the step ends (its
   * transcript, when it started, the epoch ms its transcript counts from). Steps that
   * check packets (`tcp:`, `packets:`, `payload:`) error without it.
   */
  capture?: StepPacketSource;
}

export async function runScenarios(scenarios: Scenario[], backend: Backend, listener: RunListener = {}, options: RunOptions = {}): Promise<RunResult> {
  const startedAt = new Date();
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    results.push(await runScenario(scenario, backend, listener, options));
  }
  const targets = targetsOf(await backend.status());
  const stopped = results.flatMap((r) => r.steps).find((s) => s.stopped);
  return {
    backend: backend.name,
    ...(targets.length ? { targets } : {}),
    ...(stopped ? { stopped: `${stopReason(options.signal)} ${stopped.stopped} "${stopped.name}" (${stopped.file}:${stopped.line})` } : {}),
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    passed: results.every((r) => r.status === 'passed'),
    points: results.reduce((s, r) => s + r.points, 0),
    maxPoints: results.reduce((s, r) => s + r.maxPoints, 0),
    scenarios: results,
  };
}

export async function runScenario(scenario: Scenario, backend: Backend, listener: RunListener = {}, options: RunOptions = {}): Promise<ScenarioResult> {
  listener.scenarioStart?.(scenario);
  const started = performance.now();
  // Each scenario starts with every service up, whatever the last one stopped, and with no
  // certificate lesson on; unless it runs on the lab as it is.
  if (!options.signal?.aborted && !options.asItIs) {
    for (const s of await backend.status()) if (s.state === 'stopped') await backend.control(s.name, 'start');
    await backend.clearTlsFaults?.();
  }
  const vars: Record<string, unknown> = { ...scenario.vars };
  /** Variables a failed step should have saved: steps that use them are skipped. */
  const lost = new Map<string, string>();
  const session: Session = { resources: new Map() };
  const steps: StepResult[] = [];
  /** The values to mask in reports: the literals, then each secret variable's value once it is known. */
  const secrets: string[] = [];
  const learnSecrets = (): void => {
    for (const value of [...scenario.secrets.literals, ...scenario.secrets.variables.flatMap((name) => secretStrings(vars[name]))]) {
      if (value && !secrets.includes(value)) secrets.push(value);
    }
  };
  learnSecrets();
  /** Since when the services' own traffic belongs to the next step: nothing between two steps is lost. */
  let mark = new Date();
  try {
    for (const step of scenario.steps) {
      const missing = step.uses.find((u) => lost.has(u));
      const result = options.signal?.aborted
        ? notRun(scenario, step, `not run: ${stopReason(options.signal)}`)
        : missing
          ? skipped(scenario, step, `needs \${${missing}}, which "${lost.get(missing)}" did not save`)
          : await runStep(scenario, step, vars, backend, session, mark, options, (e) => listener.wireEvent?.(scenario, step, e));
      mark = new Date();
      if (result.status !== 'passed') for (const name of Object.keys(step.save)) lost.set(name, step.name);
      learnSecrets();
      steps.push(attachSecrets(result, secrets));
      listener.stepEnd?.(scenario, result);
    }
  } finally {
    for (const resource of session.resources.values()) resource.close();
  }
  const result: ScenarioResult = {
    file: scenario.file,
    title: scenario.title,
    description: scenario.description,
    tags: scenario.tags,
    status: steps.every((s) => s.status === 'passed') ? 'passed' : 'failed',
    points: steps.reduce((s, r) => s + r.points, 0),
    maxPoints: scenario.maxPoints,
    durationMs: Math.round(performance.now() - started),
    steps,
    visibility: scenario.visibility,
  };
  attachSecrets(result, secrets);
  listener.scenarioEnd?.(result);
  return result;
}

/** The services the backend sent to another server, under their lab names. */
export function targetsOf(statuses: ServiceStatus[]): TargetInfo[] {
  return statuses
    .filter((s) => s.state === 'target')
    .flatMap((s) => {
      const plan = findService(s.name);
      return Object.entries(s.endpoints).map(([port, address]) => ({ service: s.name, label: `${s.host}:${plan?.ports[port]?.lab ?? port}`, address }));
    });
}

function base(scenario: Scenario, step: Step): Omit<StepResult, 'status' | 'durationMs' | 'attempts' | 'summary'> {
  return {
    name: step.name,
    action: step.action,
    file: scenario.file,
    line: step.line,
    points: 0,
    maxPoints: step.points,
    checks: [],
    hint: step.hint,
    saved: {},
    transcript: [],
    visibility: step.visibility,
  };
}

/** The strings a secret variable's value is made of: itself, or the leaves of a list or object. */
function secretStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value)];
  if (value && typeof value === 'object') return Object.values(value).flatMap(secretStrings);
  return [];
}

function skipped(scenario: Scenario, step: Step, why: string): StepResult {
  return { ...base(scenario, step), summary: step.action, status: 'skipped', durationMs: 0, attempts: 0, error: why };
}

/** A step the run was stopped before: an error (it earned nothing), with why. */
function notRun(scenario: Scenario, step: Step, why: string): StepResult {
  return { ...base(scenario, step), summary: step.action, status: 'error', durationMs: 0, attempts: 0, error: why, stopped: 'before' };
}

/** Why the run was stopped: the stop signal's reason, in words. */
function stopReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'the run was stopped';
}

async function runStep(
  scenario: Scenario,
  step: Step,
  vars: Record<string, unknown>,
  backend: Backend,
  session: Session,
  since: Date,
  options: RunOptions,
  onRecord?: (event: WireEvent) => void,
): Promise<StepResult> {
  const stop = options.signal;
  const keylog = options.keylog;
  const executor = executorFor(step.action);
  const result: StepResult = { ...base(scenario, step), summary: step.action, status: 'error', durationMs: 0, attempts: 0 };
  const started = performance.now();
  const finish = async (): Promise<StepResult> => {
    result.durationMs = Math.round(performance.now() - started);
    if (result.status !== 'passed') result.logs = await serviceLogs(result, backend, since);
    return result;
  };
  /** The client's own exchange, and what the lab's services did meanwhile (an SMTP relay's next hop). */
  const transcriptOf = async (wire: Wire): Promise<WireEvent[]> => mergeByTime(wire.events, await serviceWireEvents(backend, since));

  let input: unknown;
  let checks;
  try {
    input = interpolate(step.input, vars);
    checks = step.checks.map((c) => ({ ...c, expected: interpolate(c.expected, vars) }));
  } catch (err) {
    if (!(err instanceof MissingVariableError)) throw err;
    result.error = `${scenario.file}:${step.line}: ${err.message}`;
    return finish();
  }
  const parsed = executor.schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = [step.action, ...(issue.path as (string | number)[])];
    result.error = `${scenario.file}:${step.lineOf(at)}: ${at.join('.')}: ${issue.message} (after filling in variables)`;
    return finish();
  }
  result.input = parsed.data;
  result.summary = executor.describe(parsed.data);

  // Checks read the executor's output, and `transcript` too: "the MX lookup happened"; with --capture, the packets.
  let packetChecks: StepCapture['checks'] | undefined;
  const judge = (output: Record<string, unknown>): void => {
    if (step.needsCapture && !options.capture) {
      result.status = 'error';
      result.error = `${scenario.file}:${step.line}: this check needs --capture (the packets under the step): wirelab run --capture`;
      result.checks = [];
      return;
    }
    result.checks = evaluate(checks, { ...output, transcript: result.transcript, ...packetChecks }).map((c) => ({ ...c, line: step.lineOf(['expect', ...c.source]) }));
    const failed = result.checks.find((c) => !c.passed);
    result.status = failed ? 'failed' : 'passed';
    result.error = failed?.message;
  };
  const attempts = step.retry?.attempts ?? 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    result.attempts = attempt;
    const wire = new Wire(since.getTime(), onRecord); // one clock for the client's events and the services'
    const attemptStarted = nowMs();
    /** The step's packets, once its transcript is known. */
    const capture = async (): Promise<void> => {
      if (!options.capture) return;
      const captured = await options.capture.step(result.transcript, attemptStarted, wire.origin);
      result.packets = captured.packets;
      packetChecks = captured.checks;
    };
    const signal = stop ? AbortSignal.any([AbortSignal.timeout(step.timeoutMs), stop]) : AbortSignal.timeout(step.timeoutMs);
    try {
      const output = await executor.run(parsed.data, { network: backend.network(), backend, wire, signal, session, keylog });
      result.output = output;
      result.transcript = await transcriptOf(wire);
      await capture();
      judge(output);
    } catch (err) {
      result.transcript = await transcriptOf(wire);
      await capture();
      // A failed action is an output too, { error, code }: a step that expects the failure checks it like any result.
      const failure = failureOf(err);
      result.output = failure;
      if (step.expectsFailure) judge(failure);
      else {
        result.status = 'error';
        result.error = failure.error;
        result.checks = [];
      }
    }
    if (stop?.aborted && result.status !== 'passed') {
      // The run was stopped while this step ran: that, not the step's own timeout, is why it did not pass.
      Object.assign(result, { status: 'error', error: `stopped: ${stopReason(stop)}`, checks: [], stopped: 'during' });
      break;
    }
    if (result.status === 'passed') break;
    if (attempt < attempts) await delay(step.retry!.intervalMs, undefined, { signal: stop }).catch(() => undefined);
  }

  if (result.status === 'passed') {
    for (const [name, path] of Object.entries(step.save)) {
      const value = getPath(result.output, path);
      if (value === undefined) {
        result.status = 'failed';
        result.error = `save: ${name} = ${path}: the result has nothing at ${path}`;
        break;
      }
      result.saved[name] = value;
    }
    if (result.status === 'passed') {
      Object.assign(vars, result.saved);
      result.points = step.points;
    }
  }
  return finish();
}

/**
 * The output of an action that failed: a StepError's message and code, and what it had
 * learnt (a refused certificate's `tls`); anything else is a bug, shown by name.
 */
function failureOf(err: unknown): FailureOutput {
  const error = err instanceof StepError ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
  const code = (err as { code?: unknown }).code;
  const learnt = err instanceof StepError && err.output?.tls ? { tls: err.output.tls as FailureOutput['tls'] } : {};
  return { error, ...(typeof code === 'string' ? { code } : {}), ...learnt };
}

/** What every lab service the step's transcript touched logged while the step ran. */
async function serviceLogs(result: StepResult, backend: Backend, since: Date): Promise<Record<string, string[]>> {
  const logs: Record<string, string[]> = {};
  const peers = new Set(result.transcript.flatMap((e) => [e.from, e.to]));
  for (const service of STACK) {
    if ([...peers].some((p) => p === service.host || p.startsWith(`${service.host}:`))) {
      const lines = (await backend.logs(service.name, since)).slice(-10);
      if (lines.length) logs[service.name] = lines;
    }
  }
  return logs;
}
