import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { RunResult } from '../../lab-runner/result';
import { maskSecrets, renderReport } from '../../lab-runner/report';
import { gradescopeSpec, type GradescopeResultsFile } from '../helpers/gradescope';
import { forbiddenForms, PASSWORD, reportFixture, tokenOf } from './report-fixture';

/**
 * Each written report, from a real run on the embedded lab, checked against its
 * format: the JUnit XML parsed back, results.json against Gradescope's specification,
 * and no secret in any of them.
 */

let result: RunResult;
beforeAll(async () => {
  result = await reportFixture();
}, 60000);

/** Every string a report holds, and the decoded bytes of every transcript event. */
function everyText(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.data === 'string' && typeof o.kind === 'string') out.push(Buffer.from(o.data, 'base64').toString('latin1'));
      Object.entries(o).forEach(([k, x]) => (out.push(k), walk(x)));
    }
  };
  walk(value);
  return out.join('\n');
}

function expectNoSecret(text: string): void {
  for (const form of forbiddenForms(result)) expect([form, text.includes(form)]).toEqual([form, false]);
}

test('the run has what the reports must show, and the secrets really crossed the wire', () => {
  const statuses = result.scenarios.map((s) => s.steps.map((st) => st.status));
  expect(statuses).toEqual([
    ['passed', 'failed', 'failed', 'skipped', 'error', 'passed'],
    ['failed', 'failed', 'failed', 'passed', 'passed'],
    ['passed'],
  ]);
  const raw = everyText(result);
  expect(raw).toContain(`PASS ${PASSWORD}`);
  expect(raw).toContain(`AUTH PLAIN ${Buffer.from(`\0alice\0${PASSWORD}`).toString('base64')}`);
  expect(raw).toContain(tokenOf(result));
  // The engine keeps the secret values beside the result, never in it.
  expect(result.scenarios[1]!.secrets).toEqual(expect.arrayContaining([PASSWORD, tokenOf(result), 'literal-S3cret-42']));
  expect(JSON.stringify(result)).not.toContain('"secrets"');
});

describe('json', () => {
  test('the whole result, masked: **** where each secret was, in text and in the raw bytes', () => {
    const json = renderReport('json', result);
    const parsed = JSON.parse(json) as RunResult;
    expect(parsed).toEqual(JSON.parse(JSON.stringify(maskSecrets(result))));
    expectNoSecret(everyText(parsed));
    const secret = parsed.scenarios[1]!;
    const pop3 = secret.steps[2]!.transcript.find((e) => e.summary.startsWith('PASS'))!;
    expect(pop3.summary).toBe('PASS ****');
    expect(Buffer.from(pop3.data!, 'base64').toString()).toBe('PASS ****\r\n');
    expect(secret.steps[0]!.transcript.some((e) => e.summary === 'AUTH PLAIN ****')).toBe(true);
    expect(secret.steps[4]!.transcript.some((e) => e.text?.includes('Authorization: Bearer ****\r\nX-Api-Key: ****\r\n'))).toBe(true);
    // Visibility is in the result for every scenario and step.
    expect(parsed.scenarios.map((s) => s.visibility)).toEqual(['visible', 'after_due_date', 'visible']);
    expect(secret.steps.map((s) => s.visibility)).toEqual(['after_due_date', 'visible', 'after_due_date', 'after_due_date', 'after_due_date']);
  });
});

describe('junit', () => {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: true,
    textNodeName: '#text',
    isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
  });
  type Case = { name: string; classname: string; time: number; file: string; line: number; failure?: { message: string; type: string; '#text': string }; error?: { message: string; '#text': string }; skipped?: { message: string } | ''; 'system-out'?: string };
  type Suite = { name: string; file: string; tests: number; failures: number; errors: number; skipped: number; time: number; properties: { property: { name: string; value: string | number }[] }; testcase: Case[] };
  let xml: string;
  let doc: { testsuites: { tests: number; failures: number; errors: number; skipped: number; time: number; testsuite: Suite[] } };
  beforeAll(() => {
    xml = renderReport('junit', result);
    doc = parser.parse(xml);
  });

  test('well-formed XML: <testsuites> with the counts, a <testsuite> per scenario, a <testcase> per step', () => {
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(doc.testsuites).toMatchObject({ tests: 12, failures: 5, errors: 1, skipped: 1 });
    expect(typeof doc.testsuites.time).toBe('number');
    const suites = doc.testsuites.testsuite;
    expect(suites.map((s) => [s.name, s.file, s.tests, s.failures, s.errors, s.skipped])).toEqual([
      ['Every kind of step <b>&</b> more', 'scenarios/mixed.yaml', 6, 2, 1, 1],
      ['Passwords never reach a report', 'scenarios/secret.yaml', 5, 3, 0, 0],
      ['A scenario that passes', 'scenarios/passing.yaml', 1, 0, 0, 0],
    ]);
    expect(suites[0]!.testcase.map((c) => [c.classname, c.name])).toEqual(result.scenarios[0]!.steps.map((s) => ['scenarios/mixed.yaml', s.name]));
    for (const c of suites.flatMap((s) => s.testcase)) expect(c.time).toBeGreaterThanOrEqual(0);
    expect(suites[1]!.properties.property).toEqual(expect.arrayContaining([{ name: 'visibility', value: 'after_due_date' }, { name: 'points', value: '2/7' }]));
  });

  test('a failure says what was expected and what came, where, and the hint', () => {
    const [, notThere, lookup, skipped, errored, hidden] = doc.testsuites.testsuite[0]!.testcase;
    expect(notThere!.failure).toMatchObject({ message: 'status: expected 200, got 404', type: 'expectation' });
    expect(notThere!.failure!['#text']).toBe('status: expected 200, got 404  (scenarios/mixed.yaml:13)\nhint: Check the file name in lab/www.');
    expect(lookup!.failure!.message).toBe('rcode: expected "NOERROR", got "NXDOMAIN"');
    expect(skipped!.skipped).toEqual({ message: 'skipped: needs ${lost}, which "A lookup that fails" did not save' });
    expect(errored!.error!.message).toMatch(/^error: cannot reach .*www\.lab\.test.*port 81/);
    expect(errored!.error!['#text']).toContain('hint: Is a server listening there?');
    expect(hidden!.failure).toBeUndefined();
    expect(hidden!.error).toBeUndefined();
  });

  test('<system-out> has the transcript: one line per message, the whole exchange for a failure', () => {
    const [passed, notThere] = doc.testsuites.testsuite[0]!.testcase;
    expect(passed!['system-out']).toMatch(/client → ns\.lab\.test:53 {2}dns\/udp {2}\d+ B {2}A\? www\.lab\.test/);
    expect(notThere!['system-out']).toContain('GET /no-such-page.html HTTP/1.1');
    expect(notThere!['system-out']).toContain('http log:');
    expect(doc.testsuites.testsuite[0]!.testcase[5]!['system-out']).toContain('GET /inspect HTTP/1.1');
  });

  test('no secret in the XML', () => {
    expectNoSecret(xml);
    expect(xml).toContain('AUTH PLAIN ****');
    expect(xml).toContain('auth.sent[2]: expected &quot;****&quot;, got &quot;****&quot;');
  });
});

describe('gradescope', () => {
  let text: string;
  let results: GradescopeResultsFile;
  beforeAll(() => {
    text = renderReport('gradescope', result);
    results = gradescopeSpec.parse(JSON.parse(text));
  });

  test('results.json follows the specification: the score, a test per step, the points add up', () => {
    expect(results).toMatchObject({ score: result.points, visibility: 'visible', stdout_visibility: 'hidden' });
    // What a server sent is shown as it came, never rendered.
    expect(results).toMatchObject({ output_format: 'text', test_output_format: 'text', test_name_format: 'text' });
    const tests = results.tests!;
    expect(tests).toHaveLength(12);
    expect(tests.reduce((s, t) => s + t.score!, 0)).toBe(results.score);
    expect(tests.reduce((s, t) => s + t.max_score!, 0)).toBe(result.maxPoints);
    expect(tests.map((t) => t.number)).toEqual(['1.1', '1.2', '1.3', '1.4', '1.5', '1.6', '2.1', '2.2', '2.3', '2.4', '2.5', '3.1']);
    expect(tests[0]).toMatchObject({ name: 'Every kind of step <b>&</b> more › Look up www', score: 2, max_score: 2, status: 'passed', visibility: 'visible', tags: ['report', 'http', 'dns'] });
    // Gradescope knows passed and failed: an error or a skip earned nothing, so it failed.
    expect(tests.slice(0, 6).map((t) => t.status)).toEqual(['passed', 'failed', 'failed', 'failed', 'failed', 'passed']);
  });

  test('a failed test says what was expected and what came, where, and the hint', () => {
    const notThere = results.tests![1]!;
    expect(notThere.output).toBe('GET http://www.lab.test/no-such-page.html\nstatus: expected 200, got 404  (scenarios/mixed.yaml:13)\nhint: Check the file name in lab/www.');
    expect(results.tests![3]!.output).toContain('skipped: needs ${lost}, which "A lookup that fails" did not save');
  });

  test('visibility is passed on: hidden steps stay hidden, a step inherits its scenario, and the overview shows only what students may see', () => {
    expect(results.tests!.map((t) => t.visibility)).toEqual([
      ...['visible', 'visible', 'visible', 'visible', 'visible', 'hidden'],
      ...['after_due_date', 'visible', 'after_due_date', 'after_due_date', 'after_due_date'],
      'visible',
    ]);
    expect(results.output).toBe(
      ['✗ Every kind of step <b>&</b> more: 2/9', '✗ Passwords never reach a report: 0/2', '✓ A scenario that passes: 2/2', '5 more tests, shown later or to instructors only'].join('\n'),
    );
  });

  test('no secret in results.json', () => {
    expectNoSecret(text);
    expect(results.tests![7]!.output).toContain('auth.sent[2]: expected "****", got "****"');
  });
});
