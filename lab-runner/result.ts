import type { CheckResult } from './expect/evaluate';
import type { WireEvent } from './executors/wire';

/**
 * The result model every reporter reads: terminal and JSON now; JUnit, Gradescope
 * and HTML are written from the same objects.
 */

export type StepStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface StepResult {
  name: string;
  action: string;
  /** `A? www.lab.test`, `GET http://www.lab.test/`: the action in a few words. */
  summary: string;
  /** Where the step is written. */
  file: string;
  line: number;
  /** passed: every check held. failed: a check did not. error: the action itself failed (refused, timed out, bad input). skipped: it needed a value a failed step should have saved. */
  status: StepStatus;
  points: number;
  maxPoints: number;
  durationMs: number;
  attempts: number;
  /** The action's input after `${...}` was filled in. */
  input?: unknown;
  /** What the executor returned: the fields expectations read. */
  output?: Record<string, unknown>;
  checks: (CheckResult & { line: number })[];
  /** Why the step errored or was skipped; for a failure, the first failed check. */
  error?: string;
  hint?: string;
  /** Values saved for later steps. */
  saved: Record<string, unknown>;
  transcript: WireEvent[];
  /** Recent log lines of the lab services the step talked to, when it did not pass. */
  logs?: Record<string, string[]>;
}

export interface ScenarioResult {
  file: string;
  title: string;
  description?: string;
  tags: string[];
  status: 'passed' | 'failed';
  points: number;
  maxPoints: number;
  durationMs: number;
  steps: StepResult[];
}

export interface RunResult {
  backend: string;
  startedAt: string;
  durationMs: number;
  passed: boolean;
  points: number;
  maxPoints: number;
  scenarios: ScenarioResult[];
}
