#!/usr/bin/env node
/**
 * `npm run fuzz`: random and mutated bytes at each lab server over real sockets on
 * 127.0.0.1, bounded by time and by count. See README.md in this folder.
 *
 * For each protocol: start its server in a child process (target.ts), then batch after
 * batch send mutated copies of a good session (mutate.ts), and after each batch check
 * that the child is alive, logged nothing at level error, still answers a well-formed
 * request (the protocol's health exchange), and that its memory after a garbage
 * collection has not grown past a bound. An input that broke one of these is found
 * again alone and saved under tests/fixtures/fuzz/<protocol>/, where a normal test
 * replays it (tests/fuzz/replay.test.ts). Exit 0 when nothing was found.
 */
import path from 'node:path';
import { Command } from 'commander';
import { FIXTURES, saveInput, sendInput, type Finding, type Input } from './inputs';
import { mutateSession, Random } from './mutate';
import { PROTOCOLS, findProtocol, type Protocol } from './protocols';
import { check, memoryGrowth, MEMORY_REPEAT, MEMORY_SLACK, TargetProcess } from './target';

interface Options {
  /** Time for the whole run, shared among the protocols. */
  seconds: number;
  quick: boolean;
  protocols: string[];
  seed: number;
  /** At most this many inputs per protocol. */
  maxInputs: number;
  /** Inputs per batch, and how many of them go at once. */
  batch: number;
  concurrency: number;
  /** The bounds on memory growth over the first measurement, in MB. */
  maxLiveGrowthMb: number;
  maxRssGrowthMb: number;
  /** Where found inputs are saved. */
  out: string;
}

/** In quick mode (CI), each protocol gets this long. */
const QUICK_SECONDS = 3;
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------
// One protocol

interface Report {
  protocol: string;
  inputs: number;
  batches: number;
  /** Connections the server had not closed a while after ours closed: cut by the fuzzer. */
  heldOpen: number;
  seconds: number;
  live: { first: number; last: number; max: number };
  rss: { first: number; last: number; max: number };
  findings: { finding: Finding; file?: string }[];
}

async function fuzzProtocol(protocol: Protocol, options: Options, budgetMs: number, log: (line: string) => void): Promise<Report> {
  const random = new Random(options.seed ^ hashName(protocol.name));
  const report: Report = { protocol: protocol.name, inputs: 0, batches: 0, heldOpen: 0, seconds: 0, live: { first: 0, last: 0, max: 0 }, rss: { first: 0, last: 0, max: 0 }, findings: [] };
  const started = Date.now();
  let target = await TargetProcess.start(protocol);
  const restart = async (): Promise<void> => {
    await target.stop();
    target = await TargetProcess.start(protocol);
  };
  try {
    // Before any fuzzing, the health exchange must pass: otherwise the check itself is wrong.
    const before = await check(target, protocol, 0);
    if (before) throw new Error(`${protocol.name}: the health exchange fails before any fuzzing: ${before.note}`);

    while (Date.now() - started < budgetMs && report.inputs < options.maxInputs) {
      const batch: Input[] = Array.from({ length: Math.min(options.batch, options.maxInputs - report.inputs) }, () => ({
        connections: [{ messages: mutateSession(protocol.session, random).messages, stepwise: random.below(2) === 0 }],
      }));
      const errorsBefore = target.errors.length;
      const port = target.portOf(protocol);
      await pool(batch, options.concurrency, async (input) => void (report.heldOpen += await sendInput(protocol, port, input)));
      report.inputs += batch.length;
      report.batches++;

      const finding = (await check(target, protocol, errorsBefore)) ?? (await memoryFinding(target, report, options));
      if (!finding) continue;
      log(`  ${protocol.name}: ${finding.kind}: ${finding.note}`);
      await restart();
      const found = finding.kind === 'memory' ? await isolateGrowth(protocol, batch, finding, () => target, restart) : await isolate(protocol, batch, finding, () => target, restart);
      if (found) {
        const file = await saveInput(options.out, protocol.name, found.input, found.finding, options.seed);
        log(`  saved ${path.relative(process.cwd(), file)}`);
        report.findings.push({ finding: found.finding, file });
      } else report.findings.push({ finding });
      if (finding.kind === 'memory' && !found) break; // growth spread over many inputs: nothing to replay, and more of it adds nothing
      await restart();
      report.live.first = 0; // a new process: measure afresh
    }
  } finally {
    await target.stop();
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** Memory after a garbage collection, against the first measurement (taken after the first batch, once the server has warmed up). */
async function memoryFinding(target: TargetProcess, report: Report, options: Options): Promise<Finding | undefined> {
  const { rss, live } = await target.memory();
  if (report.live.first === 0) {
    report.live = { first: live, last: live, max: live };
    report.rss = { first: rss, last: rss, max: rss };
    return undefined;
  }
  report.live = { ...report.live, last: live, max: Math.max(report.live.max, live) };
  report.rss = { ...report.rss, last: rss, max: Math.max(report.rss.max, rss) };
  if (live - report.live.first > options.maxLiveGrowthMb * MB) {
    return { kind: 'memory', note: `live memory (heap and buffers, after gc) grew from ${mb(report.live.first)} to ${mb(live)} (bound: +${options.maxLiveGrowthMb} MB)` };
  }
  if (rss - report.rss.first > options.maxRssGrowthMb * MB) {
    return { kind: 'memory', note: `the resident size grew from ${mb(report.rss.first)} to ${mb(rss)} (bound: +${options.maxRssGrowthMb} MB)` };
  }
  return undefined;
}

/**
 * Which input of the batch did it? Each is sent alone to a fresh server and checked.
 * The first one that does it again is the finding. If none does alone, it takes several
 * connections at once (a race): the batch's connections are halved, sent together to a
 * fresh server, as long as a half still does it, so what is saved is small.
 */
async function isolate(
  protocol: Protocol,
  batch: Input[],
  finding: Finding,
  target: () => TargetProcess,
  restart: () => Promise<void>,
): Promise<{ input: Input; finding: Finding }> {
  const attempt = async (input: Input): Promise<Finding | undefined> => {
    const errorsBefore = target().errors.length;
    await sendInput(protocol, target().portOf(protocol), input);
    const again = await check(target(), protocol, errorsBefore);
    await restart();
    return again;
  };
  for (const input of batch) {
    const again = await attempt(input);
    if (again) return { input, finding: again };
  }
  let together = batch.flatMap((i) => i.connections);
  let seen = finding;
  halving: while (together.length > 1) {
    const middle = Math.ceil(together.length / 2);
    for (const half of [together.slice(0, middle), together.slice(middle)]) {
      const again = await attempt({ connections: half });
      if (again) {
        [together, seen] = [half, again];
        continue halving;
      }
    }
    break;
  }
  return { input: { connections: together }, finding: { ...seen, note: `${seen.note} (not with any input alone: these ${together.length} connections at once)` } };
}

/** Which input of the batch makes live memory grow when sent again and again to a fresh server? Undefined when none does alone. */
async function isolateGrowth(protocol: Protocol, batch: Input[], finding: Finding, target: () => TargetProcess, restart: () => Promise<void>): Promise<{ input: Input; finding: Finding } | undefined> {
  // Sent hundreds of times, a big input is a load test, not a leak test: the small ones are tried.
  for (const input of batch.filter((i) => inputBytes(i) <= 16 * 1024)) {
    const growth = await memoryGrowth(target(), protocol, input, MEMORY_REPEAT);
    if (growth > MEMORY_SLACK) return { input, finding: { kind: 'memory', note: `${finding.note}; this input alone, sent ${MEMORY_REPEAT} times more, grew live memory by ${mb(growth)}` } };
    await restart();
  }
  return undefined;
}

// ---------------------------------------------------------------------------

async function pool<T>(items: readonly T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

const inputBytes = (input: Input): number => input.connections.reduce((n, c) => n + c.messages.reduce((m, b) => m + b.length, 0), 0);

function hashName(name: string): number {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

function parseOptions(argv: string[]): Options {
  const program = new Command('fuzz')
    .description('Random and mutated bytes at each lab server over real sockets on 127.0.0.1; found inputs go to tests/fixtures/fuzz/')
    .option('--seconds <n>', 'time for the whole run, shared among the protocols', '60')
    .option('--quick', `${QUICK_SECONDS} seconds per protocol and a fixed seed (CI)`)
    .option('--protocols <list>', `comma-separated, of: ${PROTOCOLS.map((p) => p.name).join(', ')}`)
    .option('--seed <n>', 'the random seed (default: a new one, printed; --quick: 1)')
    .option('--max-inputs <n>', 'at most this many inputs per protocol', '1000000')
    .option('--batch <n>', 'inputs between two health checks', '16')
    .option('--concurrency <n>', 'inputs sent at once', '8')
    .option('--max-live-growth <mb>', 'growth of live memory (heap and buffers, after gc) that counts as a finding', '64')
    .option('--max-rss-growth <mb>', 'resident size growth that counts as a finding', '512')
    .option('--out <dir>', 'where found inputs are saved', FIXTURES)
    .parse(argv);
  const o = program.opts<Record<string, string | boolean | undefined>>();
  const number = (name: string): number => {
    const value = Number(o[name]);
    if (!Number.isFinite(value) || value <= 0) program.error(`--${name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a positive number, got ${String(o[name])}`);
    return value;
  };
  const quick = o.quick === true;
  const protocols = typeof o.protocols === 'string' ? o.protocols.split(',').map((p) => findProtocol(p.trim()).name) : PROTOCOLS.map((p) => p.name);
  return {
    seconds: quick ? QUICK_SECONDS * protocols.length : number('seconds'),
    quick,
    protocols,
    seed: o.seed !== undefined ? Number(o.seed) >>> 0 : quick ? 1 : Math.floor(Math.random() * 2 ** 32),
    maxInputs: number('maxInputs'),
    batch: number('batch'),
    concurrency: number('concurrency'),
    maxLiveGrowthMb: number('maxLiveGrowth'),
    maxRssGrowthMb: number('maxRssGrowth'),
    out: String(o.out),
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv);
  const log = (line: string): void => void process.stdout.write(line + '\n');
  log(`fuzz: seed ${options.seed}, ${options.seconds} s over ${options.protocols.join(', ')} (repeat with --seed ${options.seed})`);
  const reports: Report[] = [];
  const started = Date.now();
  for (const [i, name] of options.protocols.entries()) {
    // Quick: the same time for each; otherwise what is left, shared among the protocols still to go.
    const budgetMs = options.quick ? QUICK_SECONDS * 1000 : (options.seconds * 1000 - (Date.now() - started)) / (options.protocols.length - i);
    const report = await fuzzProtocol(findProtocol(name), options, Math.max(budgetMs, 500), log);
    reports.push(report);
    log(
      `${report.protocol.padEnd(10)} ${String(report.inputs).padStart(6)} inputs in ${report.seconds.toFixed(1)} s; ` +
        `live ${mb(report.live.first)} -> ${mb(report.live.last)} (max ${mb(report.live.max)}), rss ${mb(report.rss.first)} -> ${mb(report.rss.last)}; ` +
        `${report.heldOpen} held open; ${report.findings.length} finding(s)`,
    );
  }
  const findings = reports.flatMap((r) => r.findings.map((f) => ({ protocol: r.protocol, ...f })));
  const inputs = reports.reduce((n, r) => n + r.inputs, 0);
  log(`fuzz: ${inputs} inputs, ${findings.length} finding(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const f of findings) log(`  ${f.protocol}: ${f.finding.kind}: ${f.finding.note}${f.file ? `\n    saved: ${f.file} (tests/fuzz/replay.test.ts replays it)` : ''}`);
  return findings.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`fuzz: ${err.stack ?? err.message}\n`);
    process.exit(2);
  },
);
