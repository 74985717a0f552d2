import type { RunResult, StepResult, Visibility } from '../result';
import type { WireEvent } from '../wire';

/**
 * What a step's result means, in words every report uses the same way: what failed
 * (expected vs got, from the check's own message), where it is written, and the hint.
 */

export interface Problem {
  /** `status: expected 200, got 404`, `error: connection refused`, `skipped: needs ${ip}, ...`. */
  message: string;
  /** `scenarios/x.yaml:12`: the line of the failed check, or of the step. */
  where: string;
}

/** Why a step did not pass: each failed check, or the error, or why it was skipped. Empty when it passed. */
export function problemsOf(step: StepResult): Problem[] {
  if (step.status === 'passed') return [];
  const failed = step.checks.filter((c) => !c.passed);
  if (failed.length) return failed.map((c) => ({ message: c.message, where: `${step.file}:${c.line}` }));
  const label = step.status === 'skipped' ? 'skipped' : step.status === 'error' ? 'error' : 'failed';
  return [{ message: `${label}: ${step.error ?? 'no reason given'}`, where: `${step.file}:${step.line}` }];
}

/** The first problem in one line: a failure's `message` attribute, a test's headline. */
export function headline(step: StepResult): string {
  const [first] = problemsOf(step);
  return first ? first.message : 'passed';
}

/** Every problem with its place, then the hint (not for a skipped step: its cause is elsewhere). */
export function explain(step: StepResult): string {
  const lines = problemsOf(step).map((p) => `${p.message}  (${p.where})`);
  if (step.hint && (step.status === 'failed' || step.status === 'error')) lines.push(`hint: ${step.hint}`);
  return lines.join('\n');
}

export const visibilityOf = (v: { visibility?: Visibility }): Visibility => v.visibility ?? 'visible';

/** Seconds with millisecond precision, as JUnit and Gradescope write time. */
export const seconds = (ms: number): number => Math.round(ms) / 1000;

/** One line per event: `   0.6 ms  client → ns.lab.test:53  dns/udp  31 B  A? www.lab.test`. */
export function transcriptSummary(events: WireEvent[]): string {
  return events
    .map((e) => {
      const arrow = e.kind === 'send' || e.kind === 'recv' ? '→' : '·';
      const meta = `${e.protocol}${e.transport ? '/' + e.transport : ''}${e.size !== undefined ? `  ${e.size} B` : ''}`;
      return `${e.at.toFixed(1).padStart(7)} ms  ${e.from} ${arrow} ${e.to}  ${meta}  ${e.kind === 'send' || e.kind === 'recv' ? '' : `${e.kind}: `}${e.summary}`;
    })
    .join('\n');
}

/**
 * What a reader must know about the run as a whole, a line each: each replaced service
 * (`target: www.lab.test:80 (http) was the server at 127.0.0.1:9000`), and why the run
 * stopped before its end (`stopped: time limit 15 s reached during "..."`).
 */
export function runNotes(result: Pick<RunResult, 'targets' | 'stopped'>): string[] {
  const lines = (result.targets ?? []).map((t) => `target: ${t.label} (${t.service}) was the server at ${t.address}`);
  if (result.stopped) lines.push(`stopped: ${result.stopped}`);
  return lines;
}
