/**
 * Test helpers for the SMTP service: a real SmtpServer on 127.0.0.1, port 0, with a
 * temp data directory, and real clients to talk to it: swaks, Python's smtplib, and a
 * raw socket for what well-behaved clients refuse to send. No mocks, no sleeps: every
 * wait is for an event (a reply, a log line, a file), with a bound.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { caCertificateFile } from '../../../services/common/certificates';
import type { LabDialer } from '../../../services/common/dialer';
import type { Endpoint } from '../../../services/common/dnsClient';
import { createLogger } from '../../../services/common/logger';
import { Maildir, maildirPath } from '../../../services/common/maildir';
import { ServiceTls } from '../../../services/common/tls';
import { SmtpServer, type SmtpPort, type SmtpServerOptions } from '../../../services/smtp/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { run, type RunResult } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { poll, type WaitOptions } from '../../helpers/wait';

export const SWAKS = '/usr/bin/swaks';

export function tempDir(prefix = 'wirelab-smtp-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** The `wire` lines a server logged (logWire), as `kind proto from -> to: summary`. */
export function wireSummaries(logs: LogCollector): string[] {
  return logs.wire().map((f) => `${f.kind} ${f.proto} ${f.from} -> ${f.to}: ${f.summary}`);
}

export interface RunningSmtp {
  server: SmtpServer;
  smtp: number;
  submission: number;
  /** 465, when the server was started with TLS and this port. */
  smtps: number;
  dataDir: string;
  logs: LogCollector;
  stop(): Promise<void>;
}

/** An SmtpServer for lab.test (or options.domain) with the lab's users, on free ports of 127.0.0.1. */
export async function startSmtp(
  options: Omit<SmtpServerOptions, 'dataDir'> = {},
  dataDir?: string,
  ports: Partial<Record<SmtpPort, number>> = { smtp: 0, submission: 0 },
  logs = new LogCollector(),
): Promise<RunningSmtp> {
  const data = dataDir ?? (await tempDir());
  const server = await SmtpServer.fromLab(LAB_DIR, data, { log: createLogger('smtp', { sink: logs.sink, level: 'debug' }), ...options });
  const bound = await server.listen(ports, '127.0.0.1');
  return {
    server,
    smtp: bound.smtp?.port ?? 0,
    submission: bound.submission?.port ?? 0,
    smtps: bound.smtps?.port ?? 0,
    dataDir: data,
    logs,
    stop: () => server.close(),
  };
}

/**
 * The same, with TLS from a lab CA made in its data directory (as the lab's mail servers
 * have it): STARTTLS on 25 and 587, SMTPS on 465. `caFile` is what clients are told to trust.
 */
export async function startSmtpWithTls(
  options: Omit<SmtpServerOptions, 'dataDir' | 'tls'> = {},
  ports: Partial<Record<SmtpPort, number>> = { smtp: 0, submission: 0, smtps: 0 },
  service = 'smtp',
): Promise<RunningSmtp & { tls: ServiceTls; caFile: string }> {
  const dataDir = await tempDir();
  const logs = new LogCollector();
  const hostname = options.hostname ?? `mail.${options.domain ?? 'lab.test'}`;
  const tls = await ServiceTls.load({ dataDir, service, hosts: [hostname], log: createLogger('smtp', { sink: logs.sink, level: 'debug' }) });
  const running = await startSmtp({ ...options, tls }, dataDir, ports, logs);
  return { ...running, tls, caFile: caCertificateFile(dataDir) };
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
export function waitForInbox(dataDir: string, domain: string, user: string, count = 1, options: WaitOptions = {}): Promise<string[]> {
  return poll(
    `${count} message(s) in the Maildir of ${user}@${domain}`,
    async () => {
      const messages = await inbox(dataDir, domain, user);
      return messages.length >= count ? messages : undefined;
    },
    { ...options, describe: async () => `it has ${(await inbox(dataDir, domain, user)).length}` },
  );
}

/** Clients' output read octet for octet, in the C locale. */
const CLIENT_RUN = { encoding: 'latin1', env: { ...process.env, LC_ALL: 'C' } } as const;

/** Run the real swaks against 127.0.0.1:port. Its transcript (`<~ 250 ...`) is on stdout. */
export function swaks(port: number, ...args: string[]): Promise<RunResult> {
  return run(SWAKS, ['--server', `127.0.0.1:${port}`, '--helo', 'client.lab.test', '--timeout', '20', ...args], CLIENT_RUN);
}

/** Run a Python script (with smtplib) with arguments; it prints what the test checks. */
export function python(script: string, ...args: string[]): Promise<RunResult> {
  return run('python3', ['-c', script, ...args], CLIENT_RUN);
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

/** A raw connection that reads SMTP replies: for the exact bytes, and what well-behaved clients refuse to send. */
export class RawClient extends RawSocket {
  /**
   * The next reply line that matches `pattern` (lines before it are passed over); the
   * next expect() reads on from there.
   */
  expect(pattern: RegExp, options?: WaitOptions): Promise<string> {
    return this.read(
      `a reply line matching ${pattern}`,
      (unread) => {
        const text = unread.toString('latin1');
        let offset = 0;
        for (let end = text.indexOf('\r\n'); end !== -1; end = text.indexOf('\r\n', offset)) {
          const line = text.slice(offset, end);
          offset = end + 2;
          if (pattern.test(line)) return { value: line, length: offset };
        }
        return undefined;
      },
      options,
    );
  }

  /** Send a command line (CRLF added) and wait for the final line of its reply (`250 ...`, not `250-...`). */
  async command(line: string, options?: WaitOptions): Promise<string> {
    this.write(`${line}\r\n`);
    return this.expect(/^\d{3}(?: |$)/, options);
  }
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
