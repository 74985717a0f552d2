/**
 * Test helpers for the SFTP service: a real SftpServer (fromLab, on 127.0.0.1:0) with a
 * temp data directory and, next to it, a folder *outside* every home holding a secret;
 * and two real clients: OpenSSH's `sftp`/`ssh` (what a student types) and ssh2's
 * Client (for exact status codes and for what OpenSSH would never send).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { homeDir } from '../../../services/common/homes';
import { createLogger } from '../../../services/common/logger';
import { SftpServer, type SftpServerOptions } from '../../../services/sftp/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { Child, run, type RunResult } from '../../helpers/process';
import { within } from '../../helpers/wait';

export const SECRET = 'TOP-SECRET-outside-the-home-7f3a';

export interface RunningSftp {
  server: SftpServer;
  port: number;
  /** The temp folder holding everything below. */
  base: string;
  dataDir: string;
  /** `<base>/outside`: not in any home; holds secret.txt. */
  outside: string;
  /** `<base>/keys`: copies of the lab's private keys with mode 0600, as ssh demands. */
  keys: string;
  logs: LogCollector;
  home(user: string): string;
  /** Stop the server; the temp folder is removed unless `keep`. */
  stop(keep?: boolean): Promise<void>;
}

export interface StartOptions extends SftpServerOptions {
  /** Reuse this base folder (a restart on the same data directory). */
  base?: string;
}

export async function startSftp(options: StartOptions = {}): Promise<RunningSftp> {
  const { base: givenBase, ...serverOptions } = options;
  const base = givenBase ?? (await mkdtemp(path.join(os.tmpdir(), 'wirelab-sftp-')));
  const dataDir = path.join(base, 'data');
  const outside = path.join(base, 'outside');
  const keys = path.join(base, 'keys');
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(outside, 'secret.txt'), `${SECRET}\n`);
  await mkdir(keys, { recursive: true });
  for (const user of ['alice', 'bob', 'web', 'carol']) {
    await copyFile(path.join(LAB_DIR, 'keys', user), path.join(keys, user));
    await chmod(path.join(keys, user), 0o600);
  }
  const logs = new LogCollector();
  const server = await SftpServer.fromLab(LAB_DIR, dataDir, { log: createLogger('sftp', { sink: logs.sink, level: 'debug' }), ...serverOptions });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    port,
    base,
    dataDir,
    outside,
    keys,
    logs,
    home: (user) => homeDir(dataDir, user),
    async stop(keep = false) {
      await server.close();
      if (!keep) await rm(base, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// OpenSSH: sftp in batch mode, ssh.

/** Options every OpenSSH run gets: no user or system config, no known_hosts, never a prompt. */
const BASE_OPTIONS = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10'];
export const QUIET_OPTIONS = [...BASE_OPTIONS, '-o', 'LogLevel=ERROR'];


export interface SftpLogin {
  user?: string;
  /** Log in with this lab user's private key (default: the user's own). */
  key?: string;
  /** Log in with a password instead (through sshpass). */
  password?: string;
  /** Extra ssh options (`-o` pairs). */
  options?: string[];
}

/** `sftp -b batch`: each line a command; a line starting with `-` may fail without ending the batch. */
export async function sftpBatch(lab: RunningSftp, lines: string[], login: SftpLogin = {}): Promise<RunResult> {
  const user = login.user ?? 'alice';
  const batch = path.join(lab.base, `batch-${process.hrtime.bigint()}.txt`);
  await writeFile(batch, lines.join('\n') + '\n');
  // ssh takes the first value given for an option: the test's own options go first.
  const common = [...(login.options ?? []), ...QUIET_OPTIONS, '-b', batch, '-P', String(lab.port)];
  if (login.password !== undefined) {
    // sshpass answers the password prompt. `sftp -b` turns BatchMode on, which forbids
    // the prompt; an earlier BatchMode=no wins (ssh takes the first value given).
    return run('sshpass', ['-p', login.password, 'sftp', '-o', 'BatchMode=no', ...common, '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', `${user}@127.0.0.1`]);
  }
  const key = path.join(lab.keys, login.key ?? user);
  return run('sftp', [...common, '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=publickey', `${user}@127.0.0.1`]);
}

/** `ssh -p PORT -i key alice@127.0.0.1 ARGS...` */
export function ssh(lab: RunningSftp, args: string[], user = 'alice'): Promise<RunResult> {
  return run('ssh', [...QUIET_OPTIONS, '-p', String(lab.port), '-i', path.join(lab.keys, user), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', `${user}@127.0.0.1`, ...args]);
}

/** Start a long-running ssh (for port forwarding); resolves once its output shows `ready`. Stop it with stop(). */
export async function sshProcess(lab: RunningSftp, args: string[], ready: RegExp): Promise<Child> {
  const child = Child.start('ssh', [...BASE_OPTIONS, '-p', String(lab.port), '-i', path.join(lab.keys, 'alice'), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', ...args, 'alice@127.0.0.1'], { name: 'ssh' });
  try {
    await child.waitFor(ready);
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
  return child;
}

// ---------------------------------------------------------------------------
// ssh2's Client.

export interface Ssh2Login {
  user?: string;
  password?: string;
  /** A lab user whose private key to use. */
  key?: string;
  authHandler?: ConnectConfig['authHandler'];
  /** The algorithms the client offers (ssh2's `algorithms`), e.g. `{ compress: ['zlib'] }`. */
  algorithms?: ConnectConfig['algorithms'];
}

/** Connect and log in; rejects with the client's error (e.g. authentication failed). */
export function connect(port: number, login: Ssh2Login = { key: 'alice' }): Promise<Client> {
  const client = new Client();
  const user = login.user ?? login.key ?? 'alice';
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client));
    client.once('error', (err) => reject(err));
    client.once('close', () => reject(new Error('the server closed the connection before login')));
    client.on('error', () => {}); // later errors (the server going away) are the test's business
    client.connect({
      host: '127.0.0.1',
      port,
      username: user,
      ...(login.password !== undefined ? { password: login.password } : {}),
      ...(login.key ? { privateKey: readFileSync(path.join(LAB_DIR, 'keys', login.key)) } : {}),
      ...(login.authHandler ? { authHandler: login.authHandler } : {}),
      ...(login.algorithms ? { algorithms: login.algorithms } : {}),
      readyTimeout: 20000,
      keepaliveInterval: 0,
    });
  });
}

export function openSftp(client: Client): Promise<SFTPWrapper> {
  return within(new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)))), 'an SFTP session (a channel and the sftp subsystem)');
}

/** A client logged in as alice (by key) with one SFTP session. */
export async function sftpSession(port: number, login?: Ssh2Login): Promise<{ client: Client; sftp: SFTPWrapper }> {
  const client = await connect(port, login);
  return { client, sftp: await openSftp(client) };
}

/**
 * Promisify an ssh2 SFTP call: resolves with its result, or rejects with `{ code, message }`
 * when the server answered a STATUS error; a reply that never comes fails naming the call.
 */
export function call<T>(fn: (cb: (err: (Error & { code?: number }) | null | undefined, result?: T) => void) => void): Promise<T> {
  return within(new Promise((resolve, reject) => fn((err, result) => (err ? reject(err) : resolve(result as T)))), `the SFTP reply to ${fn.toString()}`);
}

/** The SFTP status code a call failed with (2 NO_SUCH_FILE, 3 PERMISSION_DENIED, 4 FAILURE, 8 OP_UNSUPPORTED), or 0 when it succeeded. */
export async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

export const STATUS = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const;

export function closeClient(client: Client): Promise<void> {
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.end();
  return within(closed, 'the SSH connection to close');
}

/** Resolves when the client's connection has closed (by the server), within the deadline. */
export function clientClosed(client: Client): Promise<void> {
  return within(new Promise<void>((resolve) => client.once('close', () => resolve())), 'the server to close the SSH connection');
}

// ---------------------------------------------------------------------------
// Checks after a bad case.

/** Every file and folder under `dir` with its type, mode, mtime and content hash: compare before and after. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (at: string): Promise<void> => {
    for (const name of (await readdir(at)).sort()) {
      const full = path.join(at, name);
      const info = await lstat(full);
      const rel = path.relative(dir, full);
      if (info.isDirectory()) {
        out[rel] = `dir ${info.mode.toString(8)} ${info.mtimeMs}`;
        await walk(full);
      } else {
        const hash = info.isFile() ? createHash('sha256').update(await readFile(full)).digest('hex') : 'link';
        out[rel] = `${info.mode.toString(8)} ${info.mtimeMs} ${info.size} ${hash}`;
      }
    }
  };
  await walk(dir);
  return out;
}

/** After a bad case: the server still serves the next client (OpenSSH, a listing and a download). */
export async function stillServes(lab: RunningSftp): Promise<void> {
  const result = await sftpBatch(lab, ['ls -l', 'get notes.txt ' + path.join(lab.base, 'still-serves.txt')]);
  if (result.code !== 0 || !/notes\.txt/.test(result.stdout)) {
    throw new Error(`the server no longer serves: code ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
}
