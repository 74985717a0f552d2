/**
 * Test helpers for the SMTP service: a real SmtpServer on 127.0.0.1, port 0, with a
 * temp data directory, and real clients to talk to it: swaks, Python's smtplib, and a
 * raw socket for what well-behaved clients refuse to send. No mocks, no sleeps: every
 * wait is for an event (a reply, a log line, a file), with a bound.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { LabDialer } from '../../services/common/dialer';
import type { Endpoint } from '../../services/common/dnsClient';
import { createLogger, type LogSink } from '../../services/common/logger';
import { Maildir, maildirPath } from '../../services/common/maildir';
import { SmtpServer, type SmtpServerOptions } from '../../services/smtp/server';

export const REPO = path.resolve(__dirname, '../..');
export const LAB = path.join(REPO, 'lab');
export const SWAKS = '/usr/bin/swaks';

export function tempDir(prefix = 'wirelab-smtp-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Resolve with `promise`, or reject after `ms` naming what did not happen. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Collects log lines; tests wait for lines instead of sleeping. */
export class LogCollector {
  readonly lines: string[] = [];
  private waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  readonly sink: LogSink = (line) => {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(line)) return true;
      w.resolve(line);
      return false;
    });
  };

  /** The first line (already written or still to come) that matches, within `ms`. */
  waitFor(pattern: RegExp, ms = 15000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return within(new Promise<string>((resolve) => this.waiters.push({ test: (l) => pattern.test(l), resolve })), ms, `a log line matching ${pattern}`);
  }

  /** Resolves once `count` lines match `pattern` (counting those already written), within `ms`. */
  waitForCount(pattern: RegExp, count: number, ms = 15000): Promise<void> {
    const matching = (): number => this.lines.filter((l) => pattern.test(l)).length;
    if (matching() >= count) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.waiters.push({ test: (l) => pattern.test(l) && matching() >= count, resolve: () => resolve() })), ms, `${count} log lines matching ${pattern}`);
  }

  /** The `wire` lines, as `kind proto from -> to: summary`. */
  wire(): string[] {
    return this.lines
      .filter((l) => / wire kind=/.test(l))
      .map((l) => {
        const f = (name: string): string => {
          const m = new RegExp(` ${name}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`).exec(l);
          return m ? (m[1]!.startsWith('"') ? (JSON.parse(m[1]!) as string) : m[1]!) : '';
        };
        return `${f('kind')} ${f('proto')} ${f('from')} -> ${f('to')}: ${f('summary')}`;
      });
  }
}

export interface RunningSmtp {
  server: SmtpServer;
  smtp: number;
  submission: number;
  dataDir: string;
  logs: LogCollector;
  stop(): Promise<void>;
}

/** An SmtpServer for lab.test (or options.domain) with the lab's users, on free ports of 127.0.0.1. */
export async function startSmtp(options: Omit<SmtpServerOptions, 'dataDir'> = {}, dataDir?: string, ports: { smtp?: number; submission?: number } = { smtp: 0, submission: 0 }): Promise<RunningSmtp> {
  const data = dataDir ?? (await tempDir());
  const logs = new LogCollector();
  const server = await SmtpServer.fromLab(LAB, data, { log: createLogger('smtp', { sink: logs.sink, level: 'debug' }), ...options });
  const bound = await server.listen(ports, '127.0.0.1');
  return {
    server,
    smtp: bound.smtp?.port ?? 0,
    submission: bound.submission?.port ?? 0,
    dataDir: data,
    logs,
    stop: () => server.close(),
  };
}

/** A good delivery on port 25 after a bad case: the server is still serving. */
export async function stillServes(s: RunningSmtp, domain = 'lab.test', user = 'bob'): Promise<void> {
  const before = (await inbox(s.dataDir, domain, user)).length;
  const result = await swaks(s.smtp, '--to', `${user}@${domain}`, '--from', 'check@example.test', '--header', 'Subject: still serving');
  if (!/<- {2}250 2\.0\.0 Ok: delivered as/.test(result.stdout)) throw new Error(`the server no longer delivers:\n${result.stdout}${result.stderr}`);
  const after = (await inbox(s.dataDir, domain, user)).length;
  if (after !== before + 1) throw new Error(`expected ${before + 1} messages for ${user}, found ${after}`);
}

/** The messages in a user's Maildir (new/ and cur/), in delivery order (Maildir.list()). */
export async function inbox(dataDir: string, domain: string, user: string): Promise<string[]> {
  const maildir = new Maildir(maildirPath(dataDir, domain, user));
  const messages = await maildir.list();
  return Promise.all(messages.map(async (m) => (await maildir.read(m)).toString('latin1')));
}

/** Poll a Maildir until it holds `count` messages (a file appearing has no event to wait on). */
export async function waitForInbox(dataDir: string, domain: string, user: string, count = 1, ms = 15000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const messages = await inbox(dataDir, domain, user);
    if (messages.length >= count) return messages;
    if (Date.now() > deadline) throw new Error(`${user}@${domain} has ${messages.length} messages, expected ${count}, after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'latin1', timeout: 30000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run the real swaks against 127.0.0.1:port. Its transcript (`<~ 250 ...`) is on stdout. */
export function swaks(port: number, ...args: string[]): Promise<Run> {
  return run(SWAKS, ['--server', `127.0.0.1:${port}`, '--helo', 'client.lab.test', '--timeout', '20', ...args]);
}

/** Run a Python script (with smtplib) with arguments; it prints what the test checks. */
export function python(script: string, ...args: string[]): Promise<Run> {
  return run('python3', ['-c', script, ...args]);
}

/**
 * Python's smtplib sends one message and prints the outcome as JSON:
 * `{"ok": true, "refused": {...}}` or `{"error": "SMTPRecipientsRefused", "code": 550, "text": "..."}`.
 * argv: port from to(comma-separated) user password subject body
 */
export const SMTPLIB_SEND = `
import json, smtplib, sys
from email.message import EmailMessage
port, sender, to, user, password, subject, body = sys.argv[1:8]
msg = EmailMessage()
msg['From'] = sender
msg['To'] = to
msg['Subject'] = subject
msg.set_content(body)
try:
    with smtplib.SMTP('127.0.0.1', int(port), local_hostname='pyclient.lab.test', timeout=20) as s:
        if user:
            s.login(user, password)
        refused = s.send_message(msg, from_addr=sender, to_addrs=to.split(','))
        print(json.dumps({'ok': True, 'refused': {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
except smtplib.SMTPRecipientsRefused as e:
    print(json.dumps({'error': 'SMTPRecipientsRefused', 'refused': {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}}))
except smtplib.SMTPResponseException as e:
    print(json.dumps({'error': type(e).__name__, 'code': e.smtp_code, 'text': e.smtp_error.decode()}))
`;

export interface SmtplibResult {
  ok?: boolean;
  error?: string;
  code?: number;
  text?: string;
  refused?: Record<string, [number, string]>;
}

export async function smtplibSend(port: number, from: string, to: string, options: { user?: string; password?: string; subject?: string; body?: string } = {}): Promise<SmtplibResult> {
  const result = await python(SMTPLIB_SEND, String(port), from, to, options.user ?? '', options.password ?? '', options.subject ?? 'Hello', options.body ?? 'Hello from smtplib.');
  if (result.code !== 0) throw new Error(`python failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as SmtplibResult;
}

/**
 * A raw TCP client: write exactly the bytes a test wants, and wait for the server's
 * replies. Everything received is kept in `text`; expect() reads on from where the
 * last expect() matched.
 */
export class RawClient {
  text = '';
  closed = false;
  private at = 0;
  private notify?: () => void;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.notify?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify?.();
    });
    socket.on('error', () => {});
  }

  /** `from`: the local address to connect from (another loopback address is another client). */
  static connect(port: number, host = '127.0.0.1', from?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress: from });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Wait for a complete reply line matching `pattern` after what earlier expect()s consumed; resolves with that line. */
  expect(pattern: RegExp, ms = 10000): Promise<string> {
    return within(
      new Promise<string>((resolve, reject) => {
        const look = (): void => {
          const rest = this.text.slice(this.at);
          const lines = rest.split('\r\n');
          let offset = 0;
          for (const line of lines.slice(0, -1)) {
            offset += line.length + 2;
            if (pattern.test(line)) {
              this.at += offset;
              this.notify = undefined;
              return resolve(line);
            }
          }
          if (this.closed) {
            this.notify = undefined;
            reject(new Error(`connection closed without a line matching ${pattern}; received: ${JSON.stringify(this.text)}`));
          }
        };
        this.notify = look;
        look();
      }),
      ms,
      `a reply matching ${pattern} (received so far: ${JSON.stringify(this.text.slice(-300))})`,
    );
  }

  /** Resolves when the server has closed the connection. */
  waitClosed(ms = 10000): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        if (this.closed) return resolve();
        this.socket.once('close', () => resolve());
      }),
      ms,
      'the server to close the connection',
    );
  }

  /** Send a command line (CRLF added) and wait for the final line of its reply (`250 ...`, not `250-...`). */
  async command(line: string, ms?: number): Promise<string> {
    this.write(`${line}\r\n`);
    return this.expect(/^\d{3}(?: |$)/, ms);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A port that was free a moment ago (for a server that starts later, or a process under test). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A dialer for tests: the lab DNS at `dns`, and lab addresses routed to loopback
 * ports (`172.28.0.26:25` -> `127.0.0.1:<example.test's port>`). Anything else throws,
 * as a real dialer does: a test never sends traffic off this machine.
 */
export function loopbackDialer(dns: Endpoint, routes: Record<string, number>): LabDialer {
  return {
    dns: () => dns,
    route(address, port) {
      const to = routes[`${address}:${port}`];
      if (to === undefined) throw new Error(`${address}:${port} is not routed in this test`);
      return { host: '127.0.0.1', port: to };
    },
  };
}
