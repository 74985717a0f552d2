import net from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { Client, FTPError, FileType, enterPassiveModeIPv4, enterPassiveModeIPv6 } from 'basic-ftp';
import { z } from 'zod';
import { CLIENT, recordConnect, StepError, StreamOffsets } from '../../wire';
import { outputSchema, type ExecContext, type Executor } from '../types';
import { activeMode } from './active';

/**
 * `ftp:` — log in to an FTP server and run file actions in order (list, upload,
 * download, mkdir, delete, rename...), on basic-ftp. The transcript is the control
 * connection byte for byte (PASS included: FTP sends it in clear) and a note per data
 * connection. See README.md beside this file.
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
    port: z.number().int().min(1).max(65535).default(21),
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
  describe: (input) => `FTP ${input.user}@${input.host} (${input.mode}${input.command === 'auto' ? '' : ` ${input.command}`})`,
  async run(input, ctx) {
    const route = await ctx.network.locate(input.host, input.port, ctx.wire, ctx.signal);
    const client = new Client(30000); // the step's own timeout closes it sooner
    const server = route.label;
    recordControl(client, ctx, server, route.host, route.port);
    const onAbort = (): void => client.close();
    ctx.signal.addEventListener('abort', onAbort);
    const output: FtpOutput = { address: route.address, loggedIn: false };
    try {
      try {
        const welcome = await client.access({ host: route.host, port: route.port, user: input.user, password: input.password });
        output.greeting = { code: welcome.code, text: replyText(welcome) };
        output.loggedIn = true;
      } catch (err) {
        if (!(err instanceof FTPError)) throw asStepError(err, server, ctx);
        output.login = { code: err.code, text: replyText(err) };
        return output;
      }
      client.prepareTransfer = transferStrategy(input, ctx, server);
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

function asStepError(err: unknown, server: string, ctx: ExecContext): Error {
  if (ctx.signal.aborted) return new StepError(`FTP with ${server} did not finish in time`, 'ETIMEDOUT');
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return new StepError(`connection refused by ${server}: nothing is listening there`, code);
  return new StepError(`FTP with ${server} failed: ${(err as Error).message}`, code);
}

/**
 * Record the control connection as it crosses the wire. basic-ftp's own log hides the
 * password ("PASS ###"); the wire does not. Commands are caught where basic-ftp writes
 * them (send: the command and CRLF), replies as they arrive on the socket.
 */
function recordControl(client: Client, ctx: ExecContext, server: string, host: string, port: number): void {
  const ftp = client.ftp as unknown as { _newSocket(): net.Socket; send(command: string): void };
  const send = ftp.send.bind(client.ftp);
  let offsets: StreamOffsets | undefined; // of the control connection, once it is connected
  ftp.send = (command: string) => {
    const bytes = Buffer.from(`${command}\r\n`, 'utf8');
    ctx.wire.record({ kind: 'send', protocol: 'ftp', transport: 'tcp', from: CLIENT, to: server, summary: command, text: bytes.toString('utf8'), bytes, ...offsets?.next('send', bytes.length) });
    send(command);
  };
  const make = ftp._newSocket.bind(client.ftp);
  let control = true; // the first socket made is the control connection; later ones carry data
  ftp._newSocket = () => {
    const socket = make();
    if (!control) return socket;
    control = false;
    socket.once('connect', () => {
      offsets = new StreamOffsets(socket);
      recordConnect(ctx.wire, socket, { protocol: 'ftp', from: CLIENT, to: server, summary: `control connection from port ${socket.localPort} (to ${host}:${port})` });
    });
    socket.on('data', (data: Buffer | string) => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'); // basic-ftp sets an encoding: strings
      const lines = bytes.toString('utf8').split('\r\n').filter(Boolean);
      const summary = lines.length > 1 ? `${lines[lines.length - 1]} (+${lines.length - 1} lines)` : (lines[0] ?? '');
      ctx.wire.record({ kind: 'recv', protocol: 'ftp', transport: 'tcp', from: server, to: CLIENT, summary, text: bytes.toString('utf8'), bytes, ...offsets?.next('recv', bytes.length) });
    });
    return socket;
  };
}

/** How data connections are made: passive (EPSV/PASV, the client connects) or active (EPRT/PORT, the server does). */
function transferStrategy(input: FtpInput, ctx: ExecContext, server: string) {
  const note = (socket: net.Socket, summary: string, from: string, to: string): void => recordConnect(ctx.wire, socket, { protocol: 'ftp-data', from, to, summary });
  const passive = (enter: typeof enterPassiveModeIPv4) => async (ftp: Parameters<typeof enterPassiveModeIPv4>[0]) => {
    const res = await enter(ftp);
    const data = ftp.dataSocket;
    if (data) note(data, `data connection (passive): client port ${data.localPort} -> server port ${data.remotePort}`, CLIENT, server.replace(/:\d+$/, `:${data.remotePort}`));
    return res;
  };
  if (input.mode === 'active') {
    const command = input.command === 'PORT' ? 'PORT' : 'EPRT';
    return activeMode(command, (socket) => note(socket, `data connection (active): server port ${socket.remotePort} -> client port ${socket.localPort}`, server.replace(/:\d+$/, `:${socket.remotePort}`), CLIENT));
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
