import { lstatSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { BoundedCache } from './cache';
import { confine, confineReal } from './jail';

/**
 * Where a web path is on the disk, what the file is, and (small files) its bytes,
 * remembered between requests. Finding a file anew takes the jail's two realpath calls
 * and a stat, and sending it an open, reads and a close: each a trip through Node's
 * file thread pool. A file found before is checked with one lstat instead; if its
 * inode, size, change or modification time differ, it is found and read again. So an
 * instructor's edit, or a page a student uploads, shows on the next request.
 *
 * That one lstat is made right here, synchronously: the kernel answers it from its
 * cache of file names in a microsecond or two, while handing it to a worker thread and
 * back costs more than that, and much more on a busy machine (in a profile under load,
 * the asynchronous lstat took a quarter of the server's time).
 *
 * The confinement holds for what is remembered: a path is remembered only after
 * confineReal() let it through, under its real path (no links left in it), and a
 * remembered entry is used only while that real path is still the same file.
 */

export interface FoundFile {
  /** The real path, every link resolved, inside the root. */
  real: string;
  info: Stats;
  /** The whole file, when it is small enough to keep (a file or folder larger, or a folder: undefined). */
  body?: Buffer;
}

export interface FileCacheOptions {
  /** Memory for remembered files, in bytes (each entry counts its bytes and 512 more); 0 remembers nothing. */
  maxBytes: number;
}

/** Room an entry takes besides its bytes: its path and its Stats. */
const ENTRY_OVERHEAD = 512;

export class FileCache {
  private readonly entries: BoundedCache<string, FoundFile>;
  /** Files over this size are never kept (they are streamed from the disk each time): a sixteenth of the room. */
  private readonly maxFileBytes: number;

  constructor(options: FileCacheOptions) {
    this.entries = new BoundedCache(options.maxBytes, (f) => ENTRY_OVERHEAD + (f.body?.length ?? 0));
    this.maxFileBytes = Math.floor(options.maxBytes / 16);
  }

  /**
   * confineReal(root, requested) and its stat, from memory while the file is unchanged.
   * Throws what confineReal() and stat() throw (a JailError, ENOENT...): a path that
   * fails is never remembered.
   */
  async find(root: string, requested: string): Promise<FoundFile> {
    const key = confine(root, requested); // the text check first, and one key for `/a/../b` and `/b`
    const known = this.entries.get(key);
    if (known && sameFile(known.info, lstatSync(known.real, { throwIfNoEntry: false }))) return known;
    const real = await confineReal(root, requested);
    const info = await stat(real);
    const found: FoundFile = { real, info };
    if (info.isFile() && info.size <= this.maxFileBytes) {
      const body = await readFile(real);
      // Changed while it was read: serve it from the disk this time, remember it next time.
      if (sameFile(info, await stat(real))) found.body = body;
      else return found;
    }
    this.entries.set(key, found);
    return found;
  }
}

function sameFile(a: Stats, b: Stats | undefined): boolean {
  return b !== undefined && a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}
