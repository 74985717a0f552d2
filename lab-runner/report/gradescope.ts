import type { RunResult, ScenarioResult, StepResult, Visibility } from '../result';
import { explain, seconds, runNotes, visibilityOf } from './explain';

/**
 * results.json as the Gradescope autograder specification defines it
 * (gradescope-autograders.readthedocs.io, "Autograder Specifications", "Output
 * format"), with only the fields it lists: a test per step, named "Scenario title ›
 * step name", with its points and, when it did not pass, what was expected and what
 * came, where, and the hint. A step's `visibility` (its own, else its scenario's) is
 * passed on, so hidden steps stay hidden from students. Every text is marked `text`:
 * names and outputs carry what a student's server sent, which Gradescope must show as
 * it is, never render as HTML or Markdown. The caller masks secrets first
 * (report/index.ts does). examples/gradescope/ runs it on Gradescope.
 */

export type GradescopeStatus = 'passed' | 'failed';
/** The spec's "Output String Formatting". */
export type GradescopeFormat = 'text' | 'html' | 'simple_format' | 'md' | 'ansi';

export interface GradescopeTest {
  name: string;
  /** `2.3`: scenario 2, step 3; Gradescope sorts and shows tests by it. */
  number: string;
  score: number;
  max_score: number;
  status: GradescopeStatus;
  output: string;
  visibility: Visibility;
  tags?: string[];
}

export interface GradescopeResults {
  /** The submission's points; the assignment's maximum is set on Gradescope (the spec has no top-level max_score). */
  score: number;
  /** Whole seconds. */
  execution_time: number;
  /** Text for the whole submission, shown above the tests: visible scenarios only. */
  output: string;
  output_format: GradescopeFormat;
  test_output_format: GradescopeFormat;
  test_name_format: GradescopeFormat;
  visibility: Visibility;
  /** The autograder's standard output (the terminal report) names every step: hidden when a step is hidden. */
  stdout_visibility: Visibility;
  tests: GradescopeTest[];
}

/** Every name and output shown as plain text. */
const TEXT = { output_format: 'text', test_output_format: 'text', test_name_format: 'text' } as const;

export function gradescopeResults(result: RunResult): GradescopeResults {
  const tests = result.scenarios.flatMap((scenario, i) => scenario.steps.map((step, j) => testOf(scenario, step, `${i + 1}.${j + 1}`)));
  const anyNotVisible = tests.some((t) => t.visibility !== 'visible');
  return {
    score: round(result.points),
    execution_time: Math.round(seconds(result.durationMs)),
    output: overview(result),
    ...TEXT,
    visibility: 'visible',
    stdout_visibility: anyNotVisible ? 'hidden' : 'visible',
    tests,
  };
}

export function gradescopeReport(result: RunResult): string {
  return JSON.stringify(gradescopeResults(result), null, 2) + '\n';
}

/**
 * results.json for a submission that could not be graded (its server did not start,
 * its files were wrong): no points, and the reason, which the student sees.
 */
export function gradescopeNotGraded(reason: string, durationMs = 0): GradescopeResults {
  return {
    score: 0,
    execution_time: Math.round(seconds(durationMs)),
    output: `Not graded: ${reason}`,
    ...TEXT,
    visibility: 'visible',
    stdout_visibility: 'hidden',
    tests: [],
  };
}

function testOf(scenario: ScenarioResult, step: StepResult, number: string): GradescopeTest {
  const visibility = step.visibility ?? visibilityOf(scenario);
  const tags = [...new Set([...scenario.tags, step.action])];
  return {
    name: `${scenario.title} › ${step.name}`,
    number,
    score: round(step.points),
    max_score: round(step.maxPoints),
    // Gradescope knows two states: a step that errored or was skipped earned nothing, so it failed.
    status: step.status === 'passed' ? 'passed' : 'failed',
    output: outputOf(step),
    visibility,
    ...(tags.length ? { tags } : {}),
  };
}

function outputOf(step: StepResult): string {
  const lines = [`${step.summary}`];
  if (step.status === 'passed') lines.push('passed');
  else lines.push(explain(step));
  return lines.join('\n');
}

/** The points of each step a student may see now, by scenario; the others are only counted. */
function overview(result: RunResult): string {
  const lines: string[] = runNotes(result);
  let others = 0;
  for (const scenario of result.scenarios) {
    const shown = scenario.steps.filter((step) => (step.visibility ?? visibilityOf(scenario)) === 'visible');
    others += scenario.steps.length - shown.length;
    if (!shown.length) continue;
    const points = shown.reduce((sum, s) => sum + s.points, 0);
    const max = shown.reduce((sum, s) => sum + s.maxPoints, 0);
    lines.push(`${shown.every((s) => s.status === 'passed') ? '✓' : '✗'} ${scenario.title}: ${round(points)}/${round(max)}`);
  }
  if (others) lines.push(`${others} more test${others > 1 ? 's' : ''}, shown later or to instructors only`);
  return lines.join('\n');
}

/** Points may be fractional (partial credit): no 0.30000000000000004 in a grade book. */
const round = (n: number): number => Math.round(n * 1000) / 1000;
