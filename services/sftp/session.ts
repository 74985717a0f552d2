import type { Stats as FsStats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import { utils, type SFTPWrapper } from 'ssh2';
import { confine, confineReal } from '../common/jail';
import type { Fields, Logger } from '../common/logger';
import { checkLength, clientView, shownLinkTarget } from './clientPath';
import { closeOpen, HandleTable, type Open } from './handles';
import { longname } from './listing';
import { offerExtensions, sendExtendedReply, ssh2SwapsSymlinkPaths } from './packets';
import { SftpStatusError, statusFor, type Reply } from './replies';

/**
 * One SFTP channel: the plumbing around a request table (handlers.ts). ssh2 parses the
 * packets and emits one event per request; this class queues them, runs each handler,
 * sends its one reply and writes one log line per request. A session answers its
 * requests one at a time, in order, so a CLOSE never overtakes the WRITE before it.
 */

const { STATUS_CODE } = utils.sftp;

/** A request's handler: the request's fields in, the one reply out; it throws to refuse (replies.ts). */
export type RequestHandler = (s: SftpSession, ...args: never[]) => Promise<Reply>;

export interface SessionOptions {
  /** The requests answered, by ssh2's event name (`OPEN`, `READ`, ...); others get OP_UNSUPPORTED from ssh2. */
  requests: Readonly<Record<string, RequestHandler>>;
  /** The extensions named in the VERSION packet, with their versions: `{ 'hardlink@openssh.com': '1' }`. */
  extensions: Readonly<Record<string, string>>;
  /** The user's home, as a real path (no symlinks in it): `/` for the client. */
  home: string;
  /** The lab user, shown as the owner in listings. */
  user: string;
  /** The client's software, from its version line (`OpenSSH_9.2p1`, `paramiko_2.12.0`): for SYMLINK's argument order. */
  clientSoftware: string;
  /** Lines carry the connection id already. */
  log: Logger;
  /** Open files and folders at once; one more OPEN or OPENDIR gets FAILURE. */
  maxOpenHandles: number;
  /** The most bytes one READ returns; a bigger request gets a short read, which SFTP allows. */
  maxReadBytes: number;
  /** Called on every request (the connection's idle timer). */
  onActivity?: () => void;
  /** Called with +1 when a request is queued and -1 when it is done (the connection stops reading when too many wait). */
  onBacklog?: (delta: number) => void;
}

/** Requests that are routine and frequent: logged at debug when they succeed. */
const QUIET = new Set(['READ', 'WRITE', 'READDIR', 'STAT', 'LSTAT', 'FSTAT', 'REALPATH']);

/**
 * SSH_FXP_SYMLINK carries two paths, and clients disagree on their order. The draft says
 * linkpath, then targetpath (draft-02 6.10); OpenSSH sends the target first (its PROTOCOL
 * file, 4.1, owns up to the swap) and so do clients written against it, whatever the
 * server: paramiko, and Go's (pkg/sftp, rclone). Clients that look at the server's name
 * (ssh2's, WinSCP, libssh) use the draft's order with a server not called OpenSSH, as this one.
 */
const TARGET_FIRST = /^(OpenSSH|dropbear|paramiko|Go\b)/;

export function symlinkTargetFirst(clientSoftware: string): boolean {
  return TARGET_FIRST.test(clientSoftware);
}

export class SftpSession {
  readonly handles: HandleTable<Open>;
  /** Resolves when the channel has closed and every handle it left open is closed. */
  readonly finished: Promise<void>;
  private readonly queue: { op: string; reqid: number; args: unknown[] }[] = [];
  private work: Promise<void> = Promise.resolve();
  private running = false;
  private closed = false;
  private fields: Fields = {};
  /** Who waits for the uploads in progress to be closed (a shutdown). */
  private settledWaiters: (() => void)[] = [];

  constructor(
    private readonly sftp: SFTPWrapper,
    readonly options: SessionOptions,
  ) {
    this.handles = new HandleTable(options.maxOpenHandles);
    offerExtensions(sftp, options.extensions);
    for (const op of Object.keys(options.requests)) {
      sftp.on(op, (reqid: number, ...args: unknown[]) => this.enqueue(op, reqid, args));
    }
    // A malformed packet: ssh2 emits 'error' and closes the channel. Without this
    // listener the error would end the whole process.
    sftp.on('error', (e: Error) => options.log.warn('sftp protocol error', { error: e.message }));
    sftp.on('end', () => {
      // The client's side is gone. Closing ours writes a CHANNEL_CLOSE, which ssh2's
      // compressor (zlib@openssh.com) throws on when the connection closed first: the
      // channel is closed either way, and a throw here would end the process.
      try {
        sftp.end();
      } catch (e) {
        options.log.debug('sftp channel closed with its connection', { error: (e as Error).message });
      }
    });
    this.finished = new Promise((resolve) => sftp.once('close', () => void this.onClose().then(resolve)));
  }

  get home(): string {
    return this.options.home;
  }

  /** Fields for this request's log line. */
  note(fields: Fields): void {
    Object.assign(this.fields, fields);
  }

  /** A client path from a request: length-checked and noted for the log. */
  path(clientPath: string, key = 'path'): string {
    this.note({ [key]: clientPath.length > 200 ? `${clientPath.slice(0, 200)}...` : clientPath });
    return checkLength(clientPath);
  }

  /** SYMLINK's two paths as ssh2 handed them over, as the link and its target: see TARGET_FIRST. */
  symlinkPaths(a: string, b: string): { link: string; target: string } {
    const [first, second] = ssh2SwapsSymlinkPaths(this.sftp) ? [b, a] : [a, b]; // back to the order on the wire
    return symlinkTargetFirst(this.options.clientSoftware) ? { target: first, link: second } : { link: first, target: second };
  }

  /** A file is open for writing: an upload is under way until its CLOSE. */
  get uploading(): boolean {
    return this.handles.values().some((open) => open.kind === 'file' && open.writable);
  }

  /** Resolves once no file is open for writing (looked at after each request) or the channel has closed. */
  settled(): Promise<void> {
    if (!this.uploading || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private wakeSettled(): void {
    if (this.uploading && !this.closed) return;
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  private enqueue(op: string, reqid: number, args: unknown[]): void {
    if (this.closed) return;
    this.options.onActivity?.();
    this.options.onBacklog?.(1);
    this.queue.push({ op, reqid, args });
    if (!this.running) {
      this.running = true;
      this.work = this.run().finally(() => (this.running = false));
    }
  }

  private async run(): Promise<void> {
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      try {
        if (!this.closed) await this.execute(item.op, item.reqid, item.args);
      } finally {
        this.options.onBacklog?.(-1);
        this.wakeSettled();
      }
    }
  }

  private async execute(op: string, reqid: number, args: unknown[]): Promise<void> {
    this.fields = {};
    const handler = this.options.requests[op] as (s: SftpSession, ...a: unknown[]) => Promise<Reply>;
    let reply: Reply;
    try {
      reply = await handler(this, ...args);
    } catch (e) {
      reply = this.failure(op, e);
    }
    if ('extended' in reply && !this.closed && !sendExtendedReply(this.sftp, reqid, reply.extended)) {
      reply = { status: 'FAILURE', message: 'the client is not reading its replies; try again' };
    }
    const status = 'status' in reply ? reply.status : 'OK';
    // Routine successes at debug; refusals (a path out of the home, a limit) at warn.
    const level = status === 'OK' || status === 'EOF' ? (QUIET.has(op) ? 'debug' : 'info') : status === 'PERMISSION_DENIED' ? 'warn' : 'info';
    this.options.log[level]('request', { op, ...this.fields, status, reason: 'status' in reply && status !== 'OK' && status !== 'EOF' ? reply.message : undefined });
    if (this.closed) return; // the client is gone: nobody to answer
    if ('status' in reply) this.sftp.status(reqid, STATUS_CODE[reply.status], reply.message);
    else if ('handle' in reply) this.sftp.handle(reqid, reply.handle);
    else if ('data' in reply) this.sftp.data(reqid, reply.data);
    else if ('names' in reply) this.sftp.name(reqid, reply.names);
    else if ('attrs' in reply) this.sftp.attrs(reqid, reply.attrs);
    // an extended reply went out above
  }

  /** An error as a STATUS reply; one nobody expected is logged, and FAILURE. */
  private failure(op: string, e: unknown): Reply {
    const known = statusFor(e);
    if (known) return known;
    this.options.log.error('request failed', { op, error: e instanceof Error ? e.message : String(e) });
    return { status: 'FAILURE', message: 'the server could not do that' };
  }

  /** The channel closed (the client said so, or the connection dropped): finish the request in progress, then close what it left open. */
  private async onClose(): Promise<void> {
    this.closed = true;
    this.wakeSettled();
    await this.work;
    const left = this.handles.drain();
    await Promise.all(left.map((h) => closeOpen(h).catch(() => {})));
    this.options.log.info('sftp session closed', { closedHandles: left.length });
  }

  // ---------------------------------------------------------------------------
  // What the handlers share.

  /** Open a new handle, or FAILURE at the limit (the file is not opened or created then). */
  checkHandleRoom(): void {
    if (this.handles.size >= this.handles.limit) {
      this.note({ open: this.handles.size });
      throw new SftpStatusError('FAILURE', `too many open handles (at most ${this.handles.limit}); close some first`);
    }
  }

  openHandle(value: Open): Buffer {
    const handle = this.handles.add(value);
    if (!handle) throw new SftpStatusError('FAILURE', `too many open handles (at most ${this.handles.limit})`);
    return handle;
  }

  file(handle: Buffer): Extract<Open, { kind: 'file' }> {
    const open = this.handles.get(handle);
    if (open?.kind !== 'file') throw new SftpStatusError('FAILURE', 'not an open file handle');
    this.note({ path: open.path });
    return open;
  }

  dir(handle: Buffer): Extract<Open, { kind: 'dir' }> {
    const open = this.handles.get(handle);
    if (open?.kind !== 'dir') throw new SftpStatusError('FAILURE', 'not an open folder handle');
    this.note({ path: open.path });
    return open;
  }

  /**
   * A path's own entry in its folder, the last part not followed if it is a link:
   * for LSTAT, READLINK, REMOVE, RMDIR and RENAME's source. The folder must resolve
   * inside the home (confineReal); the entry may be a link that leads out, since these
   * requests look at or remove the link, never what it points to.
   */
  async entry(clientPath: string): Promise<{ real: string; folder: string; isHome: boolean }> {
    const candidate = confine(this.home, clientPath);
    if (candidate === this.home) return { real: this.home, folder: this.home, isHome: true };
    const folder = await confineReal(this.home, clientView(this.home, path.dirname(candidate)));
    return { real: path.join(folder, path.basename(candidate)), folder, isHome: false };
  }

  /** The `ls -l` line of an entry, with where a link points when that is inside the home. */
  async describe(name: string, real: string, info: FsStats): Promise<string> {
    let target: string | undefined;
    if (info.isSymbolicLink()) {
      const raw = await readlink(real).catch(() => undefined);
      target = raw === undefined ? undefined : shownLinkTarget(this.home, path.dirname(real), raw);
    }
    return longname(name, info, this.options.user, target);
  }
}
