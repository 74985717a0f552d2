import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from './process';
import type { Values } from './figures';

/**
 * The standard load tools, run with bounded counts and times, and their output read
 * into numbers. The parsers are pure (tests/bench/tools.test.ts feeds them real output).
 */

/** The python clients (ftplib, poplib, imaplib), beside this file's source: bench/clients/. */
export const CLIENTS = path.resolve(__dirname, '../../bench/clients');

/** wrk's output: requests per second, latency percentiles (ms), errors. */
export function parseWrk(out: string): Values {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  if (!rps) throw new Error(`no "Requests/sec" in wrk's output:\n${out}`);
  const percentile = (p: number): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'] : NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  return {
    rps: Number(rps[1]),
    p50: percentile(50),
    p99: percentile(99),
    requests: Number(requests?.[1] ?? NaN),
    // Refused or cut connections, timeouts and error statuses: all count as errors.
    errors: (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0) + Number(non2xx?.[1] ?? 0),
  };
}

export async function wrk(url: string, connections: number, seconds: number, headers: string[] = []): Promise<Values> {
  // Two threads (the machine has two cores); never fewer connections than threads.
  const threads = Math.min(2, connections);
  const extra = headers.flatMap((h) => ['-H', h]);
  const { stdout } = await runTool('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', ...extra, url], (seconds + 30) * 1000);
  return parseWrk(stdout);
}

/** dnsperf's summary: queries per second, and how many were lost. */
export function parseDnsperf(out: string): Values {
  const qps = /Queries per second:\s+([\d.]+)/.exec(out);
  if (!qps) throw new Error(`no "Queries per second" in dnsperf's output:\n${out}`);
  const sent = /Queries sent:\s+(\d+)/.exec(out);
  const lost = /Queries lost:\s+(\d+)/.exec(out);
  const latency = /Average Latency \(s\):\s+([\d.]+)/.exec(out);
  return { qps: Number(qps[1]), sent: Number(sent?.[1] ?? NaN), lost: Number(lost?.[1] ?? NaN), latencyMs: Number(latency?.[1] ?? NaN) * 1000 };
}

/** dnsperf with at most 100 queries outstanding (-q100), for `seconds`, over UDP. */
export async function dnsperf(port: number, queryFile: string, seconds: number): Promise<Values> {
  const { stdout } = await runTool('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-q', '100', '-t', '2'], (seconds + 30) * 1000);
  return parseDnsperf(stdout);
}

/**
 * Postfix's smtp-source: `messages` messages from `senders` parallel sessions, a new
 * connection per message unless `keep` (then one connection per sender). smtp-source
 * prints no rate: the rate is messages over its wall-clock time. It stops with an
 * error on any reply it did not expect, so every message counted was answered 250.
 */
export async function smtpSource(port: number, options: { messages: number; senders: number; keep: boolean; timeoutMs: number }): Promise<Values> {
  const args = ['-s', String(options.senders), '-m', String(options.messages), '-f', 'alice@lab.test', '-t', 'bob@lab.test', '-M', 'client.lab.test'];
  if (options.keep) args.push('-d');
  const { seconds, stderr } = await runTool('smtp-source', [...args, `127.0.0.1:${port}`], options.timeoutMs);
  if (/fatal|error/i.test(stderr)) throw new Error(`smtp-source reported: ${stderr}`);
  return { msgs: options.messages / seconds, seconds };
}

/** One of bench/clients/*.py: it prints one line of JSON, the numbers of its run. */
export async function python(client: string, args: (string | number)[], timeoutMs: number): Promise<Values> {
  const { stdout } = await runTool('python3', [path.join(CLIENTS, client), ...args.map(String)], timeoutMs);
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Values;
  } catch {
    throw new Error(`${client} printed no JSON result:\n${stdout}`);
  }
}

/**
 * OpenSSH's sftp in batch mode with a key: the session's wall-clock time (key exchange
 * and login included, the same for both servers).
 */
export async function sftpBatch(options: { port: number; user: string; key: string; commands: string[]; timeoutMs: number }): Promise<number> {
  const batch = path.join(path.dirname(options.key), `batch-${process.hrtime.bigint()}`);
  await writeFile(batch, options.commands.join('\n') + '\n');
  try {
    const { seconds } = await runTool(
      'sftp',
      ['-q', '-b', batch, '-i', options.key, '-P', String(options.port),
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
        `${options.user}@127.0.0.1`],
      options.timeoutMs,
    );
    return seconds;
  } finally {
    await rm(batch, { force: true });
  }
}
