import type net from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import { Client, FTPError, FileType, enterPassiveModeIPv4, enterPassiveModeIPv6, type FTPResponse } from 'basic-ftp';
import { z } from 'zod';
import { clientOptions, followTls, startTls, type TlsStart } from '../../tls/client';
import { CLIENT, connect, recordConnect, StepError, StreamOffsets, type Route, type TlsHandshake } from '../../wire';
import { splitTls, tlsWithMode } from '../tls/settings';
import { outputSchema, type ExecContext, type Executor } from '../types';
import { activeMode } from './active';

/**
 * `ftp:` — log in to an FTP server and run file actions in order (list, upload,
 * download, mkdir, delete, rename...), on basic-ftp. The transcript is the control
 * connection byte for byte (PASS included: FTP sends it in clear, unless inside TLS)
 * and a note per data connection. With `tls: explicit` the client asks for TLS first
 * (AUTH TLS, then PBSZ 0 and PROT P for TLS data connections, RFC 4217); with
 * `tls: implicit` the control connection is TLS from the first byte (port 990).
 * See README.md beside this file.
 */

const action = z.union([
  z.object({ list: z.string() }).strict(),
  z.object({ download: z.string() }).strict(),
  z.object({ upload: z.object({ path: z.string(), content: z.string() }).strict() }).strict(),
  z.object({ mkdir: z.string() }).strict(),
  z.object({ rmdir: z.string() }).strict(),
  z.object({ delete: z.string() }).strict(),
  z.object({ rename: z.object({ from: z.string(), to: z.string() }).strict() }).strict(),
  z.object({ cd: z.string() }).strict(),
  z.object({ size: z.string() }).strict(),
]);

export const ftpSchema = z
  .object({
    host: z.string().default('ftp.lab.test'),
    port: z.number().int().min(1).max(65535).optional().describe('Default: 21, or 990 with tls: implicit.'),
    tls: tlsWithMode(
      ['explicit', 'implicit'],
      'explicit: AUTH TLS on the control connection, then PBSZ 0 and PROT P (data in TLS too); implicit: TLS from the first byte (port 990). And the TLS settings: ca, servername, insecure, minVersion, maxVersion.',
    ),
    user: z.string().default('anonymous').describe('A lab user, or anonymous (read-only, pub/ only).'),
    password: z.string().default('student@lab.test'),
    mode: z.enum(['passive', 'active']).default('passive').describe('Who opens the data connection: the client (passive) or the server (active).'),
    command: z
      .enum(['auto', 'EPSV', 'PASV', 'EPRT', 'PORT'])
      .default('auto')
      .describe('The command that sets up data connections. auto: EPSV then PASV (passive), EPRT (active).'),
    actions: z.array(action).default([]),
  })
  .strict();

export type FtpInput = z.infer<typeof ftpSchema>;
type Action = z.infer<typeof action>;

/** One entry of a listing, as the file actions of FTP and SFTP both return it. */
export const listingEntry = z.strictObject({ name: z.string(), size: z.number(), type: z.enum(['file', 'dir', 'link', 'unknown']) });

/** What one action did: `ok`, and what it brought back (a listing, a file's content, a size). */
const result = z.strictObject({
  action: z.string().describe('list, download, upload, mkdir, ...'),
  ok: z.boolean(),
  code: z.number().optional().describe("The server's reply code: 226, 250, 550..."),
  text: z.string().optional(),
  listing: z.array(listingEntry).optional(),
  names: z.array(z.string()).optional(),
  content: z.string().optional(),
  size: z.number().optional(),
});
type Result = z.infer<typeof result>;

export const ftpOutput = outputSchema({
  address: z.string(),
  greeting: z.strictObject({ code: z.number(), text: z.string() }).optional(),
  authTls: z.strictObject({ code: z.number(), text: z.string() }).optional().describe('The reply to AUTH TLS (tls: explicit): 234 to go ahead.'),
  loggedIn: z.boolean(),
  login: z.strictObject({ code: z.number(), text: z.string() }).optional().describe('The refusal, when the login failed.'),
  results: z.array(result).optional().describe('One per action, in order.'),
  last: result.optional(),
});

export type FtpOutput = z.infer<typeof ftpOutput>;

const TYPES: Record<number, 'file' | 'dir' | 'link'> = { [FileType.File]: 'file', [FileType.Directory]: 'dir', [FileType.SymbolicLink]: 'link' };

export const ftpExecutor: Executor<FtpInput, FtpOutput> = {
  name: 'ftp',
  schema: ftpSchema,
  output: ftpOutput,
  describe: (input) => {
    const { mode } = splitTls(input.tls);
    return `FTP ${input.user}@${input.host} (${input.mode}${input.command === 'auto' ? '' : ` ${input.command}`}${mode ? `, TLS ${mode}` : ''})`;
  },
  async run(input, ctx) {
    const { mode, settings } = splitTls(input.tls);
    const route = await ctx.network.locate(input.host, input.port ?? (mode === 'implicit' ? 990 : 21), ctx.wire, ctx.signal);
    const client = new Client(30000); // the step's own timeout closes it sooner
    const server = route.label;
    const tlsStart: TlsStart = { route, host: input.host, settings };
    const onAbort = (): void => client.close();
    ctx.signal.addEventListener('abort', onAbort);
    const output: FtpOutput = { address: route.address, loggedIn: false };
    try {
      try {
        const opened = await open(client, route, mode, tlsStart, ctx);
        output.greeting = { code: opened.welcome.code, text: replyText(opened.welcome) };
        if (opened.authTls) output.authTls = { code: opened.authTls.code, text: replyText(opened.authTls) };
        if (opened.handshake) output.tls = opened.handshake;
        await client.sendIgnoringError('OPTS UTF8 ON');
        await client.login(input.user, input.password);
        await client.useDefaultSettings(); // TYPE I; with TLS, PBSZ 0 and PROT P
        output.loggedIn = true;
      } catch (err) {
        if (err instanceof StepError) throw err;
        if (!(err instanceof FTPError)) throw asStepError(err, server, ctx);
        output.login = { code: err.code, text: replyText(err) };
        return output;
      }
      client.prepareTransfer = transferStrategy(input, ctx, server, tlsStart);
      const results: Result[] = [];
      for (const a of input.actions) {
        const done = await perform(client, a, ctx, server).catch((err: unknown) => {
          if (err instanceof FTPError) return { ok: false, code: err.code, text: replyText(err) };
          throw asStepError(err, server, ctx);
        });
        results.push({ action: Object.keys(a)[0]!, ...done });
      }
      output.results = results;
      output.last = results[results.length - 1];
      return output;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      client.close();
    }
  },
};

/**
 * Open the control connection: the runner's own recorded connect, then (implicit) TLS
 * before the greeting, or (explicit) AUTH TLS after it (RFC 4217 4). basic-ftp takes
 * the socket from there; its data connections reuse the TLS options and session.
 */
async function open(client: Client, route: Route, mode: 'explicit' | 'implicit' | undefined, start: TlsStart, ctx: ExecContext) {
  const ftp = client.ftp;
  const secure = async (plain: net.Socket): Promise<TlsHandshake> => {
    const done = await startTls(plain, start, ctx);
    ftp.socket = done.socket;
    ftp.tlsOptions = { ...clientOptions(start, ctx.network) }; // for the data connections (PROT P)
    return done.handshake;
  };
  const plain = await connect(route, ctx.wire, ctx.signal, 'ftp');
  let handshake = mode === 'implicit' ? await secure(plain).catch((err: unknown) => (plain.destroy(), Promise.reject(err))) : undefined;
  if (!handshake) ftp.socket = plain;
  recordControl(client, ctx, route.label, plain); // now that basic-ftp holds the connection (it said QUIT to the one it made itself)
  const welcome = await ftp.handle(undefined, (res, task) => {
    if (res instanceof Error) task.reject(res);
    else if (res.code >= 200 && res.code < 300) task.resolve(res);
    else task.reject(new FTPError(res));
  });
  let authTls: FTPResponse | undefined;
  if (mode === 'explicit') {
    authTls = await client.send('AUTH TLS'); // a refusal (500, 502) rejects as an FTPError
    handshake = await secure(ftp.socket);
  }
  return { welcome, authTls, handshake };
}

function asStepError(err: unknown, server: string, ctx: ExecContext): Error {
  if (ctx.signal.aborted) return new StepError(`FTP with ${server} did not finish in time`, 'ETIMEDOUT');
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return new StepError(`connection refused by ${server}: nothing is listening there`, code);
  return new StepError(`FTP with ${server} failed: ${(err as Error).message}`, code);
}

/**
 * Record the control connection as it crosses the wire. basic-ftp's own log hides the
 * password ("PASS ###"); the wire does not (inside TLS it is the plaintext the client
 * sent, marked encrypted). Commands are caught where basic-ftp writes them (send: the
 * command and CRLF), replies where it reads them (in clear or out of TLS).
 */
function recordControl(client: Client, ctx: ExecContext, server: string, plain: net.Socket): void {
  const ftp = client.ftp as unknown as { send(command: string): void; _onControlSocketData(chunk: string): void; hasTLS: boolean };
  // Where each message sits (--capture places it on its segments): in clear, its offset in the stream; inside TLS the ends only.
  const offsets = new StreamOffsets(plain);
  const marks = (kind: 'send' | 'recv', length: number): { encrypted?: true; offset?: number } =>
    ftp.hasTLS ? { ...offsets.ends, encrypted: true } : offsets.next(kind, length);
  const send = ftp.send.bind(client.ftp);
  ftp.send = (command: string) => {
    const bytes = Buffer.from(`${command}\r\n`, 'utf8');
    ctx.wire.record({ kind: 'send', protocol: 'ftp', transport: 'tcp', from: CLIENT, to: server, summary: command, text: bytes.toString('utf8'), bytes, ...marks('send', bytes.length) });
    send(command);
  };
  const receive = ftp._onControlSocketData.bind(client.ftp);
  ftp._onControlSocketData = (chunk: string) => {
    const bytes = Buffer.from(chunk, 'utf8'); // basic-ftp sets an encoding: strings
    const lines = chunk.split('\r\n').filter(Boolean);
    const summary = lines.length > 1 ? `${lines[lines.length - 1]} (+${lines.length - 1} lines)` : (lines[0] ?? '');
    ctx.wire.record({ kind: 'recv', protocol: 'ftp', transport: 'tcp', from: server, to: CLIENT, summary, text: chunk, bytes, ...marks('recv', bytes.length) });
    receive(chunk);
  };
}

/**
 * How data connections are made: passive (EPSV/PASV, the client connects) or active
 * (EPRT/PORT, the server does). Under PROT P each is TLS too, the client's side of it
 * whoever connected (RFC 4217 7), resuming the control connection's session.
 */
function transferStrategy(input: FtpInput, ctx: ExecContext, server: string, tlsStart: TlsStart) {
  const note = (socket: net.Socket, summary: string, from: string, to: string): void => recordConnect(ctx.wire, socket, { protocol: 'ftp-data', from, to, summary });
  const dataRoute = (port: number | undefined): TlsStart => ({ ...tlsStart, route: { ...tlsStart.route, label: server.replace(/:\d+$/, `:${port}`) } });
  const passive = (enter: typeof enterPassiveModeIPv4) => async (ftp: Parameters<typeof enterPassiveModeIPv4>[0]) => {
    const res = await enter(ftp);
    const data = ftp.dataSocket;
    if (data) {
      const tcp = data instanceof tls.TLSSocket ? ((data as tls.TLSSocket & { _parent?: net.Socket })._parent ?? data) : data;
      note(tcp, `data connection (passive): client port ${tcp.localPort} -> server port ${tcp.remotePort}`, CLIENT, server.replace(/:\d+$/, `:${tcp.remotePort}`));
      // basic-ftp started TLS on it (PROT P) with the control connection's options and session.
      if (data instanceof tls.TLSSocket) followTls(data, dataRoute(tcp.remotePort), ctx);
    }
    return res;
  };
  if (input.mode === 'active') {
    const command = input.command === 'PORT' ? 'PORT' : 'EPRT';
    return activeMode(command, (socket, ftp) => {
      note(socket, `data connection (active): server port ${socket.remotePort} -> client port ${socket.localPort}`, server.replace(/:\d+$/, `:${socket.remotePort}`), CLIENT);
      if (!ftp.hasTLS) return socket;
      // The server connected, but the client is still TLS's client (RFC 4217 7): the same options, the same session.
      const secure = tls.connect({ ...ftp.tlsOptions, socket, session: ftp.tlsSessionStore ?? (ftp.socket as tls.TLSSocket).getSession() });
      followTls(secure, dataRoute(socket.remotePort), ctx);
      return secure;
    });
  }
  if (input.command === 'PASV') return passive(enterPassiveModeIPv4);
  if (input.command === 'EPSV') return passive(enterPassiveModeIPv6);
  // auto: EPSV first, PASV if the server does not know it, as curl does.
  const epsv = passive(enterPassiveModeIPv6);
  const pasv = passive(enterPassiveModeIPv4);
  return async (ftp: Parameters<typeof enterPassiveModeIPv4>[0]) => {
    try {
      return await epsv(ftp);
    } catch (err) {
      if (err instanceof FTPError && err.code >= 500) return pasv(ftp);
      throw err;
    }
  };
}

async function perform(client: Client, a: Action, ctx: ExecContext, server: string): Promise<Omit<Result, 'action'>> {
  const done = (bytes: number, what: string): void =>
    ctx.wire.record({ kind: 'note', protocol: 'ftp-data', from: server, to: CLIENT, summary: `${what}: ${bytes} bytes on the data connection` });
  if ('list' in a) {
    const files = await client.list(a.list);
    done(files.length, 'listing entries');
    return { ok: true, listing: files.map((f) => ({ name: f.name, size: f.size, type: TYPES[f.type] ?? 'unknown' })), names: files.map((f) => f.name) };
  }
  if ('download' in a) {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) });
    const res = await client.downloadTo(sink, a.download);
    const content = Buffer.concat(chunks);
    done(content.length, `download ${a.download}`);
    return { ok: true, code: res.code, text: replyText(res), content: content.toString('utf8'), size: content.length };
  }
  if ('upload' in a) {
    const bytes = Buffer.from(a.upload.content, 'utf8');
    const res = await client.uploadFrom(Readable.from([bytes]).pipe(new PassThrough()), a.upload.path);
    done(bytes.length, `upload ${a.upload.path}`);
    return { ok: true, code: res.code, text: replyText(res), size: bytes.length };
  }
  if ('size' in a) return { ok: true, size: await client.size(a.size) };
  const res =
    'mkdir' in a ? await client.send(`MKD ${a.mkdir}`)
    : 'rmdir' in a ? await client.send(`RMD ${a.rmdir}`)
    : 'delete' in a ? await client.remove(a.delete)
    : 'rename' in a ? await client.rename(a.rename.from, a.rename.to)
    : await client.cd(a.cd);
  return { ok: true, code: res.code, text: replyText(res) };
}

/**
 * A reply's text without its code: basic-ftp keeps the whole reply (`550 No such
 * file`), and the output has the code on its own. A multi-line reply (`211-...`,
 * `211 End`) loses the code at the start of its lines (RFC 959 4.2).
 */
export function replyText(reply: { code: number; message: string }): string {
  return reply.message.replace(new RegExp(`^${reply.code}[ -]?`, 'gm'), '').trim();
}
