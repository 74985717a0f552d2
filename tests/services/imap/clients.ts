/**
 * Test helpers for the IMAP service: a real ImapServer on 127.0.0.1:0 with a temp data
 * directory, mail put in with the real delivery code (Maildir.deliver), a certificate
 * made with openssl for the TLS tests, and the clients: Python's imaplib, curl, openssl
 * s_client, and a raw socket that reads IMAP responses (literals included) for the
 * exact bytes.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createLogger } from '../../../services/common/logger';
import { Maildir, maildirPath } from '../../../services/common/maildir';
import { ImapServer, type ImapServerOptions } from '../../../services/imap/server';
import { fixedTls, type TlsStarter } from '../../../services/common/tls';
import { LogCollector } from '../../helpers/logs';
import { RawSocket } from '../../helpers/socket';
import { testCertificate, type TestCertificate } from '../../helpers/tls';
import { pw, tempDir, testUsers } from '../pop3/clients';
import { run, type RunResult as Run } from '../../helpers/process';
import { python } from '../smtp/harness';

export { pw, testUsers, LogCollector };

// ---------------------------------------------------------------------------
// A certificate for 127.0.0.1 and localhost (tests/helpers/tls.ts), made once per test file.

export interface Certificate {
  /** The certificate file: what curl's --cacert and openssl's -CAfile trust. */
  certFile: string;
  /** The certificate: what a Node client is given as `ca`. */
  cert: Buffer;
  /** The server's side: what ImapServer's `tls` option takes. */
  tls: TlsStarter;
}

/** Call at the top of a test file: the certificate is made before its tests and removed after them. */
export function useCertificate(): () => Certificate {
  let made: TestCertificate | undefined;
  beforeAll(() => (made = testCertificate()));
  afterAll(() => made?.remove());
  return () => {
    if (!made) throw new Error('the certificate is made in beforeAll: use it inside a test');
    return { certFile: made.certFile, cert: made.cert, tls: fixedTls({ cert: made.cert, key: made.key }) };
  };
}

// ---------------------------------------------------------------------------
// The server.

export interface RunningImap {
  server: ImapServer;
  port: number;
  /** The implicit-TLS port, when started with `tls`. */
  tlsPort?: number;
  dataDir: string;
  logs: LogCollector;
  /** Resolves with the first log line matching `pattern`; fails after 5 s naming the pattern and showing the last lines. */
  logged(pattern: RegExp): Promise<string>;
  maildir(user: string, folder?: string): Maildir;
  /** Deliver to INBOX with the real delivery code; resolves with the Maildir unique name. */
  deliver(user: string, message: string | Buffer): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions extends ImapServerOptions {
  /** Keep the data directory on stop (a test that restarts a server on it removes it itself). */
  keepData?: boolean;
}

/** An ImapServer for lab.test with the test users, on free ports; plain-text login allowed unless `tls` is given. */
export async function startImap(options: StartOptions = {}): Promise<RunningImap> {
  const { keepData, ...serverOptions } = options;
  const dataDir = serverOptions.dataDir ?? (await tempDir());
  const logs = new LogCollector();
  const server = new ImapServer({
    users: testUsers(),
    log: createLogger('imap', { sink: logs.sink, level: 'debug' }),
    allowPlaintextLogin: serverOptions.tls === undefined,
    authFailureDelayMs: 0,
    ...serverOptions,
    dataDir,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const tlsPort = serverOptions.tls ? (await server.listenTls(0, '127.0.0.1')).port : undefined;
  const maildir = (user: string, folder?: string): Maildir => {
    const root = maildirPath(dataDir, 'lab.test', user);
    return new Maildir(folder ? path.join(root, `.${folder}`) : root);
  };
  return {
    server,
    port,
    tlsPort,
    dataDir,
    logs,
    logged: async (pattern) => (await logs.waitFor(pattern))[0]!,
    maildir,
    deliver: (user, message) => maildir(user).deliver(Buffer.isBuffer(message) ? message : Buffer.from(message)),
    async stop() {
      await server.close();
      if (!keepData && !serverOptions.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A small RFC 5322 message with CRLF line ends. */
export function message(subject: string, body = 'Hello.', headers: Record<string, string> = {}): string {
  const fields = { From: 'Bob <bob@lab.test>', To: 'alice@lab.test', Subject: subject, Date: 'Thu, 03 Dec 2026 10:00:00 +0000', 'Message-ID': `<${subject.replace(/\W/g, '')}@lab.test>`, ...headers };
  return [...Object.entries(fields).map(([k, v]) => `${k}: ${v}`), '', body, ''].join('\r\n');
}

// ---------------------------------------------------------------------------
// A raw client that reads IMAP responses.

/**
 * IMAP over a raw socket (tests/helpers/socket.ts): write exactly what a test wants,
 * read whole responses. A response is a line, but a literal inside it (`{12}` CRLF and
 * 12 octets) may hold line ends: reading follows the literal's count, as a client must.
 */
export class ImapWire extends RawSocket {
  /** Connect (plain, or TLS from the first byte with `ca`) and read the greeting. */
  static async open(port: number, options: { ca?: Buffer; from?: string } = {}): Promise<{ wire: ImapWire; greeting: string }> {
    const plain = await ImapWire.connect(port, { localAddress: options.from });
    const wire = options.ca ? await plain.startTls({ ca: options.ca, servername: 'localhost' }) : plain;
    return { wire, greeting: await wire.response() };
  }

  /** Connect and log in (plain-text login must be allowed). */
  static async login(port: number, user = 'alice'): Promise<ImapWire> {
    const { wire } = await ImapWire.open(port);
    const done = await wire.command('l1', `LOGIN ${user} ${pw(user)}`);
    if (!done[done.length - 1]!.startsWith('l1 OK')) throw new Error(`login failed: ${done.join('\n')}`);
    return wire;
  }

  /** Send `tag text` CRLF; resolve with every response up to and including the tagged one. */
  async command(tag: string, text: string): Promise<string[]> {
    this.write(`${tag} ${text}\r\n`);
    return this.untilTagged(tag);
  }

  /** Responses until the one tagged `tag`. */
  async untilTagged(tag: string): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const r = await this.response(`the response tagged ${tag}`);
      out.push(r);
      if (r.startsWith(`${tag} `)) return out;
    }
  }

  /** The next response, literals included, without its final CRLF (literal octets as latin1). */
  response(what = 'a response'): Promise<string> {
    return this.read(what, wholeResponse);
  }
}

/** A whole response at the start of `b`: lines, each literal's octets after its `{n}` CRLF, up to the CRLF of the last line. */
function wholeResponse(b: Buffer): { value: string; length: number } | undefined {
  for (let at = 0; ; ) {
    const end = b.indexOf('\r\n', at);
    if (end === -1) return undefined;
    const literal = /~?\{(\d+)\}$/.exec(b.toString('latin1', at, end));
    if (!literal) return { value: b.toString('latin1', 0, end), length: end + 2 };
    at = end + 2 + Number(literal[1]);
    if (b.length < at) return undefined;
  }
}

// ---------------------------------------------------------------------------
// Python's imaplib, curl and openssl s_client.

const IMAPLIB_PRELUDE = String.raw`
import imaplib, json, ssl, sys
port = int(sys.argv[1])
results = []
def plain(v):
    if isinstance(v, bytes): return v.decode('latin-1')
    if isinstance(v, (list, tuple)): return [plain(x) for x in v]
    return v
def out(name, value):
    results.append([name, plain(value)])
def attempt(name, call):
    try:
        out(name, call())
    except (imaplib.IMAP4.error, imaplib.IMAP4.abort) as e:
        out(name, {'error': type(e).__name__, 'text': plain(e.args[0]) if e.args else ''})
try:
`;
const IMAPLIB_END = String.raw`
finally:
    print(json.dumps(results))
`;

/**
 * Run Python with imaplib: `script` (indented by 4 spaces into a try block) calls
 * `out(name, value)` or `attempt(name, lambda: M.select())` for each result; argv[1]
 * is the port. Resolves with the results in order.
 */
export async function imaplib(port: number, script: string): Promise<[string, unknown][]> {
  const body = script
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  const result = await python(IMAPLIB_PRELUDE + body + IMAPLIB_END, String(port));
  if (result.code !== 0 || !result.stdout.trim().startsWith('[')) throw new Error(`python3 imaplib failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout) as [string, unknown][];
}

/** Run curl with these arguments (curl's own exit code and output). */
export function curl(...args: string[]): ReturnType<typeof run> {
  return run('curl', ['-sS', '--max-time', '15', ...args]);
}

/**
 * openssl s_client: connect, STARTTLS (when `starttls`) or TLS from the start, then send
 * `input` (lines with CRLF) inside TLS; resolves with everything printed once the
 * server closes the connection (the input should end with LOGOUT).
 */
export function sClient(port: number, input: string, options: { starttls: boolean; caFile: string }): Promise<Run> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', options.caFile, '-verify_return_error', '-crlf', '-quiet', '-ign_eof'];
  if (options.starttls) args.push('-starttls', 'imap');
  return run('openssl', args, { input, encoding: 'latin1' });
}
