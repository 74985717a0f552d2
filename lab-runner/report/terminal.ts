import type { RunListener } from '../run';
import type { RunResult, StepResult } from '../result';
import type { Scenario } from '../scenario/load';
import type { Colors } from './colors';
import { runNotes } from './explain';
import { formatTranscript } from './transcript';

/**
 * The terminal report: a line per step as it finishes (with the failure, where it is
 * written, and the hint), then a table of points per scenario.
 */

export interface TerminalOptions {
  colors: Colors;
  write: (text: string) => void;
  /** Print every step's exchange. */
  trace?: boolean;
  /** Print every step's exchange with its TCP layer: the packets `--capture` recorded under each message. */
  packets?: boolean;
}

/** What `--packets` prints for a step that has none. */
export const NO_PACKETS = 'no packets: run with --capture';

const ICON = { passed: '✓', failed: '✗', error: '✗', skipped: '-' } as const;

export function terminalListener(options: TerminalOptions): RunListener {
  const { colors: c, write } = options;
  let width = 0;
  return {
    scenarioStart(scenario: Scenario) {
      width = Math.min(64, Math.max(...scenario.steps.map((s) => s.name.length)));
      write(`\n${c.bold(scenario.title)}  ${c.dim(scenario.file)}\n`);
    },
    stepEnd(_scenario, step) {
      write(stepLine(step, c, width) + '\n');
      if (step.status !== 'passed') write(stepDetails(step, c) + '\n');
      if (options.packets) {
        if (step.transcript.length || step.packets?.rows.length) write(formatTranscript(step.transcript, c, { indent: '      ', maxLines: 30, packets: step.packets }) + '\n');
        if (!step.packets && step.status !== 'skipped') write(`      ${c.yellow(NO_PACKETS)}\n`);
      } else if (options.trace && step.transcript.length) write(formatTranscript(step.transcript, c, { indent: '      ', maxLines: 30 }) + '\n');
    },
  };
}

function stepLine(step: StepResult, c: Colors, width: number): string {
  const color = step.status === 'passed' ? c.green : step.status === 'skipped' ? c.yellow : c.red;
  const points = `${step.points}/${step.maxPoints}`.padStart(5);
  const time = `${step.durationMs} ms`.padStart(7);
  const tries = step.attempts > 1 ? ` (${step.attempts} tries)` : '';
  return `  ${color(ICON[step.status])} ${step.name.padEnd(width)}  ${color(points)} ${c.dim(time)}  ${c.dim(step.summary + tries)}`;
}

function stepDetails(step: StepResult, c: Colors): string {
  const lines: string[] = [];
  const failed = step.checks.filter((ch) => !ch.passed);
  if (failed.length) for (const ch of failed) lines.push(`${c.red(ch.message)}  ${c.dim(`${step.file}:${ch.line}`)}`);
  else if (step.error) lines.push(`${step.status === 'skipped' ? c.yellow('skipped: ') : c.red('error: ')}${step.error}  ${c.dim(`${step.file}:${step.line}`)}`);
  if (step.hint && step.status !== 'skipped') lines.push(`${c.cyan('hint:')} ${step.hint}`);
  for (const [service, log] of Object.entries(step.logs ?? {})) {
    lines.push(c.dim(`${service} log:`));
    for (const line of log.slice(-5)) lines.push(c.dim(`  ${line}`));
  }
  return lines.map((l) => `      ${l}`).join('\n');
}

export function summaryTable(result: RunResult, c: Colors): string {
  const rows = result.scenarios.map((s) => [s.title, `${s.points}/${s.maxPoints}`, s.status]);
  const width = Math.max(8, ...rows.map((r) => r[0]!.length));
  const lines = [``, c.bold(`${'scenario'.padEnd(width)}  ${'points'.padStart(7)}  result`)];
  for (const [title, points, status] of rows) {
    const color = status === 'passed' ? c.green : c.red;
    lines.push(`${title!.padEnd(width)}  ${points!.padStart(7)}  ${color(status!)}`);
  }
  const failed = result.scenarios.filter((s) => s.status !== 'passed').length;
  const verdict = failed ? c.red(`${failed} of ${result.scenarios.length} failed`) : c.green(`all ${result.scenarios.length} passed`);
  lines.push(c.bold(`${'total'.padEnd(width)}  ${`${result.points}/${result.maxPoints}`.padStart(7)}  `) + verdict + c.dim(`  (${(result.durationMs / 1000).toFixed(1)} s)`));
  for (const line of runNotes(result)) lines.push(c.yellow(line));
  return lines.join('\n') + '\n';
}
