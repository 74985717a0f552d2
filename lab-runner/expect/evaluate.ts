import { getPath, parsePath, type PathToken } from '../scenario/path';
import { suggest, type Shape } from './fields';
import { OPERATORS, OPERATOR_NAMES, lengthOf, show } from './operators';

/**
 * An `expect:` block is a tree: keys are paths into the step's result, and a leaf is
 * either a plain value (equals) or an object of operators:
 *
 *   expect:
 *     status: 200
 *     headers: { content-type: { contains: text/html } }
 *     answers: { length: { gte: 1 } }
 *
 * flatten() turns the tree into a list of checks, each with the path of the key in
 * the file (for its line number); evaluate() runs them against a result. Given what
 * the result can hold (fields.ts), flatten() also rejects paths it cannot have and
 * words under a plain value that are not operators.
 */

export interface Check {
  /** The path into the result: `headers.content-type`. */
  path: string;
  /** `equals`, `contains`, `length.gte`, `not.equals`, ... */
  operator: string;
  expected: unknown;
  /** Where the check is written, as keys from `expect:` (for the line number). */
  source: string[];
}

export interface CheckResult extends Check {
  passed: boolean;
  actual: unknown;
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isMatcher = (v: unknown): v is Record<string, unknown> =>
  isPlainObject(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => OPERATOR_NAMES.includes(k));

export class ExpectError extends Error {
  constructor(message: string, readonly source: string[]) {
    super(message);
  }
}

/** What a path into the result reaches; throws a PathError for a path the result cannot have. */
export type ShapeOf = (path: PathToken[]) => Shape;

export function flatten(tree: Record<string, unknown>, shapeOf?: ShapeOf, prefix = '', source: string[] = []): Check[] {
  const checks: Check[] = [];
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const here = [...source, key];
    let shape: Shape | undefined;
    try {
      const tokens = parsePath(path);
      shape = shapeOf?.(tokens);
    } catch (err) {
      throw new ExpectError((err as Error).message, here);
    }
    if (isMatcher(value)) checks.push(...matcherChecks(path, value, here, '', shape));
    else if (isPlainObject(value)) {
      if (shape?.kind === 'value') notOperators(path, shape.type, value, here);
      const ops = Object.keys(value).filter((k) => OPERATOR_NAMES.includes(k));
      if (ops.length) {
        const fields = Object.keys(value).filter((k) => !OPERATOR_NAMES.includes(k));
        throw new ExpectError(`mixes operators (${ops.join(', ')}) with fields (${fields.join(', ')}); put the fields under their own keys`, here);
      }
      if (Object.keys(value).length === 0) throw new ExpectError('an empty expectation checks nothing', here);
      checks.push(...flatten(value, shapeOf, path, here));
    } else checks.push({ path, operator: 'equals', expected: value, source: here });
  }
  return checks;
}

/** `status: { equal: 200 }`: status is a number, so every key under it must be an operator. */
function notOperators(path: string, type: string, value: Record<string, unknown>, source: string[]): void {
  const bad = Object.keys(value).find((k) => !OPERATOR_NAMES.includes(k));
  if (bad === undefined) return;
  throw new ExpectError(
    `${path} is ${type}, so the keys under it are operators (${OPERATOR_NAMES.join(', ')}): ${JSON.stringify(bad)} is not one${suggest(bad, OPERATOR_NAMES)}`,
    [...source, bad],
  );
}

function matcherChecks(path: string, matcher: Record<string, unknown>, source: string[], prefix: string, shape?: Shape): Check[] {
  const checks: Check[] = [];
  for (const [op, expected] of Object.entries(matcher)) {
    const here = [...source, op];
    if (op === 'length' || op === 'not') {
      // Under length (a number), or under not on a plain value, an object can only be operators.
      if (isPlainObject(expected) && op === 'length') notOperators(`${path}.length`, 'a number', expected, here);
      if (isPlainObject(expected) && op === 'not' && shape?.kind === 'value') notOperators(path, shape.type, expected, here);
      const inner = isMatcher(expected) ? expected : { equals: expected };
      if (op === 'not' && Object.keys(inner).some((k) => k === 'not')) throw new ExpectError('not inside not: say it plainly', here);
      checks.push(...matcherChecks(path, inner, isMatcher(expected) ? here : source.concat(op), `${prefix}${op}.`, op === 'length' ? { kind: 'value', type: 'a number' } : shape));
      continue;
    }
    const problem = OPERATORS[op]!.check?.(expected);
    if (problem) throw new ExpectError(problem, here);
    checks.push({ path, operator: prefix + op, expected, source: here });
  }
  return checks;
}

export function evaluate(checks: Check[], result: unknown): CheckResult[] {
  return checks.map((check) => {
    let actual = getPath(result, check.path);
    let negate = false;
    let label = check.path;
    const steps = check.operator.split('.');
    const op = steps.pop()!;
    for (const modifier of steps) {
      if (modifier === 'length') {
        actual = lengthOf(actual);
        label += '.length';
      } else negate = !negate;
    }
    const operator = OPERATORS[op]!;
    const passed = operator.test(actual, check.expected) !== negate;
    const wanted = `${negate ? 'not ' : ''}${operator.describe(check.expected)}`;
    const message = passed ? `${label}: ${wanted}` : `${label}: expected ${wanted}, got ${show(actual)}`;
    return { ...check, actual: truncate(actual), passed, message };
  });
}

/** Keep reports small: a long body is cut in the check result (the step result has it all). */
function truncate(value: unknown): unknown {
  return typeof value === 'string' && value.length > 2000 ? `${value.slice(0, 2000)}...` : value;
}
