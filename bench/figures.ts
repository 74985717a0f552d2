import os from 'node:os';
import type { Daemon } from './process';

/**
 * A figure is one number measured on our server and on the reference daemon a user
 * would pick instead, under the same load from the same client, run in turns
 * (reference, ours, reference, ours, ...) so that whatever else the machine does
 * weighs on both alike. Each pair gives a ratio, ours / reference; the table shows
 * the median and the spread of those ratios.
 */

export interface Stats {
  min: number;
  median: number;
  max: number;
  values: number[];
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0] ?? NaN, median, max: sorted[sorted.length - 1] ?? NaN, values };
}

/** What a figure aims at: ours / reference at least (throughput) or at most (latency), or an absolute bound. */
export interface Target {
  /** `ratio`: ours / reference; `value`: ours alone (memory of the whole lab). */
  of: 'ratio' | 'value';
  atLeast?: number;
  atMost?: number;
}

/** `≥ 0.8` (a ratio), `≤ 150 MB` (a value in the figure's unit). */
export function targetText(t: Target, unit: string): string {
  const bound = t.atLeast !== undefined ? `≥ ${t.atLeast}` : `≤ ${t.atMost}`;
  return t.of === 'ratio' ? bound : `${bound} ${unit}`;
}

export function meets(t: Target, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  return (t.atLeast === undefined || value >= t.atLeast) && (t.atMost === undefined || value <= t.atMost);
}

/** One number a run yields: `rps` of a wrk run, `p99` of the same run. */
export interface Metric {
  key: string;
  /** `HTTP static page, wrk -t2 -c50`: the row's name in the table. */
  title: string;
  unit: string;
  /** higher (throughput) or lower (latency, memory, time) is better. */
  better: 'higher' | 'lower';
  target?: Target;
  /** A count such as errors, where ours / reference means nothing (0 / 0): shown side by side, no ratio. */
  noRatio?: boolean;
}

export type Values = Record<string, number>;

/** One side of a comparison: what it is, the processes whose memory counts, and one measured run. */
export interface Side {
  label: string;
  servers: Daemon[];
  run(): Promise<Values>;
}

export interface FigureResult {
  id: string;
  group: string;
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  target?: Target;
  met?: boolean;
  ours: Stats;
  reference?: Stats & { label: string };
  /** ours / reference, pair by pair. */
  ratio?: Stats;
  /** Peak resident memory during this figure's runs, bytes (the process tree's sum for a daemon that forks). */
  oursPeakRss?: number;
  referencePeakRss?: number;
  /** How many processes the reference ran at most (its memory is their sum: shared libraries counted once per process). */
  referenceProcesses?: number;
  /** The machine's 1-minute load average at each run. */
  load: number[];
  note?: string;
}

export interface Settings {
  quick: boolean;
  /** Reference/ours pairs per figure (at least 3 in a full run). */
  pairs: number;
  /** Seconds of load per run for the tools that run for a time (wrk, dnsperf). */
  seconds: number;
}

/** Where a suite puts its results and says what it does. */
export interface Recorder {
  settings: Settings;
  /** A scratch folder for this suite, removed at the end. */
  dir: string;
  say(text: string): void;
  record(result: FigureResult): void;
}

const load1 = (): number => Math.round(os.loadavg()[0]! * 100) / 100;

/**
 * Measure `metrics` on both sides: one warm-up run each (not counted: JIT, caches,
 * first-use files; not with --quick), then `pairs` turns of reference then ours.
 * Records one figure per metric.
 */
export async function compare(
  rec: Recorder,
  spec: { id: string; group: string; metrics: Metric[]; reference: Side; ours: Side; warmup?: boolean; note?: string },
): Promise<FigureResult[]> {
  const { reference, ours } = spec;
  if (spec.warmup !== false && !rec.settings.quick) {
    await reference.run();
    await ours.run();
  }
  for (const d of [...reference.servers, ...ours.servers]) d.resetPeak();
  const refRuns: Values[] = [];
  const ourRuns: Values[] = [];
  const loads: number[] = [];
  for (let i = 0; i < rec.settings.pairs; i++) {
    loads.push(load1());
    refRuns.push(await reference.run());
    ourRuns.push(await ours.run());
    rec.say(`  ${spec.id} ${i + 1}/${rec.settings.pairs}: ${spec.metrics.map((m) => `${m.key} ${fmt(ourRuns[i]![m.key]!)} vs ${fmt(refRuns[i]![m.key]!)}`).join(', ')}`);
  }
  const peak = (servers: Daemon[]): number => servers.reduce((sum, d) => sum + d.peakRss(), 0);
  const results = spec.metrics.map((m): FigureResult => {
    const o = ourRuns.map((r) => r[m.key]!);
    const r = refRuns.map((v) => v[m.key]!);
    const ratio = m.noRatio ? undefined : stats(o.map((v, i) => v / r[i]!));
    return {
      id: spec.metrics.length > 1 ? `${spec.id}-${m.key}` : spec.id,
      group: spec.group,
      title: m.title,
      unit: m.unit,
      better: m.better,
      target: m.target,
      met: m.target && ratio ? meets(m.target, ratio.median) : undefined,
      ours: stats(o),
      reference: { ...stats(r), label: reference.label },
      ratio,
      oursPeakRss: peak(ours.servers),
      referencePeakRss: peak(reference.servers),
      referenceProcesses: reference.servers.reduce((sum, d) => sum + d.peakProcesses(), 0),
      load: loads,
      note: spec.note,
    };
  });
  for (const r of results) rec.record(r);
  return results;
}

/** Figures of ours alone (the whole lab: start-up time, memory), `runs` times. */
export async function solo(
  rec: Recorder,
  spec: { id: string; group: string; metrics: Metric[]; runs: number; run(): Promise<Values>; note?: string },
): Promise<FigureResult[]> {
  const runs: Values[] = [];
  const loads: number[] = [];
  for (let i = 0; i < spec.runs; i++) {
    loads.push(load1());
    runs.push(await spec.run());
    rec.say(`  ${spec.id} ${i + 1}/${spec.runs}: ${spec.metrics.map((m) => `${m.key} ${fmt(runs[i]![m.key]!)}`).join(', ')}`);
  }
  const results = spec.metrics.map((m): FigureResult => {
    const values = stats(runs.map((r) => r[m.key]!));
    return {
      id: `${spec.id}-${m.key}`,
      group: spec.group,
      title: m.title,
      unit: m.unit,
      better: m.better,
      target: m.target,
      met: m.target ? meets(m.target, values.median) : undefined,
      ours: values,
      load: loads,
      note: spec.note,
    };
  });
  for (const r of results) rec.record(r);
  return results;
}

/** A number as a table shows it: three significant digits, no exponent. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1000) return String(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}
