#!/usr/bin/env node
/**
 * `npm run bench`: wirelab's servers beside the daemons a user would pick instead, on
 * this machine, in the same run. See bench/README.md.
 *
 *   npm run bench                      every suite, 3 pairs of runs per figure
 *   npm run bench -- --quick           each suite for a second or two: proves the harness works
 *   npm run bench -- --only http,dns   some suites
 *
 * Results: bench/results/latest.json and latest.md (--quick: quick.json and quick.md);
 * --readme also puts the table into README.md's benchmark section.
 */
import { chmod, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { packageRoot } from '../services/common/paths';
import type { FigureResult, Recorder, Settings } from './figures';
import { ensure } from './packages';
import { stopAll } from './process';
import { markdown, terminalTable, type BenchRun } from './report';
import { folder, labCopy } from './servers';
import { SUITES } from './suites';

const program = new Command('bench')
  .description('measure wirelab\'s servers beside the reference daemons (nginx, dnsmasq, NSD, vsftpd, OpenSSH, Postfix, Dovecot)')
  .option('--quick', 'each suite for a second or two, one pair: proves the harness works, judges nothing')
  .option('--only <suites>', `comma-separated, from: ${Object.keys(SUITES).join(', ')}`)
  .addOption(new Option('--pairs <n>', 'reference/ours pairs per figure').argParser((v) => positive('--pairs', v)))
  .addOption(new Option('--seconds <n>', 'seconds of load per timed run').argParser((v) => positive('--seconds', v)))
  .option('--out <dir>', 'where to write the results', path.join(packageRoot(), 'bench', 'results'))
  .option('--readme', 'also write the table into README.md (between the bench markers)')
  .option('--keep', 'keep the scratch folder (configurations, logs) for a look afterwards');

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number, at least 1`);
  return n;
}

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{ quick?: boolean; only?: string; pairs?: number; seconds?: number; out: string; readme?: boolean; keep?: boolean }>();
  const only = opts.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? Object.keys(SUITES);
  const unknown = only.filter((s) => !(s in SUITES));
  if (unknown.length) throw new Error(`no suite named ${unknown.join(', ')}; there are: ${Object.keys(SUITES).join(', ')}`);
  const settings: Settings = {
    quick: Boolean(opts.quick),
    pairs: opts.pairs ?? (opts.quick ? 1 : 3),
    seconds: opts.seconds ?? (opts.quick ? 1 : 5),
  };
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'wirelab-bench-'));
  // Daemons that drop privileges (nginx's worker, vsftpd, Dovecot, Postfix) must reach their folders in here.
  await chmod(scratch, 0o755);
  const say = (text: string): void => void process.stderr.write(text + '\n');
  const run: BenchRun = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, ${os.type()} ${os.release()}`,
    node: process.version,
    quick: settings.quick,
    pairs: settings.pairs,
    seconds: settings.seconds,
    load: { start: os.loadavg()[0]!, end: NaN },
    figures: [],
    skipped: [],
  };
  say(`wirelab bench: ${only.join(', ')}; ${settings.pairs} pair(s), ${settings.seconds} s runs; load average ${os.loadavg()[0]!.toFixed(2)}; scratch ${scratch}`);
  let failed = false;
  const interrupted = (): void => {
    say('interrupted: stopping the servers');
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const lab = await labCopy(scratch);
    for (const name of only) {
      const missing = ensure(name, say);
      if (missing.length) {
        run.skipped.push({ suite: name, reason: `needs the Debian package(s) ${missing.join(', ')}` });
        say(`${name}: skipped, install ${missing.join(' ')}`);
        continue;
      }
      say(`${name}:`);
      const rec: Recorder = {
        settings,
        dir: await folder(scratch, name),
        say,
        record: (f: FigureResult) => run.figures.push(f),
      };
      try {
        const skipped = await SUITES[name]!(rec, lab);
        if (typeof skipped === 'string') {
          run.skipped.push({ suite: name, reason: skipped });
          say(`${name}: skipped, ${skipped}`);
        }
      } catch (err) {
        failed = true;
        say(`${name}: FAILED: ${(err as Error).stack ?? err}`);
        run.skipped.push({ suite: name, reason: `failed: ${(err as Error).message.split('\n')[0]}` });
      }
    }
  } finally {
    await stopAll();
    if (!opts.keep) await rm(scratch, { recursive: true, force: true });
  }
  run.load.end = os.loadavg()[0]!;
  const base = settings.quick ? 'quick' : 'latest';
  await mkdir(opts.out, { recursive: true });
  await writeFile(path.join(opts.out, `${base}.json`), JSON.stringify(run, null, 2) + '\n');
  const md = markdown(run);
  await writeFile(path.join(opts.out, `${base}.md`), md);
  if (opts.readme) await intoReadme(md);
  process.stdout.write('\n' + terminalTable(run.figures) + '\n');
  for (const s of run.skipped) process.stdout.write(`not measured: ${s.suite}: ${s.reason}\n`);
  process.stdout.write(`results: ${path.join(opts.out, `${base}.json`)} and ${base}.md\n`);
  if (failed) process.exitCode = 1;
}

/** Replace what is between `<!-- bench:start -->` and `<!-- bench:end -->` in README.md. */
async function intoReadme(table: string): Promise<void> {
  const file = path.join(packageRoot(), 'README.md');
  const text = await readFile(file, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} ... ${end} section`);
  await writeFile(file, text.slice(0, a + start.length) + '\n' + table + text.slice(b));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
