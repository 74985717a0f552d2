import { fmt, targetText, type FigureResult } from './figures';

/**
 * The results as a table: for a terminal (aligned columns) and as markdown (the README
 * and bench/results/latest.md), from the same rows.
 */

export interface BenchRun {
  date: string;
  machine: string;
  node: string;
  quick: boolean;
  pairs: number;
  seconds: number;
  /** The 1-minute load average when the run started and ended. */
  load: { start: number; end: number };
  figures: FigureResult[];
  skipped: { suite: string; reason: string }[];
}

const HEAD = ['figure', 'ours', 'reference', 'ratio median (min-max)', 'target', 'peak RSS ours / ref', 'load'];

const mb = (bytes: number | undefined): string => (bytes === undefined || !bytes ? '–' : `${Math.round(bytes / 2 ** 20)} MB`);

function ratioText(f: FigureResult): string {
  if (!f.ratio) return '–';
  const r = f.ratio;
  return r.values.length > 1 ? `${fmt(r.median)} (${fmt(r.min)}-${fmt(r.max)})` : fmt(r.median);
}

function targetCell(f: FigureResult): string {
  if (!f.target) return '';
  return `${targetText(f.target, f.unit)} ${f.met ? '✓' : '✗'}`;
}

export function rows(figures: FigureResult[]): string[][] {
  return figures.map((f) => [
    f.title,
    `${fmt(f.ours.median)} ${f.unit}`,
    f.reference ? `${fmt(f.reference.median)} (${f.reference.label})` : '–',
    ratioText(f),
    targetCell(f),
    f.reference || f.oursPeakRss ? `${mb(f.oursPeakRss)} / ${mb(f.referencePeakRss)}${(f.referenceProcesses ?? 0) > 1 ? ` (${f.referenceProcesses} proc.)` : ''}` : '',
    fmt(Math.max(...f.load)),
  ]);
}

export function terminalTable(figures: FigureResult[]): string {
  const all = [HEAD, ...rows(figures)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  return all.map((r) => r.map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length)).join('  ').trimEnd()).join('\n');
}

export function markdown(run: BenchRun): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = [
    `Measured ${run.date} on ${run.machine}, Node ${run.node}; ${run.pairs} reference/ours pair(s) per figure, ` +
      `${run.seconds} s per timed run${run.quick ? ' (--quick: proves the harness, not the figures)' : ''}; ` +
      `load average ${fmt(run.load.start)} at the start, ${fmt(run.load.end)} at the end.`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map(() => '---').join('|')}|`,
    ...rows(run.figures).map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
  if (run.skipped.length) lines.push('', ...run.skipped.map((s) => `- not measured: ${s.suite}: ${s.reason}`));
  return lines.join('\n') + '\n';
}
