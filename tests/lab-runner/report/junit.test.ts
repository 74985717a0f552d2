import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { RunResult } from '../../../lab-runner/result';
import { junitReport } from '../../../lab-runner/report/junit';

/** JUnit XML from text XML 1.0 cannot hold as it is: control characters, markup, an empty run. */

function resultWith(error: string, name = 'step'): RunResult {
  return {
    backend: 'embedded',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1234,
    passed: false,
    points: 0,
    maxPoints: 1,
    scenarios: [
      {
        file: 'x.yaml',
        title: 't',
        tags: [],
        status: 'failed',
        points: 0,
        maxPoints: 1,
        durationMs: 1234,
        steps: [{ name, action: 'tcp', summary: 'TCP x:1', file: 'x.yaml', line: 4, status: 'error', points: 0, maxPoints: 1, durationMs: 1234, attempts: 1, checks: [], saved: {}, transcript: [], error }],
      },
    ],
  };
}

test('control characters (AUTH PLAIN NUL, terminal escapes) are written as \\x00 so the XML stays well-formed', () => {
  const xml = junitReport(resultWith('got "\0alice\0x" and \x1b[31mred\x1b[0m'));
  expect(XMLValidator.validate(xml)).toBe(true);
  expect(xml).toContain('\\x00alice\\x00x');
  expect(xml).toContain('\\x1b[31mred');
});

test('markup in names and messages is text; times are in seconds', () => {
  const xml = junitReport(resultWith('</error><script>x</script>', 'a "quoted" <name> & more'));
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: true }).parse(xml);
  const testcase = doc.testsuites.testsuite.testcase;
  expect(testcase).toMatchObject({ name: 'a "quoted" <name> & more', classname: 'x.yaml', time: 1.234, line: 4 });
  expect(testcase.error.message).toBe('error: </error><script>x</script>');
  expect(doc.testsuites).toMatchObject({ tests: 1, failures: 0, errors: 1, skipped: 0, time: 1.234 });
});

test('a run with no scenarios is still a valid report', () => {
  const xml = junitReport({ ...resultWith(''), scenarios: [] });
  expect(XMLValidator.validate(xml)).toBe(true);
  expect(xml).toMatch(/<testsuites name="wirelab" tests="0" failures="0" errors="0" skipped="0"/);
});
