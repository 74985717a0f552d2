import { standardEmbeddedNetwork } from './backends/embedded';
import { NetworkBackend } from './backends/network-backend';
import { dnsExecutor } from './executors/dns';
import { httpExecutor } from './executors/http';
import { smtpExecutor } from './executors/smtp';
import { pop3Executor } from './executors/pop3';
import { ftpExecutor } from './executors/ftp';
import { sftpExecutor } from './executors/sftp';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ExecContext, Executor, StepOutput } from './executors/types';
import { splitHostPort, StepError, Wire } from './wire';
import type { Backend } from './backends/types';
import { colorsFor } from './report/colors';
import { defaultLabDir } from '../services/common/paths';
import { formatTranscript } from './report/transcript';

/**
 * `wirelab dns` and `wirelab http`: the scenario executors used by hand against a
 * running lab (`wirelab up`, or Docker's published ports), printing the exchange.
 */

const EXPLORE_TIMEOUT_MS = 10000;

async function explore<I>(executor: Executor<I>, input: unknown, dns: string, raw: boolean, show?: (output: StepOutput) => string): Promise<number> {
  const c = colorsFor(process.stdout);
  const [host, port] = splitHostPort(dns, 53);
  // Inside the lab network (the client container) addresses and ports are the real ones;
  // on the host, lab addresses lead to the embedded lab's (or Docker's published) ports.
  const network = process.env.WIRELAB_BACKEND === 'network' ? new NetworkBackend(defaultLabDir()).network() : standardEmbeddedNetwork({ host, port });
  const wire = new Wire();
  const parsed = executor.schema.safeParse(input);
  if (!parsed.success) {
    process.stderr.write(`wirelab: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    return 2;
  }
  const ctx: ExecContext = {
    network,
    backend: noBackend,
    wire,
    signal: AbortSignal.timeout(EXPLORE_TIMEOUT_MS),
    session: { resources: new Map() },
  };
  try {
    const output = await executor.run(parsed.data, ctx);
    console.log(formatTranscript(wire.events, c, { raw }));
    if (show) console.log(show(output));
    return 0;
  } catch (err) {
    if (wire.events.length) console.log(formatTranscript(wire.events, c, { raw }));
    const message = err instanceof StepError ? err.message : String(err);
    const hint = /ETIMEDOUT|ECONNREFUSED/.test((err as StepError).code ?? '') ? `\nIs the lab running? Start it with \`npx wirelab up\`.` : '';
    process.stderr.write(`wirelab: ${message}${hint}\n`);
    return 1;
  }
}

export function exploreDns(name: string, type: string, opts: { server: string; tcp?: boolean; norec?: boolean; raw?: boolean }): Promise<number> {
  const input = { query: name, type, transport: opts.tcp ? 'tcp' : 'udp', recursion: !opts.norec };
  return explore(dnsExecutor, input, opts.server, Boolean(opts.raw));
}

export function exploreHttp(
  url: string,
  opts: { method: string; header?: string[]; data?: string; json?: string; follow?: boolean; dns: string; raw?: boolean },
): Promise<number> {
  const headers = Object.fromEntries(
    (opts.header ?? []).map((h) => {
      const colon = h.indexOf(':');
      return colon > 0 ? [h.slice(0, colon).trim(), h.slice(colon + 1).trim()] : [h, ''];
    }),
  );
  let json: unknown;
  if (opts.json !== undefined) {
    try {
      json = JSON.parse(opts.json);
    } catch {
      process.stderr.write(`wirelab: --json is not valid JSON: ${opts.json}\n`);
      return Promise.resolve(2);
    }
  }
  const input = { url, method: opts.method, headers, body: opts.data, json, follow: Boolean(opts.follow) };
  return explore(httpExecutor, input, opts.dns, Boolean(opts.raw));
}

export function exploreSmtp(opts: {
  host: string;
  port: string;
  from: string;
  to: string[];
  subject?: string;
  body?: string;
  user?: string;
  password?: string;
  login?: boolean;
  dns: string;
  raw?: boolean;
}): Promise<number> {
  const auth = opts.user ? { user: opts.user, password: opts.password ?? '', mechanism: opts.login ? 'LOGIN' : 'PLAIN' } : undefined;
  const input = { host: opts.host, port: Number(opts.port), from: opts.from, to: opts.to, subject: opts.subject, body: opts.body ?? '', auth };
  return explore(smtpExecutor, input, opts.dns, Boolean(opts.raw));
}

export function explorePop3(opts: { host: string; port: string; user: string; password: string; retrieve: string; delete?: boolean; dns: string; raw?: boolean }): Promise<number> {
  const retrieve = /^\d+$/.test(opts.retrieve) ? Number(opts.retrieve) : opts.retrieve;
  const input = { host: opts.host, port: Number(opts.port), user: opts.user, password: opts.password, retrieve, delete: opts.delete ? 'retrieved' : 'none' };
  return explore(pop3Executor, input, opts.dns, Boolean(opts.raw));
}

export interface FileOptions {
  host: string;
  port: string;
  user: string;
  password?: string;
  list?: string[];
  get?: string[];
  put?: string[];
  dns: string;
  raw?: boolean;
}

/** --list/--get/--put as executor actions; --put LOCAL uploads to LOCAL's base name, --put LOCAL:REMOTE to REMOTE. */
function fileActions(opts: FileOptions): unknown[] {
  const uploads = (opts.put ?? []).map((spec) => {
    const [local, remote] = spec.includes(':') ? spec.split(/:(.*)/s) : [spec, path.basename(spec)];
    return { upload: { path: remote!, content: readFileSync(local!, 'utf8') } };
  });
  return [...uploads, ...(opts.list ?? []).map((p) => ({ list: p })), ...(opts.get ?? []).map((p) => ({ download: p }))];
}

/** What the transfers brought back: listings and downloaded files, after the transcript. */
function showResults(output: StepOutput): string {
  const lines: string[] = [];
  if (output.loggedIn === false || output.authenticated === false) lines.push(`login refused: ${JSON.stringify(output.login ?? output.error)}`);
  for (const r of (output.results as StepOutput[] | undefined) ?? []) {
    if (!r.ok) lines.push(`${r.action}: failed ${r.code ?? ''} ${r.text ?? ''}`);
    else if (r.listing) for (const e of r.listing as { name: string; size: number; type: string }[]) lines.push(`${e.type.padEnd(4)} ${String(e.size).padStart(8)}  ${e.name}`);
    else if (r.content !== undefined) lines.push(String(r.content));
    else lines.push(`${r.action}: ok`);
  }
  return lines.join('\n');
}

export function exploreFtp(opts: FileOptions & { active?: boolean; command?: string }): Promise<number> {
  const input = { host: opts.host, port: Number(opts.port), user: opts.user, password: opts.password ?? 'student@lab.test', mode: opts.active ? 'active' : 'passive', command: opts.command ?? 'auto', actions: fileActions(opts) };
  return explore(ftpExecutor, input, opts.dns, Boolean(opts.raw), showResults);
}

export function exploreSftp(opts: FileOptions & { key?: string }): Promise<number> {
  const input = { host: opts.host, port: Number(opts.port), user: opts.user, ...(opts.key ? { key: opts.key } : { password: opts.password }), actions: fileActions(opts) };
  return explore(sftpExecutor, input, opts.dns, Boolean(opts.raw), (o) => `host key: ${JSON.stringify(o.hostKey)}\n${showResults(o)}`);
}

/** Exploring clients act on no stack: a `lab` step makes no sense here. */
const noBackend: Backend = {
  name: 'none',
  labDir: defaultLabDir(),
  start: async () => {},
  stop: async () => {},
  network: () => {
    throw new Error('no backend');
  },
  control: async () => {
    throw new Error('the exploring clients cannot control the lab');
  },
  status: () => [],
  logs: () => [],
};
