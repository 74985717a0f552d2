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
 * and unknown (`json`: any body); every path below them is allowed. Lists take an
 * index (`answers[0]`) or `length`. A number, a string or a boolean has nothing
 * below it, so an object under one (`status: { equal: 200 }`) must be operators.
 * Pure functions.
 */

/** What a path reaches. */
export type Shape =
  | { kind: 'open' }
  | { kind: 'value'; type: string }
  | { kind: 'object'; fields: string[] }
  | { kind: 'collection' };

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
const isContainer = (schema: z.ZodType): boolean => ['object', 'record', 'array', 'tuple'].includes(defOf(schema).type);

/** A closed object's fields; an object whose catchall is open (z.looseObject) counts as open. */
function fieldsOf(schema: z.ZodType): string[] {
  return Object.keys(defOf(schema).shape ?? {});
}

/** `a number`, `text`, `true or false`, `one of udp, tcp`: what a value is, in words. */
function typeName(schemas: z.ZodType[]): string {
  const names = new Set(
    schemas.map((s) => {
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

/** The fields an output (or a union of outputs) has at its top. */
export function topFields(schema: z.ZodType): string[] {
  return [...new Set(concrete(schema).flatMap(fieldsOf))];
}

const show = (tokens: PathToken[]): string => tokens.map((t, i) => (typeof t === 'number' ? `[${t}]` : i ? `.${t}` : t)).join('');

/**
 * What `path` reaches in a value of `schema`. Throws a PathError that names the field
 * that does not exist and lists those that do. `owner` names the whole (`the http result`).
 */
export function shapeAt(schema: z.ZodType, path: PathToken[], owner: string): Shape {
  let here = concrete(schema);
  for (let i = 0; i < path.length; i++) {
    if (here.some(isOpen)) return { kind: 'open' };
    const token = path[i]!;
    const where = i === 0 ? owner : show(path.slice(0, i));
    const next: z.ZodType[] = [];
    for (const node of here) {
      const def = defOf(node);
      const index = typeof token === 'number' ? token : /^\d+$/.test(token) ? Number(token) : undefined;
      if (def.type === 'object') {
        if (typeof token === 'string' && Object.hasOwn(def.shape!, token)) next.push(def.shape![token]!);
        else if (def.catchall && isOpen(def.catchall)) next.push(def.catchall);
      } else if (def.type === 'record') next.push(def.valueType!);
      else if (def.type === 'array' && index !== undefined) next.push(def.element!);
      else if (def.type === 'array' && token === 'length') return path.length === i + 1 ? { kind: 'value', type: 'a number' } : noFields('a number', show(path.slice(0, i + 1)), path[i + 1]!);
      else if (def.type === 'tuple' && index !== undefined && index < def.items!.length) next.push(def.items![index]!);
    }
    if (!next.length) {
      const containers = here.filter(isContainer);
      if (!containers.length) noFields(typeName(here), where, token);
      const fields = [...new Set(containers.flatMap(fieldsOf))];
      if (!fields.length) throw new PathError(`${where} is a list: give an index, ${where}[0], or its length, not ${JSON.stringify(token)}`);
      throw new PathError(`${where} has no field ${JSON.stringify(String(token))}${suggest(String(token), fields)}; it has: ${fields.join(', ')}`);
    }
    here = next.flatMap(concrete);
  }
  if (here.some(isOpen)) return { kind: 'open' };
  const objects = here.filter((s) => defOf(s).type === 'object');
  if (objects.length) return { kind: 'object', fields: [...new Set(objects.flatMap(fieldsOf))] };
  if (here.some((s) => ['array', 'tuple', 'record'].includes(defOf(s).type))) return { kind: 'collection' };
  return { kind: 'value', type: typeName(here) };
}

function noFields(type: string, where: string, token: PathToken): never {
  throw new PathError(`${where} is ${type}: it has no field ${JSON.stringify(String(token))}${suggest(String(token), OPERATOR_NAMES, 'the operator ')}`);
}

/** ` (did you mean "status"?)` when a known name is one or two typing slips away. */
export function suggest(word: string, known: readonly string[], what = ''): string {
  let best: string | undefined;
  let bestDistance = 3;
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
