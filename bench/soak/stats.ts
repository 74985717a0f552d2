/**
 * What the soak counts per service: requests served and their latency, errors by kind,
 * and the items lost (acknowledged, then missing or duplicated on disk).
 */

export class ServiceStats {
  served = 0;
  readonly errors = new Map<string, number>();
  /** Latency of each request served, in ms. */
  private readonly latencies: number[] = [];
  /** Acknowledged items (a Message-ID answered 250, an upload answered 226 / SFTP CLOSE OK). */
  acknowledged = 0;
  lost = 0;
  duplicated = 0;
  /** Bad clients sent at it (garbage, floods, slow readers, wrong passwords) and how they ended. */
  readonly bad = new Map<string, number>();

  constructor(readonly name: string) {}

  ok(ms: number): void {
    this.served++;
    this.latencies.push(ms);
  }

  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  badClient(kind: string): void {
    this.bad.set(kind, (this.bad.get(kind) ?? 0) + 1);
  }

  /** The latency at percentile `p` (0-100), nearest rank; undefined with nothing served. */
  percentile(p: number): number | undefined {
    if (this.latencies.length === 0) return undefined;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  }
}

/** `econnreset` and friends: an error as a short kind for the table. */
export function errorKind(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code) return code.toLowerCase();
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').slice(0, 40);
}

function counts(map: Map<string, number>): string {
  return [...map].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind}:${n}`).join(' ') || '-';
}

const ms = (value: number | undefined): string => (value === undefined ? '-' : value < 10 ? value.toFixed(1) : value.toFixed(0));

/** The table, as text: one row per service. */
export function table(stats: ServiceStats[], peakRss: Map<string, number>): string {
  const header = ['service', 'served', 'errors', 'p50 ms', 'p99 ms', 'peak RSS', 'acked', 'lost', 'dup', 'bad clients'];
  const rows = stats.map((s) => [
    s.name,
    String(s.served),
    counts(s.errors),
    ms(s.percentile(50)),
    ms(s.percentile(99)),
    peakRss.has(s.name) ? `${(peakRss.get(s.name)! / 1024 / 1024).toFixed(0)} MB` : '-',
    s.acknowledged ? String(s.acknowledged) : '-',
    String(s.lost),
    String(s.duplicated),
    counts(s.bad),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
