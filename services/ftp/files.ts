import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, type ReadStream, type WriteStream } from 'node:fs';
import { copyFile, lstat, open, readdir, readlink, realpath, rename, truncate, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { confineForWrite, confineReal, isInside, JailError } from '../common/jail';
import { Code } from './codes';
import type { Entry, EntryType } from './listing';
import { reply, type Reply } from './reply';

/**
 * The disk side of the FTP server: where a client's path lands, what a folder holds,
 * how an upload is made safe, and which reply each file-system error gets.
 *
 * Each user sees their home as "/", as with vsftpd's chroot_local_user: the path a
 * client sends is read against the current directory, then confined to the home by
 * services/common/jail.ts (never here): confineReal() for what is read, which follows
 * symlinks and refuses one that leads out; confineForWrite() for what is written.
 */

/**
 * How much of a file moves through Node's file thread pool at a time in a transfer.
 * Each piece is a round trip from the event loop to a worker thread and back, so the
 * default 64 KiB pieces (16 KiB for writing) made a 100 MiB file thousands of them;
 * with 1 MiB the disk side keeps up with the data connection.
 */
export const TRANSFER_CHUNK_BYTES = 1024 * 1024;

/** RETR: the file from octet `offset` on (REST), read in TRANSFER_CHUNK_BYTES pieces. */
export function fileSource(handle: FileHandle, offset: number): ReadStream {
  return handle.createReadStream({ start: offset, highWaterMark: TRANSFER_CHUNK_BYTES });
}

/** A session's root: the folder that is "/" to the client. */
export interface Root {
  /** The folder as configured (absolute). */
  readonly dir: string;
  /** The same after symlinks: what confineReal() returns paths under. */
  readonly real: string;
}

export async function openRoot(dir: string): Promise<Root> {
  const absolute = path.resolve(dir);
  return { dir: absolute, real: await realpath(absolute) };
}

/**
 * The path a client means, before confinement: an absolute path as is, a relative one
 * after the current directory. Nothing is normalized here, so `..` that climbs above
 * "/" reaches confine() as it was sent and is refused there, not quietly clamped.
 */
export function requestedPath(cwd: string, arg: string): string {
  if (arg.startsWith('/')) return arg;
  return cwd.endsWith('/') ? cwd + arg : `${cwd}/${arg}`;
}

/** An absolute path inside the root as the client sees it: `/pub/README.txt`. */
export function shownPath(root: Root, absolute: string): string {
  const base = isInside(root.real, absolute) ? root.real : root.dir;
  const rel = path.relative(base, absolute);
  return '/' + rel.split(path.sep).join('/');
}

export const confineRead = (root: Root, cwd: string, arg: string): Promise<string> => confineReal(root.dir, requestedPath(cwd, arg));
export const confineWrite = (root: Root, cwd: string, arg: string): Promise<string> => confineForWrite(root.dir, requestedPath(cwd, arg));

/** Is this absolute path the root itself (which no one may remove or rename)? */
export function isRoot(root: Root, absolute: string): boolean {
  return absolute === root.dir || absolute === root.real;
}

/** One entry, from lstat(): a symlink is shown as a link (with its target), not followed. */
export async function readEntry(absolute: string, name = path.basename(absolute)): Promise<Entry> {
  const info = await lstat(absolute);
  const type: EntryType = info.isFile() ? 'file' : info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'link' : 'other';
  const entry: Entry = {
    name,
    type,
    size: info.size,
    modified: info.mtime,
    mode: info.mode & 0o7777,
    links: info.nlink,
    unique: `${info.dev.toString(16)}.${info.ino.toString(16)}`,
  };
  if (type === 'link') entry.target = await readlink(absolute).catch(() => '?');
  return entry;
}

/**
 * A folder's entries, sorted by name. Uploads in progress (their temporary names) are
 * never shown; other dot files only with `all` (LIST -a), as with ls.
 */
export async function readEntries(dir: string, all: boolean): Promise<Entry[]> {
  const names = (await readdir(dir)).filter((n) => !isUploadName(n) && (all || !n.startsWith('.')));
  const entries = await Promise.all(names.map((n) => readEntry(path.join(dir, n), n).catch(() => undefined)));
  return entries.filter((e): e is Entry => e !== undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------
// Uploads: write to a temporary name, rename when complete.

const UPLOAD_NAME = /^\..*\.upload-[0-9a-f]{12}$/;

/** A temporary upload name (`.notes.txt.upload-1a2b3c4d5e6f`), hidden from listings. */
export function isUploadName(name: string): boolean {
  return UPLOAD_NAME.test(name);
}

/**
 * An upload in progress. STOR and APPE never write into the real file: the data goes
 * to a temporary file in the same folder, which is renamed over the real name only
 * when the data connection ended normally. rename() within one folder is atomic, so a
 * reader sees the old file or the new one, never half of it; a transfer that breaks
 * (the client is reset, ABOR, a timeout) leaves the real name untouched, and the
 * temporary file is removed.
 *
 * APPE (and STOR after REST n) copies the existing file, or its first n octets, to the
 * temporary file first and appends there: slower than appending in place, but a broken
 * APPE then cannot leave half an addition at the end of a file.
 */
export class Upload {
  private done = false;

  private constructor(
    /** The real name, from confineForWrite(). */
    readonly target: string,
    readonly temp: string,
  ) {}

  /**
   * Create the temporary file. `keep`: what of the existing file stays in front of the
   * new data: nothing (STOR), all of it (APPE), or its first n octets (STOR after REST n).
   */
  static async begin(target: string, keep: 'nothing' | 'all' | number): Promise<Upload> {
    const existing = await lstat(target).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (existing?.isDirectory()) throw fsError('EISDIR', target);
    // At most 200 characters of the name: with the dot and the suffix it still fits NAME_MAX (255).
    const temp = path.join(path.dirname(target), `.${path.basename(target).slice(0, 200)}.upload-${randomBytes(6).toString('hex')}`);
    const upload = new Upload(target, temp);
    try {
      if (keep === 'nothing' || (keep === 'all' && !existing)) {
        await (await open(temp, 'wx')).close(); // wx: fails rather than reuse anything already there
      } else {
        if (!existing) throw fsError('ENOENT', target);
        if (typeof keep === 'number' && keep > existing.size) throw new RestBeyondEnd(keep, existing.size);
        await copyFile(target, temp, constants.COPYFILE_EXCL);
        if (typeof keep === 'number') await truncate(temp, keep);
      }
    } catch (e) {
      await upload.discard();
      throw e;
    }
    return upload;
  }

  /** Where the data goes: appended to the temporary file. */
  stream(): WriteStream {
    // Up to TRANSFER_CHUNK_BYTES wait while a write is under way, then go to the disk in one writev.
    return createWriteStream(this.temp, { flags: 'a', highWaterMark: TRANSFER_CHUNK_BYTES });
  }

  /** The transfer completed: the temporary file takes the real name. */
  async commit(): Promise<void> {
    this.done = true;
    try {
      await rename(this.temp, this.target);
    } catch (e) {
      await unlink(this.temp).catch(() => {});
      throw e;
    }
  }

  /** The transfer failed: remove the temporary file; the real name was never touched. */
  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await unlink(this.temp).catch(() => {});
  }
}

/** STOR after REST n with a file shorter than n octets: answered 554 (RFC 3659 5.4). */
export class RestBeyondEnd extends Error {
  constructor(
    readonly offset: number,
    readonly size: number,
  ) {
    super(`REST ${offset} is beyond the end of the file (${size} octets)`);
    this.name = 'RestBeyondEnd';
  }
}

function fsError(code: string, file: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${file}`);
  e.code = code;
  return e;
}

// ---------------------------------------------------------------------------
// Errors -> replies.

/** Commands whose "name not allowed" is 553, not 550 (RFC 959 5.4: STOR, APPE, RNTO list 553). */
const NAMING = new Set(['STOR', 'APPE', 'RNTO']);

/**
 * The reply for an error of the jail or the disk, or undefined for anything else (a bug:
 * the server logs it and answers 451). The text never shows a path on the server's disk:
 * the client only ever sees its own "/".
 */
export function fileErrorReply(e: unknown, verb: string): Reply | undefined {
  const refused = NAMING.has(verb) ? Code.NAME_NOT_ALLOWED : Code.FILE_UNAVAILABLE;
  if (e instanceof JailError) return reply(refused, 'Permission denied: that path is outside your home folder.');
  if (e instanceof RestBeyondEnd) return reply(Code.INVALID_REST, `${e.message}.`);
  switch ((e as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return reply(Code.FILE_UNAVAILABLE, 'No such file or folder.');
    case 'ENOTDIR':
      return reply(Code.FILE_UNAVAILABLE, 'Not a folder.');
    case 'EISDIR':
      return reply(Code.FILE_UNAVAILABLE, 'That is a folder.');
    case 'EEXIST':
      return reply(Code.FILE_UNAVAILABLE, 'That name already exists.');
    case 'ENOTEMPTY':
      return reply(Code.FILE_UNAVAILABLE, 'The folder is not empty.');
    case 'EACCES':
    case 'EPERM':
      return reply(Code.FILE_UNAVAILABLE, 'Permission denied.');
    case 'ENAMETOOLONG':
      return reply(refused, 'File name too long.');
    case 'ELOOP':
      return reply(Code.FILE_UNAVAILABLE, 'Too many levels of symbolic links.');
    case 'EINVAL':
      return reply(Code.FILE_UNAVAILABLE, 'Invalid request (a folder cannot move into itself).');
    case 'ENOSPC':
    case 'EDQUOT':
      return reply(Code.INSUFFICIENT_STORAGE, 'Insufficient storage space.');
    case 'EBUSY':
      return reply(Code.FILE_BUSY, 'File busy; try again later.');
    default:
      return undefined;
  }
}
