import { z } from 'zod';

/** A duration in a scenario: milliseconds as a number, or text like `200ms`, `5s`, `1.5s`, `1m`. */
export const durationSchema = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, 'a duration like 500ms, 5s or 1m'),
]);

export function toMs(value: number | string): number {
  if (typeof value === 'number') return value;
  const [, amount, unit] = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value)!;
  return Math.round(Number(amount) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60000));
}
