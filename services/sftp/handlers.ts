import { constants, type Dir, type Stats as FsStats } from 'node:fs';
import { chmod, lstat, mkdir, open, opendir, readlink, realpath, rename, rmdir, stat, symlink, truncate, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { utils, type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import { confine, confineForWrite, confineReal, JailError } from '../common/jail';
import type { Fields, Logger } from '../common/logger';
import { canonical, checkLength, clientView, linkTargetForJail, PathTooLongError, shownLinkTarget } from './clientPath';
import { HandleTable } from './handles';
import { attrsOf, longname } from './listing';

/**
 * The SFTP requests (SFTP version 3, draft-ietf-secsh-filexfer-02), one handler each.
 * ssh2 parses the packets and hands over raw requests; everything a file server
 * decides is here: where a path is on the disk (always inside the user's home, through
 * the jail), the open handles and their limit, and which status code a failure gets.
 *
 *   C: OPEN "/notes.txt" READ              S: HANDLE 00000001
 *   C: READ 00000001 offset 0 len 32768    S: DATA (the bytes)
 *   C: READ 00000001 offset 123 len 32768  S: STATUS EOF
 *   C: CLOSE 00000001                      S: STATUS OK
 *
 * Every request gets exactly one reply: a STATUS (OK, EOF, NO_SUCH_FILE,
 * PERMISSION_DENIED, FAILURE, OP_UNSUPPORTED), or HANDLE, DATA, NAME or ATTRS.
 * A session answers its requests one at a time, in order, so a CLOSE never overtakes
 * the WRITE before it.
 */

const { STATUS_CODE, OPEN_MODE } = utils.sftp;
export type StatusName = 'OK' | 'EOF' | 'NO_SUCH_FILE' | 'PERMISSION_DENIED' | 'FAILURE' | 'BAD_MESSAGE' | 'OP_UNSUPPORTED';

/** A failure with the status code the client should get. */
export class SftpStatusError extends Error {
  constructor(readonly status: StatusName, message: string) {
    super(message);
    this.name = 'SftpStatusError';
  }
}

type Reply =
  | { status: StatusName; message: string }
  | { handle: Buffer }
  | { data: Buffer }
  | { names: FileEntry[] }
  | { attrs: Attributes };

const OK: Reply = { status: 'OK', message: 'OK' };

type OpenFile = { kind: 'file'; fh: FileHandle; path: string; readable: boolean; writable: boolean; bytesRead: number; bytesWritten: number };
type OpenDir = { kind: 'dir'; dir: Dir; real: string; path: string; done: boolean };
type Open = OpenFile | OpenDir;

export interface SessionOptions {
  /** The user's home, as a real path (no symlinks in it): `/` for the client. */
  home: string;
  /** The lab user, shown as the owner in listings. */
  user: string;
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

/** Entries per READDIR reply. */
const DIR_BATCH = 100;
/** Requests that are routine and frequent: logged at debug when they succeed. */
const QUIET = new Set(['READ', 'WRITE', 'READDIR', 'STAT', 'LSTAT', 'FSTAT', 'REALPATH']);

/** One SFTP channel: its handle table, its queue of requests, its log lines. */
export class SftpSession {
  readonly handles: HandleTable<Open>;
  /** Resolves when the channel has closed and every handle it left open is closed. */
  readonly finished: Promise<void>;
  private readonly queue: { op: string; reqid: number; args: unknown[] }[] = [];
  private work: Promise<void> = Promise.resolve();
  private running = false;
  private closed = false;
  private fields: Fields = {};

  constructor(
    private readonly sftp: SFTPWrapper,
    readonly options: SessionOptions,
  ) {
    this.handles = new HandleTable(options.maxOpenHandles);
    for (const op of Object.keys(REQUESTS)) {
      sftp.on(op, (reqid: number, ...args: unknown[]) => this.enqueue(op, reqid, args));
    }
    // A malformed packet: ssh2 emits 'error' and closes the channel. Without this
    // listener the error would end the whole process.
    sftp.on('error', (e: Error) => options.log.warn('sftp protocol error', { error: e.message }));
    sftp.on('end', () => sftp.end());
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
      }
    }
  }

  private async execute(op: string, reqid: number, args: unknown[]): Promise<void> {
    this.fields = {};
    const handler = REQUESTS[op] as (s: SftpSession, ...a: unknown[]) => Promise<Reply>;
    let reply: Reply;
    try {
      reply = await handler(this, ...args);
    } catch (e) {
      reply = this.failure(op, e);
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
    else this.sftp.attrs(reqid, reply.attrs);
  }

  /** An error as a STATUS reply. The message never carries a host path. */
  private failure(op: string, e: unknown): Reply {
    if (e instanceof SftpStatusError) return { status: e.status, message: e.message };
    if (e instanceof JailError) return { status: 'PERMISSION_DENIED', message: `refused: ${e.reason.replace('the root', 'your home')}` };
    if (e instanceof PathTooLongError) return { status: 'FAILURE', message: e.message };
    const code = (e as NodeJS.ErrnoException).code;
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
        return { status: 'NO_SUCH_FILE', message: 'no such file or folder' };
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return { status: 'PERMISSION_DENIED', message: 'permission denied' };
      case 'EEXIST':
        return { status: 'FAILURE', message: 'already exists' };
      case 'ENOTEMPTY':
        return { status: 'FAILURE', message: 'the folder is not empty' };
      case 'EISDIR':
        return { status: 'FAILURE', message: 'is a folder' };
      case 'EINVAL':
        return { status: 'FAILURE', message: 'invalid request' };
      case 'ENAMETOOLONG':
      case 'ELOOP':
      case 'ENOSPC':
      case 'EDQUOT':
      case 'EFBIG':
        return { status: 'FAILURE', message: code === 'ELOOP' ? 'too many levels of symbolic links' : `cannot: ${code}` };
      default:
        this.options.log.error('request failed', { op, error: e instanceof Error ? e.message : String(e) });
        return { status: 'FAILURE', message: 'the server could not do that' };
    }
  }

  /** The channel closed (the client said so, or the connection dropped): finish the request in progress, then close what it left open. */
  private async onClose(): Promise<void> {
    this.closed = true;
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

  file(handle: Buffer): OpenFile {
    const open = this.handles.get(handle);
    if (open?.kind !== 'file') throw new SftpStatusError('FAILURE', 'not an open file handle');
    this.note({ path: open.path });
    return open;
  }

  dir(handle: Buffer): OpenDir {
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

function closeOpen(open: Open): Promise<void> {
  return open.kind === 'file' ? open.fh.close() : open.dir.close();
}

/** SFTP open flags (draft-02 6.3) as open(2) flags. */
function openFlags(pflags: number): { flags: number; readable: boolean; writable: boolean; creates: boolean } {
  const readable = (pflags & OPEN_MODE.READ) !== 0;
  const writable = (pflags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND)) !== 0;
  let flags = readable && writable ? constants.O_RDWR : writable ? constants.O_WRONLY : constants.O_RDONLY;
  if (pflags & OPEN_MODE.APPEND) flags |= constants.O_APPEND;
  if (pflags & OPEN_MODE.CREAT) flags |= constants.O_CREAT;
  if (pflags & OPEN_MODE.TRUNC) flags |= constants.O_TRUNC;
  if (pflags & OPEN_MODE.EXCL) flags |= constants.O_EXCL;
  // Never wait on a FIFO a lab may contain; only regular files are served anyway.
  flags |= constants.O_NONBLOCK;
  const creates = (pflags & (OPEN_MODE.CREAT | OPEN_MODE.TRUNC)) !== 0;
  return { flags, readable, writable, creates };
}

function describeFlags(pflags: number): string {
  const names = (Object.keys(OPEN_MODE) as (keyof typeof OPEN_MODE)[]).filter((k) => typeof OPEN_MODE[k] === 'number' && pflags & OPEN_MODE[k]);
  return names.map((n) => n.toLowerCase()).join(',') || 'none';
}

/** Permission bits a client may set: rwx for owner, group and others; never setuid, setgid or sticky on the lab's disk. */
const MODE_BITS = 0o777;

/** SETSTAT / FSETSTAT (draft-02 6.9): size, permissions and times; changing the owner is not offered. */
async function applyAttrs(
  s: SftpSession,
  attrs: Partial<Attributes>,
  target: { truncate(size: number): Promise<void>; chmod(mode: number): Promise<void>; utimes(atime: number, mtime: number): Promise<void> },
): Promise<Reply> {
  if (attrs.uid !== undefined || attrs.gid !== undefined) {
    throw new SftpStatusError('OP_UNSUPPORTED', 'changing the owner is not supported here');
  }
  const changed: string[] = [];
  if (typeof attrs.size === 'number') {
    await target.truncate(attrs.size);
    changed.push(`size=${attrs.size}`);
  }
  if (typeof attrs.mode === 'number') {
    await target.chmod(attrs.mode & MODE_BITS);
    changed.push(`mode=${(attrs.mode & MODE_BITS).toString(8)}`);
  }
  if (typeof attrs.atime === 'number' && typeof attrs.mtime === 'number') {
    await target.utimes(attrs.atime, attrs.mtime);
    changed.push(`mtime=${attrs.mtime}`);
  }
  s.note({ set: changed.join(' ') || 'nothing' });
  return OK;
}

function pathTarget(real: string): Parameters<typeof applyAttrs>[2] {
  return { truncate: (n) => truncate(real, n), chmod: (m) => chmod(real, m), utimes: (a, m) => utimes(real, a, m) };
}

const NO_ATTRS = {} as Attributes;

// -----------------------------------------------------------------------------
// The requests. Reading uses confineReal (the path and every link on it must stay in
// the home); creating and writing use confineForWrite (the folder it goes into must).

const REQUESTS: Record<string, (s: SftpSession, ...args: never[]) => Promise<Reply>> = {
  /** Where is this path, canonically? The client asks for "." first: its starting folder, `/`. */
  async REALPATH(s, clientPath: string) {
    const canon = canonical(s.path(clientPath));
    confine(s.home, canon); // NUL and backslashes are refused here too
    s.note({ result: canon });
    return { names: [{ filename: canon, longname: canon, attrs: NO_ATTRS }] };
  },

  async STAT(s, clientPath: string) {
    const real = await confineReal(s.home, s.path(clientPath));
    return { attrs: attrsOf(await stat(real)) };
  },

  /** STAT without following a final link: what `ls -l` shows for a link. */
  async LSTAT(s, clientPath: string) {
    const { real } = await s.entry(s.path(clientPath));
    return { attrs: attrsOf(await lstat(real)) };
  },

  async FSTAT(s, handle: Buffer) {
    const open = s.handles.get(handle);
    if (open?.kind === 'dir') return { attrs: attrsOf(await stat(s.dir(handle).real)) };
    return { attrs: attrsOf(await s.file(handle).fh.stat()) };
  },

  async OPEN(s, clientPath: string, pflags: number, attrs: Partial<Attributes>) {
    const wanted = openFlags(pflags);
    s.path(clientPath);
    s.note({ flags: describeFlags(pflags) });
    s.checkHandleRoom();
    const real = wanted.writable || wanted.creates ? await confineForWrite(s.home, clientPath) : await confineReal(s.home, clientPath);
    const mode = typeof attrs.mode === 'number' ? attrs.mode & MODE_BITS : 0o644;
    const fh = await open(real, wanted.flags, mode);
    try {
      const info = await fh.stat();
      if (info.isDirectory()) throw new SftpStatusError('FAILURE', 'is a folder: use OPENDIR to list it');
      if (!info.isFile()) throw new SftpStatusError('PERMISSION_DENIED', 'not a regular file');
      const view = clientView(s.home, path.resolve(real));
      const handle = s.openHandle({ kind: 'file', fh, path: view, readable: wanted.readable, writable: wanted.writable, bytesRead: 0, bytesWritten: 0 });
      s.note({ handles: s.handles.size });
      return { handle };
    } catch (e) {
      await fh.close();
      throw e;
    }
  },

  async READ(s, handle: Buffer, offset: number, length: number) {
    const file = s.file(handle);
    if (!file.readable) throw new SftpStatusError('PERMISSION_DENIED', 'the file was not opened for reading');
    const wanted = Math.min(length, s.options.maxReadBytes);
    s.note({ offset, length, wanted });
    const buffer = Buffer.alloc(wanted);
    const { bytesRead } = await file.fh.read(buffer, 0, wanted, offset);
    if (bytesRead === 0 && wanted > 0) return { status: 'EOF', message: 'end of file' };
    file.bytesRead += bytesRead;
    return { data: buffer.subarray(0, bytesRead) };
  },

  async WRITE(s, handle: Buffer, offset: number, data: Buffer) {
    const file = s.file(handle);
    if (!file.writable) throw new SftpStatusError('PERMISSION_DENIED', 'the file was not opened for writing');
    s.note({ offset, length: data.length });
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await file.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    file.bytesWritten += done;
    return OK;
  },

  async CLOSE(s, handle: Buffer) {
    const open = s.handles.remove(handle);
    if (!open) throw new SftpStatusError('FAILURE', 'not an open handle');
    s.note(open.kind === 'file' ? { path: open.path, read: open.bytesRead, written: open.bytesWritten } : { path: open.path, folder: true });
    await closeOpen(open);
    return OK;
  },

  async OPENDIR(s, clientPath: string) {
    s.checkHandleRoom();
    const real = await confineReal(s.home, s.path(clientPath));
    const dir = await opendir(real); // ENOTDIR for a file: NO_SUCH_FILE, as OpenSSH answers
    const handle = s.handles.add({ kind: 'dir', dir, real, path: clientView(s.home, real), done: false });
    if (!handle) {
      await dir.close();
      throw new SftpStatusError('FAILURE', `too many open handles (at most ${s.handles.limit})`);
    }
    return { handle };
  },

  /** The next entries of an open folder, then EOF. `.` and `..` are not listed. */
  async READDIR(s, handle: Buffer) {
    const open = s.dir(handle);
    const names: FileEntry[] = [];
    while (!open.done && names.length < DIR_BATCH) {
      const dirent = await open.dir.read();
      if (!dirent) {
        open.done = true;
        break;
      }
      const real = path.join(open.real, dirent.name);
      const info = await lstat(real).catch(() => undefined); // gone meanwhile: skip it
      if (!info) continue;
      names.push({ filename: dirent.name, longname: await s.describe(dirent.name, real, info), attrs: attrsOf(info) });
    }
    if (names.length === 0) return { status: 'EOF', message: 'no more entries' };
    s.note({ entries: names.length });
    return { names };
  },

  async REMOVE(s, clientPath: string) {
    const { real, isHome } = await s.entry(s.path(clientPath));
    if (isHome) throw new SftpStatusError('PERMISSION_DENIED', 'that is your home folder');
    if ((await lstat(real)).isDirectory()) throw new SftpStatusError('FAILURE', 'is a folder: use RMDIR (rmdir) to remove it');
    await unlink(real);
    return OK;
  },

  async MKDIR(s, clientPath: string, attrs: Partial<Attributes>) {
    const real = await confineForWrite(s.home, s.path(clientPath));
    await mkdir(real, typeof attrs.mode === 'number' ? attrs.mode & MODE_BITS : 0o755);
    return OK;
  },

  async RMDIR(s, clientPath: string) {
    const { real, isHome } = await s.entry(s.path(clientPath));
    if (isHome) throw new SftpStatusError('PERMISSION_DENIED', 'that is your home folder');
    await rmdir(real);
    return OK;
  },

  /**
   * RENAME (draft-02 6.5): as OpenSSH's server does for version 3, an existing target
   * is not replaced: FAILURE. A link is moved only if it still points inside the home
   * from its new folder (a relative target means something else elsewhere).
   */
  async RENAME(s, from: string, to: string) {
    s.path(from, 'from');
    s.path(to, 'to');
    const source = await s.entry(from);
    if (source.isHome) throw new SftpStatusError('PERMISSION_DENIED', 'that is your home folder');
    const info = await lstat(source.real);
    const candidate = await confineForWrite(s.home, to);
    if (candidate === s.home) throw new SftpStatusError('FAILURE', 'already exists');
    const folder = await realpath(path.dirname(candidate));
    const target = path.join(folder, path.basename(candidate));
    if (await lstat(target).then(() => true, () => false)) throw new SftpStatusError('FAILURE', 'already exists');
    if (info.isSymbolicLink() && shownLinkTarget(s.home, folder, await readlink(source.real)) === undefined) {
      throw new SftpStatusError('PERMISSION_DENIED', 'refused: there the link would lead out of your home');
    }
    await rename(source.real, target);
    return OK;
  },

  /** Where a link points, as the client may see it: relative as stored, or from `/`; never a host path. */
  async READLINK(s, clientPath: string) {
    const { real, folder } = await s.entry(s.path(clientPath));
    const shown = shownLinkTarget(s.home, folder, await readlink(real));
    if (shown === undefined) throw new SftpStatusError('PERMISSION_DENIED', 'refused: the link leads out of your home');
    s.note({ target: shown });
    return { names: [{ filename: shown, longname: shown, attrs: NO_ATTRS }] };
  },

  /**
   * SYMLINK: a new link whose target must exist inside the home (a link to /etc/passwd
   * is refused). Stored relative to the link's folder, so it works the same for the
   * web server and survives a move of the data directory.
   */
  async SYMLINK(s, linkPath: string, targetPath: string) {
    s.path(targetPath, 'target');
    const link = await confineForWrite(s.home, s.path(linkPath, 'link'));
    if (link === s.home) throw new SftpStatusError('FAILURE', 'already exists');
    const targetReal = await confineReal(s.home, linkTargetForJail(linkPath, targetPath));
    const folder = await realpath(path.dirname(link));
    await symlink(path.relative(folder, targetReal) || '.', path.join(folder, path.basename(link)));
    return OK;
  },

  async SETSTAT(s, clientPath: string, attrs: Partial<Attributes>) {
    const real = await confineReal(s.home, s.path(clientPath));
    return applyAttrs(s, attrs, pathTarget(real));
  },

  async FSETSTAT(s, handle: Buffer, attrs: Partial<Attributes>) {
    const open = s.handles.get(handle);
    if (open?.kind === 'dir') return applyAttrs(s, attrs, pathTarget(s.dir(handle).real));
    const { fh } = s.file(handle);
    return applyAttrs(s, attrs, { truncate: (n) => fh.truncate(n), chmod: (m) => fh.chmod(m), utimes: (a, m) => fh.utimes(a, m) });
  },

  /** Vendor extensions (posix-rename@openssh.com, statvfs, ...): this server offers none. */
  async EXTENDED(s, name: string) {
    s.note({ name: String(name).slice(0, 64) });
    return { status: 'OP_UNSUPPORTED', message: `extension ${String(name).slice(0, 64)} is not supported` };
  },
};
