import { constants } from 'node:fs';
import { chmod, link, lstat, mkdir, open, opendir, readdir, readlink, realpath, rename, rmdir, stat, statfs, symlink, truncate, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { utils, type Attributes, type FileEntry } from 'ssh2';
import { confine, confineForWrite, confineReal } from '../common/jail';
import { canonical, clientView, linkTargetForJail, shownLinkTarget } from './clientPath';
import { closeOpen, readAt, writeAt } from './handles';
import { attrsOf } from './listing';
import { readStrings, uint64s } from './packets';
import { NO_ATTRS, OK, SftpStatusError, type Reply } from './replies';
import type { RequestHandler, SftpSession } from './session';

/**
 * The SFTP requests (SFTP version 3, draft-ietf-secsh-filexfer-02), one handler each,
 * and the OpenSSH extensions after them. ssh2 parses the packets and hands over raw
 * requests; session.ts queues them and sends each handler's reply. Everything a file
 * server decides is here: where a path is on the disk (always inside the user's home,
 * through the jail), the open handles, and what each request answers.
 *
 *   C: OPEN "/notes.txt" READ              S: HANDLE 00000001
 *   C: READ 00000001 offset 0 len 32768    S: DATA (the bytes)
 *   C: READ 00000001 offset 123 len 32768  S: STATUS EOF
 *   C: CLOSE 00000001                      S: STATUS OK
 *
 * Reading uses confineReal (the path and every link on it must stay in the home);
 * creating and writing use confineForWrite (the folder it goes into must). A handler
 * throws to refuse; replies.ts turns the error into the STATUS the client gets.
 */

export const REQUESTS: Record<string, RequestHandler> = {
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
    const bytesRead = readAt(file, buffer, offset);
    if (bytesRead === 0 && wanted > 0) return { status: 'EOF', message: 'end of file' };
    file.bytesRead += bytesRead;
    return { data: buffer.subarray(0, bytesRead) };
  },

  async WRITE(s, handle: Buffer, offset: number, data: Buffer) {
    const file = s.file(handle);
    if (!file.writable) throw new SftpStatusError('PERMISSION_DENIED', 'the file was not opened for writing');
    s.note({ offset, length: data.length });
    writeAt(file, data, offset);
    file.bytesWritten += data.length;
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

  /** RENAME (draft-02 6.5): as OpenSSH's server does for version 3, an existing target is not replaced: FAILURE. */
  async RENAME(s, from: string, to: string) {
    return move(s, from, to, 'keep');
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
   * web server and survives a move of the data directory. Which of the two paths is
   * the link depends on the client: see symlinkPaths() in session.ts.
   */
  async SYMLINK(s, first: string, second: string) {
    const { link: linkPath, target: targetPath } = s.symlinkPaths(first, second);
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

  /** A vendor extension (draft-02 8): one of EXTENDED_REQUESTS below, or OP_UNSUPPORTED. */
  async EXTENDED(s, name: string, data: Buffer | undefined) {
    const shown = String(name).slice(0, 64);
    s.note({ name: shown });
    const extension = Object.hasOwn(EXTENDED_REQUESTS, name) ? EXTENDED_REQUESTS[name] : undefined;
    if (!extension) return { status: 'OP_UNSUPPORTED', message: `extension ${shown} is not supported` };
    return extension.run(s, data);
  },
};

/**
 * OpenSSH's extensions to version 3 that clients expect (OpenSSH's PROTOCOL file, 4),
 * each named with its version in the server's VERSION packet (packets.ts), so a client
 * knows it may send them. Their fields follow the name in SSH_FXP_EXTENDED.
 */
export const EXTENDED_REQUESTS: Record<string, { version: string; run(s: SftpSession, data: Buffer | undefined): Promise<Reply> }> = {
  /** rename(2): an existing target is replaced, atomically (PROTOCOL 4.3). OpenSSH's `rename` uses it when offered. */
  'posix-rename@openssh.com': {
    version: '1',
    async run(s, data) {
      const [from, to] = readStrings(data, 2) as [string, string];
      return move(s, from, to, 'replace');
    },
  },

  /** The file system's size and free space, statvfs(3)'s numbers (PROTOCOL 4.4): `df` in OpenSSH's sftp. */
  'statvfs@openssh.com': {
    version: '2',
    async run(s, data) {
      const [clientPath] = readStrings(data, 1) as [string];
      const fs = await statfs(await confineReal(s.home, s.path(clientPath)), { bigint: true });
      // bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax.
      // The file system id is the host's business: 0. No flags (read-only, nosuid).
      return { extended: uint64s([fs.bsize, fs.bsize, fs.blocks, fs.bfree, fs.bavail, fs.files, fs.ffree, fs.ffree, 0n, 0n, 255n]) };
    },
  },

  /**
   * link(2): a second name for a file (PROTOCOL 4.5): `ln` without -s. The file is
   * found with every link on its path followed, and must be inside the home: a second
   * name for a file outside the home is impossible, whatever link leads there. (A hard
   * link to a symbolic link is a hard link to its file.)
   */
  'hardlink@openssh.com': {
    version: '1',
    async run(s, data) {
      const [from, to] = readStrings(data, 2) as [string, string];
      const existing = await confineReal(s.home, s.path(from, 'from'));
      if (!(await stat(existing)).isFile()) throw new SftpStatusError('FAILURE', 'only a file can have a second name');
      const candidate = await confineForWrite(s.home, s.path(to, 'to'));
      if (candidate === s.home) throw new SftpStatusError('FAILURE', 'already exists');
      const folder = await realpath(path.dirname(candidate));
      await link(existing, path.join(folder, path.basename(candidate)));
      return OK;
    },
  },
};

/** The extensions and their versions, for the VERSION packet. */
export const EXTENSION_VERSIONS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(EXTENDED_REQUESTS).map(([name, e]) => [name, e.version]));

// -----------------------------------------------------------------------------
// What the handlers share.

const { OPEN_MODE } = utils.sftp;

/** Entries per READDIR reply. */
const DIR_BATCH = 100;

/** Permission bits a client may set: rwx for owner, group and others; never setuid, setgid or sticky on the lab's disk. */
const MODE_BITS = 0o777;

/**
 * RENAME and posix-rename: move an entry (a link is moved, not followed). A link is
 * moved only if it still points inside the home from its new folder (a relative target
 * means something else elsewhere). `keep`: an existing target is FAILURE; `replace`:
 * it is replaced, as rename(2) does.
 */
async function move(s: SftpSession, from: string, to: string, existing: 'keep' | 'replace'): Promise<Reply> {
  s.path(from, 'from');
  s.path(to, 'to');
  const source = await s.entry(from);
  if (source.isHome) throw new SftpStatusError('PERMISSION_DENIED', 'that is your home folder');
  const info = await lstat(source.real);
  const candidate = await confineForWrite(s.home, to);
  if (candidate === s.home) throw new SftpStatusError('FAILURE', 'already exists');
  const folder = await realpath(path.dirname(candidate));
  const target = path.join(folder, path.basename(candidate));
  if (existing === 'keep' && (await lstat(target).then(() => true, () => false))) throw new SftpStatusError('FAILURE', 'already exists');
  if (info.isSymbolicLink() && shownLinkTarget(s.home, folder, await readlink(source.real)) === undefined) {
    throw new SftpStatusError('PERMISSION_DENIED', 'refused: there the link would lead out of your home');
  }
  // A folder carries its links along: a relative one (`../x`) leads elsewhere from the new place.
  if (info.isDirectory()) {
    const escaping = await linkLeavingHome(s.home, source.real, target);
    if (escaping) throw new SftpStatusError('PERMISSION_DENIED', `refused: from there the link ${clientView(s.home, path.join(source.real, escaping))} would lead out of your home`);
  }
  await rename(source.real, target);
  return OK;
}

/** Entries a folder move looks through for links; a bigger tree is refused (FAILURE) rather than moved unchecked. */
const MOVE_CHECK_ENTRIES = 10_000;

/**
 * The first link under `folder` (its path relative to it) that would lead out of `home`
 * once `folder` is moved to `to`, or undefined. Links are never followed on the walk.
 */
async function linkLeavingHome(home: string, folder: string, to: string): Promise<string | undefined> {
  const pending = [''];
  let seen = 0;
  for (let rel = pending.pop(); rel !== undefined; rel = pending.pop()) {
    for (const entry of await readdir(path.join(folder, rel), { withFileTypes: true })) {
      if (++seen > MOVE_CHECK_ENTRIES) throw new SftpStatusError('FAILURE', `refused: more than ${MOVE_CHECK_ENTRIES} entries in that folder to check for links`);
      const inner = path.join(rel, entry.name);
      if (entry.isDirectory()) pending.push(inner);
      else if (entry.isSymbolicLink() && shownLinkTarget(home, path.join(to, rel), await readlink(path.join(folder, inner))) === undefined) return inner;
    }
  }
  return undefined;
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
