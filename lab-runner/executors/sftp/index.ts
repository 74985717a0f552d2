import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { z } from 'zod';
import { fingerprint } from '../../../services/sftp/hostKey';
import { CLIENT, connect, StepError } from '../../wire';
import { listingEntry } from '../ftp';
import { outputSchema, type ExecContext, type Executor } from '../types';

/**
 * `sftp:` — log in to the SSH server (password or a lab user's key), open the SFTP
 * subsystem and run file actions in order, on ssh2's client. Everything travels
 * encrypted, so the transcript shows the handshake, the server's host key and each
 * SFTP request and its status, decoded, rather than bytes. See README.md.
 */

const action = z.union([
  z.object({ list: z.string() }).strict(),
  z.object({ download: z.string() }).strict(),
  z.object({ upload: z.object({ path: z.string(), content: z.string() }).strict() }).strict(),
  z.object({ mkdir: z.string() }).strict(),
  z.object({ rmdir: z.string() }).strict(),
  z.object({ delete: z.string() }).strict(),
  z.object({ rename: z.object({ from: z.string(), to: z.string() }).strict() }).strict(),
  z.object({ stat: z.string() }).strict(),
  z.object({ realpath: z.string() }).strict(),
]);

export const sftpSchema = z
  .object({
    host: z.string().default('files.lab.test'),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1),
    password: z.string().optional(),
    key: z.string().optional().describe("Log in with this lab user's key pair, lab/keys/<key> (e.g. alice)."),
    actions: z.array(action).default([]),
  })
  .strict()
  .refine((v) => (v.password === undefined) !== (v.key === undefined), { message: 'give either password or key' });

export type SftpInput = z.infer<typeof sftpSchema>;
type Action = z.infer<typeof action>;

/** What one action did: `ok`, and what it brought back; a failure's SFTP status code and message. */
const result = z.strictObject({
  action: z.string().describe('list, download, upload, stat, realpath, ...'),
  ok: z.boolean(),
  code: z.union([z.number(), z.string()]).optional().describe('Why it failed: the SFTP status code (2: no such file, 3: permission denied...).'),
  text: z.string().optional(),
  listing: z.array(listingEntry).optional(),
  names: z.array(z.string()).optional(),
  content: z.string().optional(),
  size: z.number().optional(),
  mode: z.string().optional().describe('stat: the permission bits in octal, e.g. 644.'),
  isDirectory: z.boolean().optional(),
  path: z.string().optional().describe('realpath: the absolute path.'),
});
type Result = z.infer<typeof result>;

export const sftpOutput = outputSchema({
  address: z.string(),
  hostKey: z.strictObject({ algorithm: z.string(), fingerprint: z.string().describe('SHA256:..., as ssh shows it.') }).optional(),
  authenticated: z.boolean(),
  error: z.string().optional().describe('Why the login was refused; or why the action itself failed.'),
  results: z.array(result).optional().describe('One per action, in order.'),
  last: result.optional(),
});

export type SftpOutput = z.infer<typeof sftpOutput>;

/** The key type is the first string in the blob (RFC 4253 6.6): `ssh-ed25519`, `ssh-rsa`... */
function algorithmOf(blob: Buffer): string {
  return blob.length >= 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') : 'unknown';
}

export const sftpExecutor: Executor<SftpInput, SftpOutput> = {
  name: 'sftp',
  schema: sftpSchema,
  output: sftpOutput,
  describe: (input) => `SFTP ${input.user}@${input.host} (${input.key ? 'key' : 'password'})`,
  async run(input, ctx) {
    const route = await ctx.network.locate(input.host, input.port, ctx.wire, ctx.signal);
    const server = route.label;
    const record = (kind: 'send' | 'recv' | 'note', summary: string): void => {
      const [from, to] = kind === 'recv' ? [server, CLIENT] : [CLIENT, server];
      ctx.wire.record({ kind, protocol: 'sftp', transport: 'tcp', from, to, summary });
    };
    let hostKey: SftpOutput['hostKey'];
    const privateKey = input.key !== undefined ? await readKey(ctx, input.key) : undefined;
    // ssh2 talks over a connection the wire opened: refusals and timeouts read as every executor's do.
    const sock = await connect(route, ctx.wire, ctx.signal, 'ssh');
    const config: ConnectConfig = {
      sock,
      username: input.user,
      readyTimeout: 20000,
      // The lab's host key is recorded (and checked by the scenario), as `ssh` asks you to.
      hostVerifier: (key: Buffer) => {
        hostKey = { algorithm: algorithmOf(key), fingerprint: fingerprint(key) };
        record('note', `host key ${hostKey.algorithm} ${hostKey.fingerprint}`);
        return true;
      },
      ...(input.password !== undefined ? { password: input.password, tryKeyboard: false } : { privateKey }),
    };
    const ssh = new Client();
    const onAbort = (): void => void ssh.end();
    ctx.signal.addEventListener('abort', onAbort);
    try {
      const connected = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
        ssh.once('ready', () => resolve({ ok: true }));
        ssh.once('error', (error) => resolve({ ok: false, error }));
        ssh.connect(config);
      });
      if (!connected.ok) {
        const level = (connected.error as Error & { level?: string }).level;
        if (level === 'client-authentication') {
          record('recv', `authentication refused for ${input.user} (${input.key ? 'publickey' : 'password'})`);
          return { address: route.address, hostKey, authenticated: false, error: connected.error.message };
        }
        if (ctx.signal.aborted) throw new StepError(`SSH with ${server} did not finish in time`, 'ETIMEDOUT');
        throw new StepError(`SSH with ${server} failed: ${connected.error.message}`, (connected.error as NodeJS.ErrnoException).code);
      }
      record('recv', `authenticated as ${input.user} (${input.key ? 'publickey' : 'password'})`);
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => ssh.sftp((err, s) => (err ? reject(err) : resolve(s))));
      record('note', 'SFTP subsystem started');
      const results: Result[] = [];
      for (const a of input.actions) {
        const name = Object.keys(a)[0]!;
        record('send', describeAction(a));
        const result = await perform(sftp, a).catch((err: Error & { code?: number }) => ({ ok: false, code: err.code, text: err.message }));
        record('recv', result.ok ? `OK${'size' in result ? ` (${result.size} bytes)` : ''}` : `FAILURE ${result.code ?? ''} ${result.text ?? ''}`.trim());
        results.push({ action: name, ...result });
      }
      return { address: route.address, hostKey, authenticated: true, results, last: results[results.length - 1] };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      ssh.end();
      sock.destroy();
    }
  },
};

async function readKey(ctx: ExecContext, name: string): Promise<Buffer> {
  if (!/^[a-z][a-z0-9_-]*$/i.test(name)) throw new StepError(`key: a lab user's name, e.g. alice, not ${JSON.stringify(name)}`);
  const file = path.join(ctx.backend.labDir, 'keys', name);
  return readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new StepError(err.code === 'ENOENT' ? `no lab key ${file}` : `cannot read the lab key ${file}: ${err.code}`, err.code);
  });
}

function describeAction(a: Action): string {
  if ('upload' in a) return `WRITE ${a.upload.path} (${Buffer.byteLength(a.upload.content)} bytes)`;
  if ('rename' in a) return `RENAME ${a.rename.from} ${a.rename.to}`;
  const [name, value] = Object.entries(a)[0]!;
  const op: Record<string, string> = { list: 'READDIR', download: 'READ', mkdir: 'MKDIR', rmdir: 'RMDIR', delete: 'REMOVE', stat: 'STAT', realpath: 'REALPATH' };
  return `${op[name]} ${String(value)}`;
}

/** The file type bits of a mode (S_IFMT, as in stat(2)). */
function fileType(mode: number): 'dir' | 'link' | 'file' {
  const type = mode & 0o170000;
  return type === 0o040000 ? 'dir' : type === 0o120000 ? 'link' : 'file';
}

const call = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

async function perform(sftp: SFTPWrapper, a: Action): Promise<Omit<Result, 'action'> & { ok: true }> {
  if ('list' in a) {
    const entries = await call<{ filename: string; attrs: { size: number; mode: number } }[]>((cb) => sftp.readdir(a.list, cb));
    const listing = entries.map((e) => ({ name: e.filename, size: e.attrs.size, type: fileType(e.attrs.mode) }));
    return { ok: true, listing, names: listing.map((e) => e.name) };
  }
  if ('download' in a) {
    const content = await call<Buffer>((cb) => sftp.readFile(a.download, cb));
    return { ok: true, content: content.toString('utf8'), size: content.length };
  }
  if ('upload' in a) {
    const bytes = Buffer.from(a.upload.content, 'utf8');
    await call<void>((cb) => sftp.writeFile(a.upload.path, bytes, (err) => cb(err, undefined)));
    return { ok: true, size: bytes.length };
  }
  if ('stat' in a) {
    const s = await call<{ size: number; mode: number; mtime: number }>((cb) => sftp.stat(a.stat, cb));
    return { ok: true, size: s.size, mode: (s.mode & 0o7777).toString(8), isDirectory: (s.mode & 0o170000) === 0o040000 };
  }
  if ('realpath' in a) return { ok: true, path: await call<string>((cb) => sftp.realpath(a.realpath, cb)) };
  const done = (cb: (err: Error | null | undefined, v: void) => void) => (err?: Error | null) => cb(err, undefined);
  if ('mkdir' in a) await call<void>((cb) => sftp.mkdir(a.mkdir, done(cb)));
  else if ('rmdir' in a) await call<void>((cb) => sftp.rmdir(a.rmdir, done(cb)));
  else if ('delete' in a) await call<void>((cb) => sftp.unlink(a.delete, done(cb)));
  else if ('rename' in a) await call<void>((cb) => sftp.rename(a.rename.from, a.rename.to, done(cb)));
  return { ok: true };
}
