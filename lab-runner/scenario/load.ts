import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ACTION_NAMES, executorFor, type ActionName } from '../executors/registry';
import { checkedResultSchema, failureFields, packetFields } from '../executors/types';
import { ExpectError, flatten, type Check } from '../expect/evaluate';
import { shapeAt } from '../expect/fields';
import { toMs } from './duration';
import { hasPlaceholder, referencedVariables } from './interpolate';
import { parsePath } from './path';
import { looseScenarioSchema, scenarioSchema, type Visibility } from './schema';

/**
 * Loading a scenario file: YAML (with line numbers kept), then the zod schema, then
 * the checks no schema can make (placeholders that name no variable, expectations
 * that make no sense). Every problem names the file, line and column and what was
 * expected, and all problems are reported at once.
 */

export interface Step {
  index: number;
  name: string;
  action: ActionName;
  /** The action's input as written; `${...}` is filled in when the step runs. */
  input: unknown;
  checks: Check[];
  /** Some check reads `error` or `code`: a failed action is judged by the checks, not reported as an error. */
  expectsFailure: boolean;
  /** Some check reads the packets under the step (`tcp`, `packets`, `payload`): it needs `--capture`. */
  needsCapture: boolean;
  save: Record<string, string>;
  points: number;
  hint?: string;
  timeoutMs: number;
  retry?: { attempts: number; intervalMs: number };
  /** Who sees the step's result in a grading report: its own `visibility:`, else its scenario's. */
  visibility: Visibility;
  /** Variables the step uses, so it is skipped when the step that saves one failed. */
  uses: string[];
  line: number;
  /** The line of a key inside this step, e.g. ['expect', 'status'] or ['dns', 'type']. */
  lineOf(keys: (string | number)[]): number;
}

export interface Scenario {
  file: string;
  title: string;
  description?: string;
  tags: string[];
  vars: Record<string, unknown>;
  /** `secrets:` split in two: names of variables (from vars: or a save:) whose values are masked, and literal strings. */
  secrets: { variables: string[]; literals: string[] };
  visibility: Visibility;
  steps: Step[];
  maxPoints: number;
  /** Some step checks packets: the scenario runs only with `--capture`. */
  needsCapture: boolean;
}

export interface Problem {
  line: number;
  column: number;
  message: string;
}

export class ScenarioError extends Error {
  constructor(readonly file: string, readonly problems: Problem[]) {
    super(problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message}`).join('\n'));
    this.name = 'ScenarioError';
  }
}

export const DEFAULT_TIMEOUT_MS = 5000;

export async function loadScenarioFile(file: string): Promise<Scenario> {
  return parseScenario(await readSourceFile(file), file);
}

/** A scenario's (or a quiz's) text; a file that cannot be read is a ScenarioError that says why. */
export async function readSourceFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(file, [{ line: 1, column: 1, message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
}

export function parseScenario(text: string, file: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // Only the first: after one syntax error the parser's later complaints are echoes of it.
    const error = doc.errors[0]!;
    const pos = lineCounter.linePos(error.pos[0]);
    const line = text.split('\n')[pos.line - 1] ?? '';
    throw new ScenarioError(file, [{ line: pos.line, column: pos.col, message: `YAML: ${error.message.split('\n')[0]}${yamlHint(error.message, line)}` }]);
  }
  const raw: unknown = doc.toJS();
  const locate = (keys: (string | number)[], missingKey?: string): Problem => positionOf(doc, lineCounter, keys, missingKey);

  const strict = scenarioSchema.safeParse(raw);
  const problems: Problem[] = [];
  if (!strict.success) {
    for (const issue of strict.error.issues) {
      const keys = issue.path as (string | number)[];
      // A placeholder stands where a number or a name will be: checked when the step runs.
      if (isInsideAction(keys) && hasPlaceholder(getIn(raw, keys))) continue;
      problems.push(describeIssue(issue, raw, locate));
    }
  }
  if (problems.length) throw new ScenarioError(file, problems);

  const data = looseScenarioSchema.parse(raw);
  const known = new Set(Object.keys(data.vars));
  const steps: Step[] = data.steps.map((s, index) => {
    const action = ACTION_NAMES.find((a) => s[a] !== undefined)!;
    const base = ['steps', index];
    // Paths are checked against what the executor's output can hold (its declared schema).
    const output = executorFor(action).output;
    const owner = `the ${action} result`;
    const checked = checkedResultSchema(output);
    const checks: Check[] = [];
    // Key by key, so that every mistake is reported at once.
    for (const [key, value] of Object.entries(s.expect ?? {})) {
      try {
        checks.push(...flatten({ [key]: value }, (path) => shapeAt(checked, path, owner)));
      } catch (err) {
        if (!(err instanceof ExpectError)) throw err;
        problems.push({ ...locate([...base, 'expect', ...err.source]), message: `expect: ${err.message}` });
      }
    }
    for (const [name, p] of Object.entries(s.save ?? {})) {
      try {
        shapeAt(output, parsePath(p), owner);
      } catch (err) {
        problems.push({ ...locate([...base, 'save', name]), message: `save: ${(err as Error).message}` });
      }
    }
    const uses = referencedVariables([s[action], s.expect]);
    for (const name of uses.filter((u) => !known.has(u))) {
      const where = findPlaceholder(doc, [...base], name) ?? [...base, action];
      const offer = known.size ? `variables known here: ${[...known].join(', ')}` : 'no variable is saved before this step';
      problems.push({ ...locate(where), message: `\${${name}} is not defined by vars: or an earlier step's save: (${offer})` });
    }
    for (const name of Object.keys(s.save ?? {})) known.add(name);
    return {
      index,
      name: s.name,
      action,
      input: s[action],
      checks,
      expectsFailure: checks.some((c) => Object.hasOwn(failureFields, parsePath(c.path)[0]!)),
      needsCapture: checks.some((c) => Object.hasOwn(packetFields, parsePath(c.path)[0]!)),
      save: s.save ?? {},
      points: s.points,
      hint: s.hint,
      timeoutMs: s.timeout !== undefined ? toMs(s.timeout) : DEFAULT_TIMEOUT_MS,
      retry: s.retry ? { attempts: s.retry.attempts, intervalMs: toMs(s.retry.interval) } : undefined,
      visibility: s.visibility ?? data.visibility,
      uses,
      line: locate(base).line,
      lineOf: (keys) => locate([...base, ...keys]).line,
    };
  });
  if (problems.length) throw new ScenarioError(file, problems);
  // An entry that names a variable masks its value; anything else is masked as written.
  const variables = new Set([...Object.keys(data.vars), ...data.steps.flatMap((s) => Object.keys(s.save ?? {}))]);
  const secrets = [...new Set(data.secrets)];
  return {
    file,
    title: data.title,
    description: data.description,
    tags: data.tags,
    vars: data.vars,
    secrets: { variables: secrets.filter((n) => variables.has(n)), literals: secrets.filter((n) => !variables.has(n)) },
    visibility: data.visibility,
    steps,
    maxPoints: steps.reduce((sum, s) => sum + s.points, 0),
    needsCapture: steps.some((s) => s.needsCapture),
  };
}

/** The two YAML traps scenario authors fall into most, explained. */
function yamlHint(message: string, line: string): string {
  // `save: { ip: answers[0].data }`: inside { } a [ starts a list.
  if (/flow-seq|flow-map|Flow map/.test(message) && /\{[^}]*\w\[/.test(line)) {
    return ' (inside { } a [ starts a YAML list: quote the value, "answers[0].data", or write the mapping on lines of its own)';
  }
  // `hint: say "Connection: close"`: a second ": " in a plain value starts a mapping.
  if (/Nested mappings|compact mappings|Implicit map keys/.test(message)) return ' (a value with ": " in it must be in quotes)';
  return '';
}

/** Every *.yaml / *.yml file under the given files and folders, sorted, each once. */
export async function findScenarioFiles(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const p of paths) {
    let info;
    try {
      info = await stat(p);
    } catch {
      throw new ScenarioError(p, [{ line: 1, column: 1, message: 'no such file or folder' }]);
    }
    if (info.isDirectory()) {
      const entries = await readdir(p, { recursive: true });
      found.push(...entries.filter((e) => /\.ya?ml$/.test(e)).sort().map((e) => path.join(p, e)));
    } else found.push(p);
  }
  return [...new Set(found)];
}

const isInsideAction = (keys: (string | number)[]): boolean =>
  keys[0] === 'steps' && typeof keys[2] === 'string' && (ACTION_NAMES as string[]).includes(keys[2]);

function getIn(value: unknown, keys: (string | number)[]): unknown {
  return keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined), value);
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, locate: (k: (string | number)[], missing?: string) => Problem): Problem {
  const keys = issue.path as (string | number)[];
  const where = keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '');
  const prefix = where ? `${where}: ` : '';
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const allowed = allowedKeys(keys);
    return {
      ...locate(keys, key),
      message: `${prefix}unknown key "${issue.keys.join('", "')}"${allowed ? `; expected one of: ${allowed}` : ''}`,
    };
  }
  const value = getIn(raw, keys);
  let message = issue.message.replace(/^Invalid (input|option): /, '');
  if (issue.code === 'invalid_type' && value === undefined) message = `missing (${message.replace(/, received undefined$/, '')})`;
  else if (value !== undefined && typeof value !== 'object') message += `, got ${JSON.stringify(value)}`;
  return { ...locate(keys), message: prefix + message };
}

/** The keys a mapping at this place may have, for "expected one of" after an unknown key. */
function allowedKeys(keys: (string | number)[]): string | undefined {
  if (keys.length === 0) return 'title, description, tags, vars, secrets, visibility, steps';
  if (keys.length === 2 && keys[0] === 'steps') return `name, ${ACTION_NAMES.join(', ')}, expect, save, points, hint, timeout, retry, visibility`;
  return undefined;
}

/** Where a path of keys is in the file; the nearest existing parent when it is missing. (The quiz loader uses it too.) */
export function positionOf(doc: Document, lc: LineCounter, keys: (string | number)[], missingKey?: string): Problem {
  let node: unknown = doc.contents;
  for (const key of keys) {
    const next = isMap(node) || isSeq(node) ? node.get(key, true) : undefined;
    if (next === undefined) break;
    node = next;
  }
  if (missingKey && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === missingKey);
    if (pair && isScalar(pair.key) && pair.key.range) node = pair.key;
  }
  const range = (node as Node | undefined)?.range;
  const pos = lc.linePos(range ? range[0] : 0);
  return { line: pos.line, column: pos.col, message: '' };
}

/** The key path of the first string under `base` that uses `${name}`. */
function findPlaceholder(doc: Document, base: (string | number)[], name: string): (string | number)[] | undefined {
  const search = (node: unknown, keys: (string | number)[]): (string | number)[] | undefined => {
    if (isScalar(node)) return typeof node.value === 'string' && referencedVariables(node.value).includes(name) ? keys : undefined;
    if (node && typeof node === 'object' && 'items' in node) {
      const items = (node as { items: unknown[] }).items;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const found = isPair(item) ? search(item.value, [...keys, String((item.key as { value?: unknown })?.value)]) : search(item, [...keys, i]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return search(doc.getIn(base, true), base);
}
