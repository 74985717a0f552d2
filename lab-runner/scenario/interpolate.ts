import { getPath } from './path';

/**
 * `${name}` in a step's strings is replaced by a variable saved by an earlier step
 * (`save:`) or declared under `vars:`. `${name.path}` reaches into a saved object.
 * A string that is exactly one placeholder keeps the value's type (a number stays a
 * number). `$${` writes a literal `${`.
 */

const PLACEHOLDER = /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[^}.]+|\[\d+\])*)\}/g;

export class MissingVariableError extends Error {
  constructor(readonly variable: string) {
    super(`\${${variable}} has no value`);
  }
}

/** Every variable a value refers to, by name. */
export function referencedVariables(value: unknown): string[] {
  const names = new Set<string>();
  walkStrings(value, (s) => {
    for (const m of s.matchAll(PLACEHOLDER)) if (!m[0].startsWith('$$')) names.add(m[1]!);
  });
  return [...names];
}

export function interpolate<T>(value: T, vars: Record<string, unknown>): T {
  return mapStrings(value, (text) => {
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[^}.]+|\[\d+\])*)\}$/.exec(text);
    if (whole) return lookup(vars, whole[1]!, whole[2]!);
    return text.replace(PLACEHOLDER, (match, name: string, rest: string) => {
      if (match.startsWith('$$')) return match.slice(1);
      const found = lookup(vars, name, rest);
      return typeof found === 'object' && found !== null ? JSON.stringify(found) : String(found);
    });
  }) as T;
}

function lookup(vars: Record<string, unknown>, name: string, rest: string): unknown {
  if (!(name in vars)) throw new MissingVariableError(name);
  return rest ? getPath(vars[name], rest.replace(/^\./, '')) : vars[name];
}

function mapStrings(value: unknown, fn: (s: string) => unknown): unknown {
  if (typeof value === 'string') return value.includes('${') ? fn(value) : value;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  }
  return value;
}

function walkStrings(value: unknown, fn: (s: string) => void): void {
  mapStrings(value, (s) => {
    fn(s);
    return s;
  });
}

export function hasPlaceholder(value: unknown): boolean {
  return typeof value === 'string' && /\$\{/.test(value);
}
