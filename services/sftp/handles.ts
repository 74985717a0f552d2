import { readSync, writeSync, type Dir } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * A session's open files and folders. OPEN and OPENDIR answer with a *handle*, an
 * opaque string of up to 256 bytes (SFTP draft-02 6.2) that later requests (READ,
 * WRITE, READDIR, CLOSE) name. Here a handle is a 4-byte counter: never reused within a
 * session, so a stale handle cannot reach a newer file, and it says nothing about the
 * server. The table has a size limit: a client cannot hold open files without end.
 */
export class HandleTable<T> {
  private readonly open = new Map<number, T>();
  private next = 1;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.open.size;
  }

  /** A new handle for `value`, or undefined when `limit` handles are already open. */
  add(value: T): Buffer | undefined {
    if (this.open.size >= this.limit || this.next > 0xffffffff) return undefined;
    const id = this.next++;
    this.open.set(id, value);
    const handle = Buffer.alloc(4);
    handle.writeUInt32BE(id);
    return handle;
  }

  get(handle: Buffer): T | undefined {
    const id = HandleTable.id(handle);
    return id === undefined ? undefined : this.open.get(id);
  }

  /** Forget a handle; returns what it held. */
  remove(handle: Buffer): T | undefined {
    const id = HandleTable.id(handle);
    if (id === undefined) return undefined;
    const value = this.open.get(id);
    this.open.delete(id);
    return value;
  }

  /** Empty the table, returning everything that was open (to close it). */
  drain(): T[] {
    const all = [...this.open.values()];
    this.open.clear();
    return all;
  }

  private static id(handle: Buffer): number | undefined {
    return handle.length === 4 ? handle.readUInt32BE(0) : undefined;
  }
}

export type OpenFile = { kind: 'file'; fh: FileHandle; path: string; readable: boolean; writable: boolean; bytesRead: number; bytesWritten: number };
type OpenDir = { kind: 'dir'; dir: Dir; real: string; path: string; done: boolean };
/** What an SFTP handle stands for: an open file (with what was read and written through it) or an open folder. */
export type Open = OpenFile | OpenDir;

export function closeOpen(open: Open): Promise<void> {
  return open.kind === 'file' ? open.fh.close() : open.dir.close();
}

/**
 * READ and WRITE on an open file, at an offset, done right here, synchronously. Each is
 * at most maxReadBytes (OpenSSH asks for 32 KiB at a time, with many requests waiting)
 * and meets the page cache: a few microseconds. Through the file thread pool each one
 * waited its turn and a trip back, while the requests after it waited too: a 100 MiB
 * get went at 60% of OpenSSH's speed with the server idle most of the time.
 */
export function readAt(file: OpenFile, buffer: Buffer, position: number): number {
  return readSync(file.fh.fd, buffer, 0, buffer.length, position);
}

export function writeAt(file: OpenFile, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(file.fh.fd, data, done, data.length - done, position + done);
}
