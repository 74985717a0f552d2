/**
 * Test helpers for the FTP service: a real FtpServer on 127.0.0.1:0 over the real lab/
 * (users, home seeds, anonymous pub/) with a temporary data directory, and real clients:
 * curl, lftp, Python's ftplib, and a raw TCP client for the exact bytes (and for what
 * well-behaved clients never send).
 *
 * Each data directory also holds a folder outside every home, with a secret in it, and
 * alice's home holds symlinks that lead there: a test can then show that nothing
 * outside the home was read or written.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../services/common/logger';
import { FtpServer, type FtpServerOptions } from '../../../services/ftp/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { run, type RunResult } from '../../helpers/process';
import { listenTcp, RawSocket, type TcpPeer } from '../../helpers/socket';
import { within, type WaitOptions } from '../../helpers/wait';

export const SECRET = 'TOP SECRET: outside every home';

export interface RunningFtp {
  server: FtpServer;
  port: number;
  dataDir: string;
  logs: LogCollector;
  /** homes/<user> in the data directory. */
  home(user: string): string;
  /** A folder outside every home, holding secret.txt. */
  outside: string;
  /** What is in the outside folder now: names and contents. */
  outsideState(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startFtp(options: FtpServerOptions = {}): Promise<RunningFtp> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-ftp-'));
  const logs = new LogCollector();
  const server = await FtpServer.fromLab(LAB_DIR, dataDir, {
    log: createLogger('ftp', { sink: logs.sink, level: 'debug' }),
    authFailureDelayMs: 1,
    allowPlaintextLogin: true, // the lab's port-21 lesson; tests of the refusal set it false
    ...options,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const home = (user: string): string => path.join(dataDir, 'homes', user);
  const outside = path.join(dataDir, 'outside');
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), SECRET);
  // Links inside alice's home that lead out of it: a folder, and a file.
  await symlink(outside, path.join(home('alice'), 'escape'));
  await symlink(path.join(outside, 'secret.txt'), path.join(home('alice'), 'secret-link'));
  return {
    server,
    port,
    dataDir,
    logs,
    home,
    outside,
    async outsideState() {
      const state: Record<string, string> = {};
      for (const name of await readdir(outside)) state[name] = await readFile(path.join(outside, name), 'utf8');
      return state;
    },
    async stop() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The outside folder as every test leaves it: only the secret, unchanged. */
export const UNTOUCHED = { 'secret.txt': SECRET };

// ---------------------------------------------------------------------------
// Command-line clients.

/** curl, quiet but showing errors, with a time limit. */
export function curl(...args: string[]): Promise<RunResult<Buffer>> {
  return run('curl', ['-sS', '--max-time', '15', ...args], { encoding: 'buffer' });
}

/**
 * lftp with short timeouts and no retries, logged in to the server as `user`. `script`
 * is lftp commands separated by `;`.
 */
export function lftp(port: number, user: string, password: string, script: string): Promise<RunResult<Buffer>> {
  const setup = `set net:max-retries 1; set net:timeout 5; set net:reconnect-interval-base 1; set cmd:fail-exit yes`;
  return run('lftp', ['-c', `${setup}; open -u ${user},${password} -p ${port} 127.0.0.1; ${script}`], { encoding: 'buffer' });
}

// ---------------------------------------------------------------------------
// Python's ftplib: what a script (or a student's homework) would use.

export type FtplibOp = [string, ...unknown[]];
export interface FtplibResult {
  op: string;
  ok?: unknown;
  /** ftplib's error text: the server's reply line, or the OS error. */
  error?: string;
}

const FTPLIB_SCRIPT = String.raw`
import ftplib, io, json, sys
port, ops = int(sys.argv[1]), json.loads(sys.argv[2])
def plain(v):
    if isinstance(v, bytes): return v.decode('latin-1')
    if isinstance(v, (list, tuple)): return [plain(x) for x in v]
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    return v
out = []
f = ftplib.FTP(timeout=15)
try:
    out.append({'op': 'welcome', 'ok': f.connect('127.0.0.1', port)})
except ftplib.all_errors as e:
    out.append({'op': 'welcome', 'error': str(e) or type(e).__name__})
    print(json.dumps(out)); sys.exit(0)
for op in ops:
    name, args = op[0], op[1:]
    try:
        if name == 'get':            # get path [rest]
            buf = io.BytesIO()
            f.retrbinary('RETR ' + args[0], buf.write, rest=(args[1] if len(args) > 1 else None))
            r = buf.getvalue()
        elif name == 'getlines':     # get path in TYPE A, as lines
            lines = []
            f.retrlines('RETR ' + args[0], lines.append)
            r = lines
        elif name == 'put':          # put path data(latin-1)
            r = f.storbinary('STOR ' + args[0], io.BytesIO(args[1].encode('latin-1')))
        elif name == 'putlines':     # put path text, in TYPE A
            r = f.storlines('STOR ' + args[0], io.BytesIO(args[1].encode('latin-1')))
        elif name == 'mlsd':
            r = [[n, facts] for n, facts in f.mlsd(*args)]
        elif name == 'passive':
            f.set_pasv(bool(args[0])); r = None
        else:
            r = getattr(f, name)(*args)
        out.append({'op': name, 'ok': plain(r)})
    except ftplib.all_errors as e:
        out.append({'op': name, 'error': str(e) or type(e).__name__})
        if isinstance(e, (OSError, EOFError)) and not isinstance(e, ftplib.Error): break
print(json.dumps(out))
`;

/** Run ftplib: connect, then each op in order; one result per op (the first is the greeting). */
export async function ftplib(port: number, ops: FtplibOp[]): Promise<FtplibResult[]> {
  const result = await run('python3', ['-c', FTPLIB_SCRIPT, String(port), JSON.stringify(ops)]);
  if (result.code !== 0) throw new Error(`python3 ftplib failed (exit ${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as FtplibResult[];
}

/** `[op, ok or error]` pairs for compact assertions. */
export function outcomes(results: FtplibResult[]): [string, unknown][] {
  return results.map((r) => [r.op, r.error !== undefined ? r.error : r.ok]);
}

// ---------------------------------------------------------------------------
// A raw control connection: exact replies, and bad input. (A data connection is a
// plain RawSocket: `RawSocket.connect(port)`, then `restBytes()` for what came.)

export class Wire extends RawSocket {
  /** Connect (optionally from another loopback address, a "third host") and read the greeting. */
  static async open(port: number, localAddress?: string): Promise<{ wire: Wire; greeting: string }> {
    const wire = await Wire.connect(port, { localAddress });
    return { wire, greeting: await wire.reply() };
  }

  /** Connect and log in; the PASS reply must be 230. */
  static async login(port: number, user = 'alice', password = user): Promise<Wire> {
    const { wire } = await Wire.open(port);
    await wire.command(`USER ${user}`);
    const r = await wire.command(`PASS ${password}`);
    if (!r.startsWith('230')) throw new Error(`login failed: ${r}`);
    return wire;
  }

  /** Send one command with CRLF and read its (next) reply. */
  async command(line: string, options?: WaitOptions): Promise<string> {
    this.write(line + '\r\n');
    return this.reply(options);
  }

  /**
   * The next whole reply: one line, or a multi-line reply from `ddd-` to `ddd `, lines
   * joined with \n, without the last CRLF.
   */
  async reply(options?: WaitOptions): Promise<string> {
    const first = await this.readLine(options);
    if (!/^\d{3}-/.test(first)) return first;
    const code = first.slice(0, 3);
    const lines = [first];
    for (;;) {
      const line = await this.readLine(options);
      lines.push(line);
      if (line.startsWith(`${code} `)) return lines.join('\n');
    }
  }

  /** EPSV, and the port from its 229 reply. */
  async epsv(): Promise<number> {
    const r = await this.command('EPSV');
    const m = /^229 .*\(\|\|\|(\d+)\|\)/.exec(r);
    if (!m) throw new Error(`EPSV failed: ${r}`);
    return Number(m[1]);
  }

  /** A transfer in passive mode: EPSV, connect, the command; resolves with the data and the two replies. */
  async passive(command: string, upload?: Buffer): Promise<{ data: Buffer; replies: string[] }> {
    const port = await this.epsv();
    const data = await RawSocket.connect(port);
    const first = await this.command(command);
    if (!/^1\d\d /.test(first)) {
      data.destroy();
      return { data: Buffer.alloc(0), replies: [first] };
    }
    if (upload) data.end(upload);
    const received = await data.restBytes();
    return { data: received, replies: [first, await this.reply()] };
  }
}

/** A listener that counts connections: a "third host" for bounce tests, or an active-mode client. */
export async function listener(host: string): Promise<TcpPeer & { received(options?: WaitOptions): Promise<Buffer> }> {
  let resolveReceived!: (b: Buffer) => void;
  const received = new Promise<Buffer>((resolve) => (resolveReceived = resolve));
  const peer = await listenTcp((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolveReceived(Buffer.concat(chunks)));
  }, host);
  return {
    ...peer,
    /** What the first connection to it sent, once it closed. */
    received: (options) => within(received, `a data connection to ${host}:${peer.port} to deliver and close`, { ms: options?.ms, seen: () => `${peer.connections.length} connection(s) came` }),
  };
}

/** `PORT` argument for host:port. */
export function portArgument(host: string, port: number): string {
  return `${host.replace(/\./g, ',')},${port >> 8},${port & 255}`;
}

/** After a bad case: the server still serves the next client (curl, a login and a download). */
export async function stillServes(running: RunningFtp): Promise<void> {
  const r = await curl(`ftp://bob:bob@127.0.0.1:${running.port}/todo.txt`);
  const expected = await readFile(path.join(LAB_DIR, 'homes/bob/todo.txt'));
  if (r.code !== 0 || !r.stdout.equals(expected)) throw new Error(`the server no longer serves: curl exit ${r.code} ${r.stderr}`);
}
