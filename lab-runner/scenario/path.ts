/**
 * Paths into a step's result, as scenario files write them:
 * `status`, `headers.content-type`, `answers[0].data`, `json.notes[1].title`.
 * Pure functions.
 */

export type PathToken = string | number;

export function parsePath(path: string): PathToken[] {
  const tokens: PathToken[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\]/g;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(path))) {
    const between = path.slice(consumed, match.index);
    if (between !== '' && between !== '.') throw new Error(`bad path ${JSON.stringify(path)} near ${JSON.stringify(between)}`);
    consumed = re.lastIndex;
    if (match[1] !== undefined) tokens.push(match[1]);
    else if (match[2] !== undefined) tokens.push(Number(match[2]));
    else tokens.push(match[3]!);
  }
  if (consumed !== path.length || tokens.length === 0) throw new Error(`bad path ${JSON.stringify(path)}`);
  return tokens;
}

/**
 * The value at `path`, or undefined. Object keys match exactly first, then without
 * regard to case, so `headers.Content-Type` finds `content-type` as HTTP intends.
 */
export function getPath(value: unknown, path: string | PathToken[]): unknown {
  let current = value;
  for (const token of typeof path === 'string' ? parsePath(path) : path) {
    if (current === null || current === undefined) return undefined;
    if (typeof token === 'number' || (Array.isArray(current) && /^\d+$/.test(token))) {
      current = Array.isArray(current) ? current[Number(token)] : undefined;
      continue;
    }
    if (typeof current !== 'object') return undefined;
    const record = current as Record<string, unknown>;
    if (token in record) current = record[token];
    else {
      const key = Object.keys(record).find((k) => k.toLowerCase() === token.toLowerCase());
      current = key === undefined ? undefined : record[key];
    }
  }
  return current;
}
