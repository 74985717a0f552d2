/**
 * The assertion operators a scenario's `expect:` can use, in one table. Each checks
 * an actual value against what the scenario expected and says, in words, what it
 * wanted; evaluate.ts turns a failure into "status: expected 200, got 404".
 */

export interface Operator {
  /** What it checks, in a few words, for editors (scenario.schema.json). */
  help: string;
  /** Does `actual` satisfy `expected`? */
  test(actual: unknown, expected: unknown): boolean;
  /** What was expected, for a failure message: `to contain "<h1>"`. */
  describe(expected: unknown): string;
  /** Check the expected value when the scenario loads; return a problem or undefined. */
  check?(expected: unknown): string | undefined;
}

const number = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
};

/**
 * Equality as a scenario author means it: deep for objects and lists, and a number
 * equals its text (a header `content-length: "42"` equals 42).
 */
export function looselyEqual(actual: unknown, expected: unknown): boolean {
  if (actual === expected) return true;
  if (typeof actual === 'number' || typeof expected === 'number') {
    const [a, e] = [number(actual), number(expected)];
    return a !== undefined && a === e;
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => looselyEqual(actual[i], e));
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object') return false;
    const a = actual as Record<string, unknown>;
    const keys = Object.keys(expected);
    return keys.length === Object.keys(a).length && keys.every((k) => looselyEqual(a[k], (expected as Record<string, unknown>)[k]));
  }
  return false;
}

/**
 * A list element "contains" a partial object: every field given matches, and a field
 * may itself be operators: `contains: { kind: recv, summary: { regex: "^227 " } }`.
 */
function partialMatch(actual: unknown, expected: unknown): boolean {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    const entries = Object.entries(expected);
    if (entries.length && entries.every(([k]) => k in OPERATORS || k === 'not' || k === 'length')) {
      return entries.every(([op, value]) =>
        op === 'not' ? !partialMatch(actual, value) : op === 'length' ? partialMatch(lengthOf(actual), value) : OPERATORS[op]!.test(actual, value),
      );
    }
    if (!actual || typeof actual !== 'object') return false;
    return entries.every(([k, v]) => partialMatch((actual as Record<string, unknown>)[k], v));
  }
  return looselyEqual(actual, expected);
}

export function toRegExp(pattern: unknown): RegExp {
  const text = String(pattern);
  const literal = /^\/(.*)\/([dgimsuy]*)$/s.exec(text);
  return literal ? new RegExp(literal[1]!, literal[2]) : new RegExp(text);
}

export const show = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
};

const compare = (symbol: string, help: string, fn: (a: number, e: number) => boolean): Operator => ({
  help,
  test: (actual, expected) => {
    const [a, e] = [number(actual), number(expected)];
    return a !== undefined && e !== undefined && fn(a, e);
  },
  describe: (expected) => `${symbol} ${show(expected)}`,
  check: (expected) => (number(expected) === undefined ? `${symbol} needs a number, got ${show(expected)}` : undefined),
});

export const OPERATORS: Record<string, Operator> = {
  equals: { help: 'Equal to this value (a number equals its text; lists and objects compare deeply).', test: looselyEqual, describe: show },
  oneOf: {
    help: 'Equal to one of the values in this list.',
    test: (actual, expected) => Array.isArray(expected) && expected.some((e) => looselyEqual(actual, e)),
    describe: (expected) => `one of ${show(expected)}`,
    check: (expected) => (Array.isArray(expected) ? undefined : 'oneOf needs a list'),
  },
  contains: {
    help: 'Text: contains this text. A list: has an element that matches this value, or the fields of this object.',
    test: (actual, expected) => {
      if (typeof actual === 'string') return actual.includes(String(expected));
      if (Array.isArray(actual)) return actual.some((element) => partialMatch(element, expected));
      return false;
    },
    describe: (expected) => `to contain ${show(expected)}`,
  },
  regex: {
    help: 'Text that matches this regular expression (/.../flags or a bare pattern).',
    test: (actual, expected) => typeof actual === 'string' && toRegExp(expected).test(actual),
    describe: (expected) => `to match ${String(expected).startsWith('/') ? String(expected) : `/${String(expected)}/`}`,
    check: (expected) => {
      try {
        toRegExp(expected);
        return undefined;
      } catch (err) {
        return `not a regular expression: ${(err as Error).message}`;
      }
    },
  },
  lt: compare('<', 'A number less than this.', (a, e) => a < e),
  lte: compare('<=', 'A number at most this.', (a, e) => a <= e),
  gt: compare('>', 'A number greater than this.', (a, e) => a > e),
  gte: compare('>=', 'A number at least this.', (a, e) => a >= e),
  exists: {
    help: 'true: the field is there; false: it is absent.',
    test: (actual, expected) => (actual !== undefined && actual !== null) === Boolean(expected),
    describe: (expected) => (expected ? 'to exist' : 'to be absent'),
    check: (expected) => (typeof expected === 'boolean' ? undefined : 'exists takes true or false'),
  },
};

/** Operators whose value is itself a matcher, applied to something derived from the actual value. */
export const NESTING_OPERATORS = ['length', 'not'] as const;

export const NESTING_HELP: Record<(typeof NESTING_OPERATORS)[number], string> = {
  length: 'The length of a text or list (or the number of fields): a number, or operators such as { gte: 1 }.',
  not: 'The opposite: a value it must not equal, or operators that must not hold.',
};

export const OPERATOR_NAMES = [...Object.keys(OPERATORS), ...NESTING_OPERATORS];

export function lengthOf(value: unknown): number | undefined {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (value && typeof value === 'object') return Object.keys(value).length;
  return undefined;
}
