/**
 * Options every service shares the handling of. Each limit a service has (sizes,
 * timeouts, connections, attempts) is a named option with a safe default; a limit given
 * out of range stops the server at start, naming the service and the option.
 */

/** `{ a: undefined }` must not override a default when spread. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type Limits<L> = { -readonly [K in keyof L]: number };

/**
 * The complete set of limits: `defaults`, overridden by the whole numbers given in
 * `options`, each checked against its range (minimum 1 unless `min` says otherwise).
 */
export function checkLimits<L extends Record<string, number>>(
  service: string,
  defaults: L,
  options: Partial<Record<keyof L, number | undefined>>,
  range: { min?: Partial<Record<keyof L, number>>; max?: Partial<Record<keyof L, number>> } = {},
): Limits<L> {
  const limits = { ...defaults } as Limits<L>;
  for (const key of Object.keys(defaults) as (keyof L & string)[]) {
    const value = options[key];
    if (value === undefined) continue;
    const min = range.min?.[key] ?? 1;
    const max = range.max?.[key];
    if (!Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
      const wanted = max === undefined ? `a whole number, at least ${min}` : `a whole number from ${min} to ${max}`;
      throw new RangeError(`${service}: ${key} must be ${wanted}; got ${value}`);
    }
    limits[key] = value;
  }
  return limits;
}

/** `150 ms`, `30 s`, `5 min`: a limit in a reply, as a person would say it. */
export function duration(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return `${ms} ms`;
  return ms % 60000 === 0 ? `${ms / 60000} min` : `${ms / 1000} s`;
}
