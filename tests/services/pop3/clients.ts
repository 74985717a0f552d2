/**
 * Test helpers for the POP3 service: a real Pop3Server on 127.0.0.1:0 with a temp data
 * directory, mail put in with the real delivery code (Maildir.deliver), and two real
 * clients: Python's poplib, and a raw TCP socket for the exact bytes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../services/common/logger';
import { Maildir, maildirPath } from '../../../services/common/maildir';
import type { LabUser } from '../../../services/common/users';
import { Pop3Server, type Pop3ServerOptions } from '../../../services/pop3/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { run } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import type { WaitOptions } from '../../helpers/wait';

export function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'wirelab-pop3-'));
}

/** Users with passwords unlike their names, so a test can look for the password in the log. */
export function testUsers(domain = 'lab.test', names = ['alice', 'bob', 'web', 'dan', 'erin', 'frank', 'grace', 'heidi']): LabUser[] {
  return names.map((name) => ({ name, password: `pw-${name}-S3cret`, domain }));
}
export const pw = (name: string): string => `pw-${name}-S3cret`;

export interface RunningPop3 {
  server: Pop3Server;
  port: number;
  dataDir: string;
  domain: string;
  logs: LogCollector;
  maildir(user: string): Maildir;
  /** Deliver with the real delivery code; resolves with the Maildir unique name. */
  deliver(user: string, message: string | Buffer): Promise<string>;
  /** Resolves with the line the server logged at the end of the connection from this client port. */
  closedLine(localPort: number): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions extends Pop3ServerOptions {
  /** Use Pop3Server.fromLab(lab/, dataDir) instead of the constructor. */
  fromLab?: boolean;
  /** Keep the data directory on stop (a test that restarts a server on it removes it itself). */
  keepData?: boolean;
}

export async function startPop3(options: StartOptions = {}): Promise<RunningPop3> {
  const { fromLab, keepData, ...serverOptions } = options;
  const dataDir = serverOptions.dataDir ?? (await tempDir());
  const logs = new LogCollector();
  const all: Pop3ServerOptions = {
    users: fromLab ? undefined : testUsers(serverOptions.domain ?? 'lab.test'),
    log: createLogger('pop3', { sink: logs.sink, level: 'debug' }),
    allowPlaintextLogin: true, // the lab's port 110 lesson; tests of the refusal set it false
    ...serverOptions,
    dataDir,
  };
  const server = fromLab ? await Pop3Server.fromLab(LAB_DIR, dataDir, all) : new Pop3Server(all);
  const { port } = await server.listen(0, '127.0.0.1');
  const domain = server.domain;
  const maildir = (user: string): Maildir => new Maildir(maildirPath(dataDir, domain, user));
  return {
    server,
    port,
    dataDir,
    domain,
    logs,
    maildir,
    deliver: (user, message) => maildir(user).deliver(Buffer.isBuffer(message) ? message : Buffer.from(message)),
    closedLine: async (localPort) => (await logs.waitFor(new RegExp(` closed .*client=127\\.0\\.0\\.1:${localPort}\\b`)))[0]!,
    async stop() {
      await server.close();
      if (!keepData && !serverOptions.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A small RFC 5322 message; `body` lines joined with CRLF. */
export function message(subject: string, ...body: string[]): string {
  return [`From: alice@lab.test`, `To: bob@lab.test`, `Subject: ${subject}`, '', ...body, ''].join('\r\n');
}

// ---------------------------------------------------------------------------
// Python's poplib, the client a script or a student would use.

export type PoplibOp = [string, ...(string | number)[]];
export interface PoplibResult {
  op: string;
  /** What poplib returned, bytes as latin-1 strings. */
  ok?: unknown;
  /** poplib.error_proto's text: the server's -ERR line, or '-ERR EOF' when the server closed. */
  error?: string;
}

const POPLIB_SCRIPT = String.raw`
import json, poplib, sys
port, ops = int(sys.argv[1]), json.loads(sys.argv[2])
def plain(v):
    if isinstance(v, bytes): return v.decode('latin-1')
    if isinstance(v, (list, tuple)): return [plain(x) for x in v]
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    return v
out = []
try:
    p = poplib.POP3('127.0.0.1', port, timeout=15)
    out.append({'op': 'welcome', 'ok': plain(p.getwelcome())})
except poplib.error_proto as e:
    out.append({'op': 'welcome', 'error': plain(e.args[0])})
    print(json.dumps(out)); sys.exit(0)
for op in ops:
    name, args = op[0], op[1:]
    try:
        out.append({'op': name, 'ok': plain(getattr(p, name)(*args))})
    except poplib.error_proto as e:
        out.append({'op': name, 'error': plain(e.args[0])})
    except OSError as e:
        out.append({'op': name, 'error': 'OSError: ' + str(e)})
        break
if not any(op[0] == 'quit' for op in ops):
    p.close()  # no QUIT: the connection just drops
print(json.dumps(out))
`;

/**
 * Run poplib: connect, then each op as a method call (`['user', 'alice']`,
 * `['retr', 1]`), one result per op. Without a `quit` op the connection is dropped.
 */
export async function poplib(port: number, ops: PoplibOp[]): Promise<PoplibResult[]> {
  const result = await run('python3', ['-c', POPLIB_SCRIPT, String(port), JSON.stringify(ops)]);
  if (result.code !== 0) throw new Error(`python3 poplib failed (exit ${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as PoplibResult[];
}

/** poplib results as `{ user: ..., pass_: ... }`-like pairs for compact assertions: `[op, ok or error]`. */
export function outcomes(results: PoplibResult[]): [string, unknown][] {
  return results.map((r) => [r.op, r.error !== undefined ? r.error : r.ok]);
}

/** Log in with poplib as a test user and run ops; ends with QUIT unless `drop`. */
export function session(port: number, user: string, ops: PoplibOp[], options: { drop?: boolean; password?: string } = {}): Promise<PoplibResult[]> {
  const all: PoplibOp[] = [['user', user], ['pass_', options.password ?? pw(user)], ...ops];
  if (!options.drop) all.push(['quit']);
  return poplib(port, all);
}

// ---------------------------------------------------------------------------
// A raw socket: the exact bytes, and what well-behaved clients would never send.

export class Wire extends RawSocket {
  /** Connect and read the greeting. */
  static async open(port: number): Promise<{ wire: Wire; greeting: string }> {
    const wire = await Wire.connect(port);
    return { wire, greeting: await wire.readLine() };
  }

  /** Send one command with CRLF and read the status line. */
  async command(line: string, options?: WaitOptions): Promise<string> {
    this.write(line + '\r\n');
    return this.readLine(options);
  }

  /** Send one command and read a whole multi-line reply, exactly as it came (status line, lines, final dot). */
  async multi(line: string, options?: WaitOptions): Promise<string> {
    this.write(line + '\r\n');
    const status = await this.readLine(options);
    if (!status.startsWith('+OK')) return status + '\r\n';
    // The end is a line that is only a dot (RFC 1939 3): `.\r\n` at the start of a line,
    // which the line right after the status line is too.
    const body = await this.read(
      'the end of a multi-line reply (a line with only ".")',
      (unread) => {
        const text = unread.toString('latin1');
        const at = text.startsWith('.\r\n') ? 0 : ((i) => (i < 0 ? -1 : i + 2))(text.indexOf('\r\n.\r\n'));
        return at < 0 ? undefined : { value: text.slice(0, at + 3), length: at + 3 };
      },
      options,
    );
    return status + '\r\n' + body;
  }
}

/** Log in on a raw connection; resolves with the PASS reply. */
export async function rawLogin(port: number, user: string, password = pw(user)): Promise<{ wire: Wire; reply: string }> {
  const { wire } = await Wire.open(port);
  await wire.command(`USER ${user}`);
  return { wire, reply: await wire.command(`PASS ${password}`) };
}

/**
 * After a bad case: the server still serves the next client. A full poplib session:
 * greeting, CAPA, login, STAT, QUIT.
 */
export async function stillServes(port: number, user = 'web', password = pw(user)): Promise<void> {
  const results = await poplib(port, [['capa'], ['user', user], ['pass_', password], ['stat'], ['quit']]);
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0) throw new Error(`the server no longer serves: ${JSON.stringify(results)}`);
}
