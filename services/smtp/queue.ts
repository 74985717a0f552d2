import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The relay queue on disk: mail accepted for another domain waits here until the
 * domain's server takes it. Each entry is two files in one folder:
 *
 *   <id>.eml   the message, exactly as it will be sent
 *   <id>.json  the envelope: sender, recipients, attempts, when to try next
 *
 * Both are written to a temporary name, flushed to disk and renamed (atomic), message
 * first: an entry exists only once its .json does, and then its .eml is already
 * complete. So a crash at any moment leaves either a whole entry or none (plus perhaps
 * a stray temporary file), and the server may answer 250 as soon as add() resolves.
 */

export interface QueueEntry {
  /** Unique in the queue: the message's queue id and the destination domain. */
  id: string;
  /** The envelope sender (MAIL FROM); empty for a bounce, which is never bounced. */
  from: string;
  /** The domain all `recipients` are in: one entry per destination. */
  domain: string;
  /** Recipients not delivered yet. */
  recipients: string[];
  /** When the message was accepted (ms since 1970). */
  createdAt: number;
  /** Failed attempts so far. */
  attempts: number;
  /** When to try next (ms since 1970). */
  nextAttemptAt: number;
  /** Why the last attempt failed. */
  lastError?: string;
}

export class RelayQueue {
  constructor(readonly dir: string) {}

  /** Store a new entry; resolves once both files are safely on disk. */
  async add(entry: QueueEntry, message: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeDurably(this.file(entry.id, 'eml'), message);
    await writeDurably(this.file(entry.id, 'json'), Buffer.from(JSON.stringify(entry, null, 2) + '\n'));
  }

  /** Every entry, oldest first. A .json that does not parse is skipped (and reported). */
  async list(onBroken?: (file: string, error: string) => void): Promise<QueueEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: QueueEntry[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      try {
        entries.push(JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as QueueEntry);
      } catch (err) {
        onBroken?.(name, (err as Error).message);
      }
    }
    return entries.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  message(id: string): Promise<Buffer> {
    return readFile(this.file(id, 'eml'));
  }

  /** Rewrite an entry's envelope (after an attempt), atomically. */
  async update(entry: QueueEntry): Promise<void> {
    await writeDurably(this.file(entry.id, 'json'), Buffer.from(JSON.stringify(entry, null, 2) + '\n'));
  }

  /** Forget an entry: the envelope first, so a crash in between leaves no half entry. */
  async remove(id: string): Promise<void> {
    for (const ext of ['json', 'eml'] as const) {
      await unlink(this.file(id, ext)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
  }

  private file(id: string, ext: 'eml' | 'json'): string {
    // Ids are made here ([A-Z0-9.-]); refuse anything else rather than build a path from it.
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(id)) throw new Error(`bad queue id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.${ext}`);
  }
}

let counter = 0;

/** Write `data` to `file` so that after a crash the file is either complete or absent. */
async function writeDurably(file: string, data: Buffer): Promise<void> {
  const temp = path.join(path.dirname(file), `.tmp.${process.pid}.${++counter}.${path.basename(file)}`);
  const handle = await open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync(); // the bytes are on disk before the name is
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  await rename(temp, file);
  const dir = await open(path.dirname(file), constants.O_RDONLY);
  try {
    await dir.sync(); // and so is the rename
  } finally {
    await dir.close();
  }
}
