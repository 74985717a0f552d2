import pc from 'picocolors';
import { create } from 'xmlbuilder2';
import type { RunResult, ScenarioResult, StepResult } from '../result';
import { explain, headline, seconds, transcriptSummary, visibilityOf } from './explain';
import { formatTranscript } from './transcript';

/**
 * JUnit XML, the format CI systems (GitLab, Jenkins, GitHub test reporters) read: a
 * <testsuite> per scenario, a <testcase> per step. A failed check is a <failure>, an
 * action that could not run (refused, timed out) an <error>, a step skipped because an
 * earlier one failed a <skipped>. What crossed the wire is in <system-out>.
 * The caller masks secrets first (report/index.ts does).
 */

const plain = pc.createColors(false);

type XMLBuilder = ReturnType<typeof create>;

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

function count(steps: StepResult[]): Counts {
  return {
    tests: steps.length,
    failures: steps.filter((s) => s.status === 'failed').length,
    errors: steps.filter((s) => s.status === 'error').length,
    skipped: steps.filter((s) => s.status === 'skipped').length,
  };
}

/** XML 1.0 cannot hold most control characters (AUTH PLAIN's NUL): they are written as \x00. */
const visibleControl = (char: string): string => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;

export function junitReport(result: RunResult): string {
  const all = result.scenarios.flatMap((s) => s.steps);
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: visibleControl });
  const root = doc.ele('testsuites', {
    name: 'wirelab',
    ...count(all),
    time: seconds(result.durationMs),
    timestamp: result.startedAt,
  });
  result.scenarios.forEach((scenario, i) => addSuite(root, scenario, i, result));
  return doc.end({ prettyPrint: true }) + '\n';
}

function addSuite(root: XMLBuilder, scenario: ScenarioResult, id: number, result: RunResult): void {
  const suite = root.ele('testsuite', {
    name: scenario.title,
    id,
    file: scenario.file,
    ...count(scenario.steps),
    time: seconds(scenario.durationMs),
    timestamp: result.startedAt,
  });
  const props = suite.ele('properties');
  const property = (name: string, value: string): void => void props.ele('property', { name, value });
  property('backend', result.backend);
  for (const t of result.targets ?? []) property('target', `${t.label} (${t.service}) at ${t.address}`);
  if (result.stopped) property('stopped', result.stopped);
  property('points', `${scenario.points}/${scenario.maxPoints}`);
  property('visibility', visibilityOf(scenario));
  if (scenario.tags.length) property('tags', scenario.tags.join(','));
  if (scenario.description) property('description', scenario.description.trim());
  for (const step of scenario.steps) addCase(suite, step);
}

function addCase(suite: XMLBuilder, step: StepResult): void {
  const testcase = suite.ele('testcase', {
    classname: step.file,
    name: step.name,
    time: seconds(step.durationMs),
    file: step.file,
    line: step.line,
  });
  const message = headline(step);
  if (step.status === 'failed') testcase.ele('failure', { message, type: 'expectation' }).txt(explain(step));
  else if (step.status === 'error') testcase.ele('error', { message, type: step.action }).txt(explain(step));
  else if (step.status === 'skipped') testcase.ele('skipped', { message });

  const out: string[] = [`${step.summary}  (${step.points}/${step.maxPoints} points${step.attempts > 1 ? `, ${step.attempts} tries` : ''})`];
  if (step.transcript.length) {
    // A passed step: one line per message. Otherwise the exchange itself, to see what went wrong.
    out.push(step.status === 'passed' ? transcriptSummary(step.transcript) : formatTranscript(step.transcript, plain, { maxLines: 40 }));
  }
  for (const [service, lines] of Object.entries(step.logs ?? {})) out.push(`${service} log:`, ...lines.map((l) => `  ${l}`));
  testcase.ele('system-out').txt(out.join('\n'));
}
