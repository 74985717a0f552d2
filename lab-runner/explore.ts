import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NetworkBackend } from './backends/network-backend';
import { dnsOf, labWithDns, networkOf, readLabFile, runningLabs, standardLab } from './backends/running';
import type { Backend } from './backends/types';
import { dnsExecutor, type DnsOutput } from './executors/dns';
import { ftpExecutor, type FtpOutput } from './executors/ftp';
import { httpExecutor } from './executors/http';
import { pop3Executor, type Pop3Output } from './executors/pop3';
import { sftpExecutor, type SftpOutput } from './executors/sftp';
import { smtpExecutor, type SmtpOutput } from './executors/smtp';
import type { ExecContext, Executor, StepOutput } from './executors/types';
import { colorsFor } from './report/colors';
import { formatTranscript } from './report/transcript';
import { KeylogFile } from './tls/keylog';
import { CLIENT, splitHostPort, StepError, Wire, type LabNetwork } from './wire';
import { defaultLabDir } from '../services/common/paths';

/**
 * `wirelab dns`, `http`, `smtp`, `pop3`, `ftp`, `sftp`: the scenario executors used by
 * hand against a running lab (`wirelab up`, or Docker's published ports), printing the
 * exchange.
 *
 * Which lab: the one `wirelab up` started on this machine (backends/running.ts says
 * where its services really listen, free ports included); `--dns HOST:PORT` picks the
 * lab whose DNS is there; `--lab-ports FILE` names a lab's file. With no lab started by
 * `wirelab up`, the standard ports (5353, 8080, ...: Docker's published ports too). An
 * explorer never guesses: given a DNS that belongs to no known lab, it asks that DNS, and
 * says what to pass for anything else.
 *
 * Exit status: 0 when the server did what was asked, 1 when it refused or did not answer
 * (NXDOMAIN, an HTTP 4xx or 5xx, a refused login or recipient, a failed file action),
 * 2 when the command line is wrong or where the lab listens is not known.
 */

const EXPLORE_TIMEOUT_MS = 10000;

/** Which lab to explore: `--dns HOST:PORT`, `--lab-ports FILE`, or neither; and `--keylog FILE` for its TLS sessions. */
export interface LabOptions {
  dns?: string;
  labPorts?: string;
  keylog?: string;
}

/** What the TLS explorers take besides their own options: whom to trust (`--cacert`), `--insecure`. */
export interface TlsOptions {
  cacert?: string;
  insecure?: boolean;
}

/** The executors' `tls:` settings from `--cacert` and `--insecure` (curl's names). */
function tlsSettings(opts: TlsOptions): { ca?: string; insecure?: boolean } {
  return { ...(opts.cacert ? { ca: opts.cacert } : {}), ...(opts.insecure ? { insecure: true } : {}) };
}

/** A `--port` given, or the executor's default (which depends on TLS: 465, 995, 990). */
const portOption = (port: string | undefined): { port?: number } => (port === undefined ? {} : { port: Number(port) });

/** The explorer cannot start: exit 2 with this message. */
class ExploreUsageError extends Error {}

/** The lab to talk to, and a line saying which it is when that is not the obvious one. */
export function findLab(options: LabOptions): { network: LabNetwork; says?: string } {
  // Inside the lab network (the client container) addresses and ports are the real ones.
  if (process.env.WIRELAB_BACKEND === 'network') return { network: new NetworkBackend(defaultLabDir()).network() };
  if (options.labPorts) {
    try {
      return { network: networkOf(readLabFile(options.labPorts)) };
    } catch (err) {
      throw new ExploreUsageError(`--lab-ports: ${(err as Error).message}`);
    }
  }
  const standard = standardLab();
  if (options.dns) {
    const lab = labWithDns(options.dns);
    if (lab) return { network: networkOf(lab) };
    const [host, port] = splitHostPort(options.dns, 53);
    if (`127.0.0.1:${port}` === dnsOf(standard) && (host === '127.0.0.1' || host === 'localhost')) return { network: networkOf(standard) };
    // Only the DNS is known: ask it, and route nothing else by guesswork (another lab may hold the standard ports).
    const unrouted =
      `no lab that \`wirelab up\` started on this machine has its DNS at ${options.dns}, so where its other services listen is unknown. ` +
      `Pass --lab-ports FILE (the file \`wirelab up\` prints), or the server's own address (http://127.0.0.1:PORT/..., --host 127.0.0.1 --port PORT).`;
    return { network: networkOf({ services: { dns: { dns: `${host}:${port}` } } }, unrouted) };
  }
  const labs = runningLabs();
  if (labs.length === 1) return { network: networkOf(labs[0]!), says: `lab: the one \`wirelab up\` started, DNS ${dnsOf(labs[0]!)} (${labs[0]!.file})` };
  if (labs.length > 1) {
    // Which lab is meant matters only for lab names: an address on this machine (http://127.0.0.1:PORT/) still works.
    const choose = `${labs.length} labs started by \`wirelab up\` are running here; choose one with --dns:\n${labs.map((l) => `  --dns ${dnsOf(l)}   (pid ${l.pid}, data ${l.dataDir})`).join('\n')}`;
    return { network: networkOf({ services: {} }, choose) };
  }
  return { network: networkOf(standard) };
}

/**
 * Run one exploration: find the lab, run the exchange, print the transcript and what
 * came back, and say whether the server did what was asked (`verdict`: why not, or
 * undefined). Returns the exit status.
 */
async function explore<O extends StepOutput>(
  lab: LabOptions,
  raw: boolean,
  exchange: (ctx: ExecContext) => Promise<O>,
  verdict: (output: O) => string | undefined,
  show?: (output: O) => string,
): Promise<number> {
  const c = colorsFor(process.stdout);
  let network: LabNetwork;
  try {
    const found = findLab(lab);
    network = found.network;
    if (found.says) process.stderr.write(c.dim(found.says) + '\n');
  } catch (err) {
    if (!(err instanceof ExploreUsageError)) throw err;
    process.stderr.write(`wirelab: ${err.message}\n`);
    return 2;
  }
  const wire = new Wire();
  const ctx: ExecContext = {
    network,
    backend: noBackend,
    wire,
    signal: AbortSignal.timeout(EXPLORE_TIMEOUT_MS),
    ...(lab.keylog ? { keylog: new KeylogFile(lab.keylog) } : {}),
    // A person at their own mailbox: `--delete` deletes what they retrieve (executors/pop3).
    session: { resources: new Map(), ownsMailbox: true },
  };
  try {
    const output = await exchange(ctx);
    console.log(formatTranscript(wire.events, c, { raw }));
    if (show) console.log(show(output));
    const failed = verdict(output);
    if (!failed) return 0;
    process.stderr.write(`wirelab: ${failed}\n`);
    return 1;
  } catch (err) {
    if (err instanceof ExploreUsageError) {
      process.stderr.write(`wirelab: ${err.message}\n`);
      return 2;
    }
    if (wire.events.length) console.log(formatTranscript(wire.events, c, { raw }));
    const message = err instanceof StepError ? err.message : String(err);
    const code = (err as StepError).code ?? '';
    const hint = /ETIMEDOUT|ECONNREFUSED/.test(code) ? `\nIs the lab running? Start it with \`npx wirelab up\`.` : '';
    process.stderr.write(`wirelab: ${message}${hint}\n`);
    return code === 'ENOROUTE' ? 2 : 1;
  }
}

/** An executor's input, checked as a scenario's would be: a mistake is a usage error. */
function inputFor<I>(executor: Executor<I>, input: unknown): I {
  const parsed = executor.schema.safeParse(input);
  if (!parsed.success) throw new ExploreUsageError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

/** Run an executor with its input checked first. */
const run = <I, O extends StepOutput>(executor: Executor<I, O>, input: unknown) => (ctx: ExecContext): Promise<O> => executor.run(inputFor(executor, input), ctx);

export function exploreDns(name: string, type: string, opts: { server?: string; tcp?: boolean; norec?: boolean; raw?: boolean; labPorts?: string }): Promise<number> {
  const input = { query: name, type, transport: opts.tcp ? 'tcp' : 'udp', recursion: !opts.norec };
  return explore(
    { dns: opts.server, labPorts: opts.labPorts },
    Boolean(opts.raw),
    async (ctx) => {
      const answer = await run(dnsExecutor, input)(ctx);
      if (answer.transport !== 'udp' || !answer.flags.tc) return answer;
      // RFC 1035 4.2.1, RFC 7766: a truncated UDP answer is asked again over TCP, as dig and every resolver do.
      ctx.wire.record({ kind: 'note', protocol: 'dns', from: CLIENT, to: answer.server, summary: 'the answer came back truncated (TC): asking again over TCP, as dig does' });
      return run(dnsExecutor, { ...input, transport: 'tcp' })(ctx);
    },
    (answer: DnsOutput) => (answer.rcode === 'NOERROR' ? undefined : `the server answered ${answer.rcode}`),
  );
}

export function exploreHttp(
  url: string,
  opts: { method: string; header?: string[]; data?: string; json?: string; follow?: boolean; dns?: string; labPorts?: string; raw?: boolean } & LabOptions & TlsOptions,
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
  const input = { url, method: opts.method, headers, body: opts.data, json, follow: Boolean(opts.follow), tls: tlsSettings(opts) };
  // A status of 400 or more is the server saying no: curl --fail's rule.
  return explore(opts, Boolean(opts.raw), run(httpExecutor, input), (r) => (r.status < 400 ? undefined : `the server answered ${r.status} ${r.reason}`));
}

export function exploreSmtp(opts: LabOptions & TlsOptions & {
  host: string;
  port?: string;
  starttls?: boolean;
  tls?: boolean;
  from: string;
  to: string[];
  subject?: string;
  body?: string;
  user?: string;
  password?: string;
  login?: boolean;
  dns?: string;
  labPorts?: string;
  raw?: boolean;
}): Promise<number> {
  const auth = opts.user ? { user: opts.user, password: opts.password ?? '', mechanism: opts.login ? 'LOGIN' : 'PLAIN' } : undefined;
  const tls = { ...tlsSettings(opts), ...(opts.tls ? { mode: 'implicit' } : {}) };
  const input = { host: opts.host, ...portOption(opts.port), from: opts.from, to: opts.to, subject: opts.subject, body: opts.body ?? '', auth, starttls: opts.starttls ? 'required' : false, tls };
  return explore(opts, Boolean(opts.raw), run(smtpExecutor, input), smtpVerdict);
}

/** The mail was taken for every recipient; else the reply that said no. */
function smtpVerdict(r: SmtpOutput): string | undefined {
  const said = (reply: { code: number; text: string } | undefined): string => (reply ? `${reply.code} ${reply.text}` : 'no reply');
  if (r.auth && r.auth.code !== 235) return `the login was refused: ${r.auth.code} ${r.auth.text}`;
  if (r.mail && r.mail.code >= 400) return `MAIL FROM was refused: ${said(r.mail)}`;
  const refused = (r.rcpt ?? []).filter((x) => x.code >= 400);
  if (refused.length) return `${refused.map((x) => `RCPT TO:<${x.to}> was refused: ${x.code} ${x.text}`).join('; ')}${r.sent ? ' (the others got the message)' : ''}`;
  if (!r.sent) return `the message was not taken: ${said(r.data ?? r.replies[r.replies.length - 1])}`;
  return undefined;
}

export function explorePop3(opts: LabOptions & TlsOptions & {
  host: string;
  port?: string;
  stls?: boolean;
  tls?: boolean;
  user: string;
  password: string;
  retrieve: string;
  delete?: boolean;
  dns?: string;
  labPorts?: string;
  raw?: boolean;
}): Promise<number> {
  const retrieve = /^\d+$/.test(opts.retrieve) ? Number(opts.retrieve) : opts.retrieve;
  const tls = { ...tlsSettings(opts), ...(opts.tls ? { mode: 'implicit' } : {}) };
  const input = { host: opts.host, ...portOption(opts.port), user: opts.user, password: opts.password, retrieve, delete: opts.delete ? 'retrieved' : 'none', stls: opts.stls ? 'required' : false, tls };
  return explore(opts, Boolean(opts.raw), run(pop3Executor, input), (r: Pop3Output) => {
    if (!r.loggedIn) return `the login was refused: -ERR ${r.login?.text ?? ''}`.trimEnd();
    const missing = (r.retrieved ?? []).filter((m) => 'ok' in m);
    if (missing.length) return missing.map((m) => `RETR ${m.number} was refused: -ERR ${m.text}`).join('; ');
    const wanted = opts.delete ? (r.retrieved ?? []).length : 0;
    if ((r.deleted ?? []).length < wanted) return `DELE was refused for ${wanted - (r.deleted ?? []).length} message(s)`;
    if (r.quit && !r.quit.ok) return `QUIT was refused: -ERR ${r.quit.text}`;
    return undefined;
  });
}

export interface FileOptions extends LabOptions {
  host: string;
  port?: string;
  user: string;
  password?: string;
  list?: string[];
  get?: string[];
  put?: string[];
  dns?: string;
  labPorts?: string;
  raw?: boolean;
}

/** --list/--get/--put as executor actions; --put LOCAL uploads to LOCAL's base name, --put LOCAL:REMOTE to REMOTE. */
function fileActions(opts: FileOptions): unknown[] {
  const uploads = (opts.put ?? []).map((spec) => {
    const [local, remote] = spec.includes(':') ? spec.split(/:(.*)/s) : [spec, path.basename(spec)];
    let content: string;
    try {
      content = readFileSync(local!, 'utf8');
    } catch (err) {
      throw new ExploreUsageError(`--put ${spec}: cannot read ${local}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { upload: { path: remote!, content } };
  });
  return [...uploads, ...(opts.list ?? []).map((p) => ({ list: p })), ...(opts.get ?? []).map((p) => ({ download: p }))];
}

type FileResult = NonNullable<FtpOutput['results'] | SftpOutput['results']>[number];

/** A reply code and its text, the code once: `550 No such file`. */
const codeAndText = (code: unknown, text: unknown): string => [code, text].filter((x) => x !== undefined && x !== '').join(' ');

/** What the transfers brought back: listings and downloaded files, after the transcript. */
function showResults(results: FileResult[] | undefined): string {
  const lines: string[] = [];
  for (const r of results ?? []) {
    if (!r.ok) lines.push(`${r.action}: failed ${codeAndText(r.code, r.text)}`);
    else if (r.listing) for (const e of r.listing) lines.push(`${e.type.padEnd(4)} ${String(e.size).padStart(8)}  ${e.name}`);
    else if (r.content !== undefined) lines.push(r.content);
    else lines.push(`${r.action}: ok`);
  }
  return lines.join('\n');
}

/** Every file action did what it was asked; else which did not (what the server said is on the lines above). */
function fileVerdict(results: FileResult[] | undefined): string | undefined {
  const all = results ?? [];
  const failed = all.filter((r) => !r.ok);
  return failed.length ? `${failed.length} of ${all.length} action(s) failed: ${failed.map((r) => r.action).join(', ')}` : undefined;
}

export function exploreFtp(opts: FileOptions & TlsOptions & { active?: boolean; command?: string; tls?: 'explicit' | 'implicit' }): Promise<number> {
  return explore(
    opts,
    Boolean(opts.raw),
    (ctx) => {
      const tls = { ...tlsSettings(opts), ...(opts.tls ? { mode: opts.tls } : {}) };
      const input = { host: opts.host, ...portOption(opts.port), user: opts.user, password: opts.password ?? 'student@lab.test', mode: opts.active ? 'active' : 'passive', command: opts.command ?? 'auto', actions: fileActions(opts), tls };
      return run(ftpExecutor, input)(ctx);
    },
    (r) => (r.loggedIn ? fileVerdict(r.results) : `the login was refused: ${codeAndText(r.login?.code, r.login?.text)}`),
    (r) => showResults(r.results),
  );
}

export function exploreSftp(opts: FileOptions & { key?: string }): Promise<number> {
  return explore(
    opts,
    Boolean(opts.raw),
    (ctx) => {
      const input = { host: opts.host, port: Number(opts.port ?? 22), user: opts.user, ...(opts.key ? { key: opts.key } : { password: opts.password }), actions: fileActions(opts) };
      return run(sftpExecutor, input)(ctx);
    },
    (r) => (r.authenticated ? fileVerdict(r.results) : `the login was refused: ${r.error ?? ''}`.trimEnd()),
    (r) => `host key: ${r.hostKey ? `${r.hostKey.algorithm} ${r.hostKey.fingerprint}` : 'none'}\n${showResults(r.results)}`,
  );
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
