import fc from 'fast-check';

/**
 * Property tests (fast-check): one fixed seed and a bounded number of runs, so a
 * failure reproduces on every machine and the whole suite stays fast. To explore
 * further by hand: WIRELAB_PROPERTY_SEED=<n> to draw other cases, and
 * WIRELAB_PROPERTY_RUNS=<factor> to run each property that many times as often.
 */
export const PROPERTY_SEED = Number(process.env.WIRELAB_PROPERTY_SEED ?? 20261204);
const RUNS_FACTOR = Number(process.env.WIRELAB_PROPERTY_RUNS ?? 1);

/** Check a property with the suite's seed, `runs` times (default 200). A failure names the smallest case fast-check found. */
export function holds<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, runs = 200): void {
  fc.assert(property, { seed: PROPERTY_SEED, numRuns: Math.max(1, Math.round(runs * RUNS_FACTOR)) });
}

/** holds() for a property whose check awaits (sockets, the disk). */
export async function holdsAsync<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<Ts>, runs = 100): Promise<void> {
  await fc.assert(property, { seed: PROPERTY_SEED, numRuns: Math.max(1, Math.round(runs * RUNS_FACTOR)) });
}

/** Where to cut a stream into TCP-like chunks: positions, taken modulo the stream's length. */
export const cuts = (): fc.Arbitrary<number[]> => fc.array(fc.nat(), { maxLength: 12 });

/** `bytes` cut at `at` (each taken modulo its length + 1) into non-empty chunks, in order: what one read after another may deliver. */
export function chunksOf(bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((n) => n % (bytes.length + 1)))].filter((n) => n > 0 && n < bytes.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

/** Bytes a careless or hostile client sends: anything at all, or printable text with line ends, NULs and bytes that are not UTF-8 mixed in. */
export const garbage = (maxLength = 300): fc.Arbitrary<Buffer> =>
  fc
    .oneof(
      fc.uint8Array({ maxLength }),
      fc.array(fc.oneof(fc.constantFrom('\r\n', '\n', '\r', '\0', '\xff', '\xc3(', ' ', ':', '.', '..', '/', '%'), fc.string({ maxLength: 12 })), { maxLength: Math.ceil(maxLength / 8) }).map((parts) => Buffer.from(parts.join(''), 'latin1')),
    )
    .map((bytes) => Buffer.from(bytes));

/** Call `run`; return what it threw (undefined when it returned). For "throws nothing but X" properties. */
export function thrown(run: () => unknown): unknown {
  try {
    run();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** The type of the values an arbitrary draws. */
export type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;
