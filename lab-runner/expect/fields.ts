import type { z } from 'zod';
import type { PathToken } from '../scenario/path';
import { OPERATOR_NAMES } from './operators';

/**
 * Which paths a step's result can have, read from its executor's declared output (a
 * zod schema, executors/<name>/index.ts), so that a misspelt field or operator in
 * `expect:` or `save:` is caught when the scenario loads, not at run time as "got
 * nothing" against a server that answered correctly.
 *
 * Objects in an output are closed: `statuss` or `header` are not fields of an HTTP
 * result. Parts whose keys are data are open: a record (`headers`: any header name)
 * and unknown (`json`: any body); every path below unknown is allowed, and below a
 * record any key. Lists take an index (`answers[0]`) or `length`. A number, a string
 * or a boolean has nothing below it, so an object under one (`status: { equal: 200 }`)
 * must be operators. Pure functions.
 */

/** One level of a value, as a path sees it. */
export type Level =
  /** Free-form data: any path below is allowed. */
  | { kind: 'open' }
  /** A number, a string, a boolean: no fields, only operators. */
  | { kind: 'value'; type: string }
  | { kind: 'object'; fields: Map<string, z.ZodType[]> }
  /** A record: any key, each holding `values`. */
  | { kind: 'map'; values: z.ZodType[] }
  | { kind: 'list'; elements: z.ZodType[] };

/** What a whole path reaches: a Level without its children. */
export type Shape = { kind: 'open' } | { kind: 'value'; type: string } | { kind: 'object'; fields: string[] } | { kind: 'collection' };

export class PathError extends Error {}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  items?: z.ZodType[];
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  entries?: Record<string, unknown>;
  values?: unknown[];
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Wrappers (optional, default, ...) taken off, unions spread: the schemas a value may match. */
function concrete(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return concrete(def.innerType!);
    case 'pipe':
      return concrete(def.in!);
    case 'lazy':
      return concrete(def.getter!());
    case 'union':
      return def.options!.flatMap(concrete);
    case 'intersection':
      return [...concrete(def.left!), ...concrete(def.right!)];
    default:
      return [schema];
  }
}

const isOpen = (schema: z.ZodType): boolean => ['unknown', 'any'].includes(defOf(schema).type);

/** What values of these schemas (the options of a union) hold at their top. */
export function levelOf(schemas: z.ZodType[]): Level {
  const nodes = schemas.flatMap(concrete);
  if (nodes.some(isOpen)) return { kind: 'open' };
  const objects = nodes.filter((s) => defOf(s).type === 'object');
  if (objects.length) {
    if (objects.some((o) => defOf(o).catchall && isOpen(defOf(o).catchall!))) return { kind: 'open' };
    const fields = new Map<string, z.ZodType[]>();
    for (const o of objects) for (const [name, field] of Object.entries(defOf(o).shape!)) fields.set(name, [...(fields.get(name) ?? []), field]);
    return { kind: 'object', fields };
  }
  const records = nodes.filter((s) => defOf(s).type === 'record');
  if (records.length) return { kind: 'map', values: records.map((r) => defOf(r).valueType!) };
  const lists = nodes.filter((s) => ['array', 'tuple'].includes(defOf(s).type));
  if (lists.length) return { kind: 'list', elements: lists.flatMap((l) => defOf(l).element ?? defOf(l).items!) };
  return { kind: 'value', type: typeName(nodes) };
}

/** `a number`, `text`, `true or false`, `one of udp, tcp`: what a value is, in words. */
function typeName(nodes: z.ZodType[]): string {
  const names = new Set(
    nodes.map((s) => {
      const def = defOf(s);
      if (def.type === 'string') return 'text';
      if (def.type === 'number' || def.type === 'int' || def.type === 'bigint') return 'a number';
      if (def.type === 'boolean') return 'true or false';
      if (def.type === 'enum') return `one of ${Object.values(def.entries ?? {}).join(', ')}`;
      if (def.type === 'literal') return (def.values ?? []).map((v) => JSON.stringify(v)).join(' or ');
      return def.type;
    }),
  );
  return [...names].join(' or ');
}

/** The description a field was declared with (`.describe(...)`), for editors. */
export function descriptionOf(schemas: z.ZodType[]): string | undefined {
  for (const s of schemas) {
    const found = (s as { description?: string }).description ?? concrete(s).map((c) => (c as { description?: string }).description).find(Boolean);
    if (found) return found;
  }
  return undefined;
}

const show = (tokens: PathToken[]): string => tokens.map((t, i) => (typeof t === 'number' ? `[${t}]` : i ? `.${t}` : t)).join('');
const indexOf = (token: PathToken): number | undefined => (typeof token === 'number' ? token : /^\d+$/.test(token) ? Number(token) : undefined);

/**
 * What `path` reaches in a value of `schema`. Throws a PathError that names the field
 * that does not exist and lists those that do. `owner` names the whole (`the http result`).
 */
export function shapeAt(schema: z.ZodType, path: PathToken[], owner: string): Shape {
  let level = levelOf([schema]);
  for (let i = 0; i < path.length; i++) {
    const token = path[i]!;
    const where = i === 0 ? owner : show(path.slice(0, i));
    if (level.kind === 'open') return level;
    if (level.kind === 'value') noFields(level.type, where, token);
    if (level.kind === 'map') level = levelOf(level.values);
    else if (level.kind === 'object') {
      const field = typeof token === 'string' ? level.fields.get(token) : undefined;
      const names = [...level.fields.keys()];
      if (!field) throw new PathError(`${where} has no field ${JSON.stringify(String(token))}${suggest(String(token), names)}; it has: ${names.join(', ')}`);
      level = levelOf(field);
    } else if (indexOf(token) !== undefined) level = levelOf(level.elements);
    else if (token === 'length') level = { kind: 'value', type: 'a number' };
    else throw new PathError(`${where} is a list: give an index, ${where}[0], or its length, not ${JSON.stringify(token)}`);
  }
  if (level.kind === 'object') return { kind: 'object', fields: [...level.fields.keys()] };
  return level.kind === 'map' || level.kind === 'list' ? { kind: 'collection' } : level;
}

function noFields(type: string, where: string, token: PathToken): never {
  throw new PathError(`${where} is ${type}: it has no field ${JSON.stringify(String(token))}${suggest(String(token), OPERATOR_NAMES, 'the operator ')}`);
}

/** ` (did you mean "status"?)` when a known name is one or two typing slips away. */
export function suggest(word: string, known: readonly string[], what = ''): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean ${what}"${best}"?)` : '';
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}
