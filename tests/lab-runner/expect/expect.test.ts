import { evaluate, flatten, ExpectError } from '../../../lab-runner/expect/evaluate';
import { looselyEqual } from '../../../lab-runner/expect/operators';

const result = {
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': '42' },
  body: '<h1>Hello</h1>',
  answers: [
    { type: 'MX', data: { preference: 10, exchange: 'mail.lab.test' } },
    { type: 'A', data: '172.28.0.25' },
  ],
  flags: { aa: true, tc: false },
};

const run = (tree: Record<string, unknown>) => evaluate(flatten(tree), result);

describe('expectation operators', () => {
  test('a plain value means equals, and a number equals its text', () => {
    expect(run({ status: 200 })[0]!.passed).toBe(true);
    expect(run({ 'headers.content-length': 42 })[0]!.passed).toBe(true);
    expect(run({ status: '200' })[0]!.passed).toBe(true);
    const [failed] = run({ status: 404 });
    expect(failed).toMatchObject({ passed: false, message: 'status: expected 404, got 200' });
  });

  test('nested keys are paths', () => {
    const checks = flatten({ headers: { 'content-type': { contains: 'text/html' } }, flags: { aa: true } });
    expect(checks.map((c) => [c.path, c.operator])).toEqual([
      ['headers.content-type', 'contains'],
      ['flags.aa', 'equals'],
    ]);
    expect(evaluate(checks, result).every((c) => c.passed)).toBe(true);
  });

  test('contains on text and on lists (partial objects)', () => {
    expect(run({ body: { contains: '<h1>' } })[0]!.passed).toBe(true);
    expect(run({ answers: { contains: { data: { exchange: 'mail.lab.test' } } } })[0]!.passed).toBe(true);
    const [failed] = run({ answers: { contains: { type: 'AAAA' } } });
    expect(failed!.passed).toBe(false);
    expect(failed!.message).toMatch(/^answers: expected to contain \{"type":"AAAA"\}, got \[/);
  });

  test('contains with operators inside the partial object', () => {
    expect(run({ answers: { contains: { type: { regex: '^M' }, data: { exchange: { contains: 'mail' } } } } })[0]!.passed).toBe(true);
    expect(run({ answers: { contains: { type: { not: 'A' }, data: { preference: { gt: 20 } } } } })[0]!.passed).toBe(false);
    expect(run({ answers: { not: { contains: { type: { oneOf: ['AAAA', 'TXT'] } } } } })[0]!.passed).toBe(true);
  });

  test('regex, with or without slashes and flags', () => {
    expect(run({ body: { regex: '^<h1>' } })[0]!.passed).toBe(true);
    expect(run({ body: { regex: '/HELLO/i' } })[0]!.passed).toBe(true);
    expect(run({ body: { regex: '^Hello' } })[0]).toMatchObject({ passed: false, message: 'body: expected to match /^Hello/, got "<h1>Hello</h1>"' });
  });

  test('numeric comparisons', () => {
    expect(run({ status: { gte: 200, lt: 300 } }).every((c) => c.passed)).toBe(true);
    expect(run({ status: { gt: 200 } })[0]).toMatchObject({ passed: false, message: 'status: expected > 200, got 200' });
    expect(run({ body: { lt: 3 } })[0]!.passed).toBe(false);
  });

  test('length of lists and text, with a nested matcher', () => {
    expect(run({ answers: { length: 2 } })[0]!.passed).toBe(true);
    expect(run({ answers: { length: { gte: 1 } } })[0]!.passed).toBe(true);
    expect(run({ answers: { length: 1 } })[0]).toMatchObject({ passed: false, message: 'answers.length: expected 1, got 2' });
    expect(run({ body: { length: 14 } })[0]!.passed).toBe(true);
  });

  test('exists and not', () => {
    expect(run({ 'headers.content-type': { exists: true } })[0]!.passed).toBe(true);
    expect(run({ 'headers.etag': { exists: false } })[0]!.passed).toBe(true);
    expect(run({ 'headers.etag': { exists: true } })[0]).toMatchObject({ passed: false, message: 'headers.etag: expected to exist, got nothing' });
    expect(run({ status: { not: 404 } })[0]!.passed).toBe(true);
    expect(run({ status: { not: 200 } })[0]).toMatchObject({ passed: false, message: 'status: expected not 200, got 200' });
    expect(run({ body: { not: { contains: 'Hello' } } })[0]!.passed).toBe(false);
  });

  test('oneOf', () => {
    expect(run({ status: { oneOf: [200, 204] } })[0]!.passed).toBe(true);
    expect(run({ status: { oneOf: [301, 302] } })[0]!.passed).toBe(false);
  });

  test('header names match without regard to case', () => {
    expect(run({ 'headers.Content-Type': { contains: 'html' } })[0]!.passed).toBe(true);
  });

  test('bad expectations are refused when the scenario loads', () => {
    expect(() => flatten({ status: { gt: 'many' } })).toThrow(ExpectError);
    expect(() => flatten({ body: { regex: '(' } })).toThrow(/not a regular expression/);
    expect(() => flatten({ headers: { contains: 'x', etag: 'y' } })).toThrow(/mixes operators/);
    expect(() => flatten({ status: { oneOf: 200 } })).toThrow(/oneOf needs a list/);
    expect(() => flatten({ 'a..b': 1 })).toThrow(/bad path/);
  });

  test('looselyEqual compares objects and lists deeply', () => {
    expect(looselyEqual({ a: [1, '2'] }, { a: [1, 2] })).toBe(true);
    expect(looselyEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(looselyEqual(null, undefined)).toBe(false);
    expect(looselyEqual('abc', 0)).toBe(false);
  });
});
