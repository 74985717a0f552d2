import { constants } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * The maildrop lock (RFC 1939 8): while one session holds a maildrop, a second login to
 * it gets "-ERR [IN-USE]". Without it, two sessions could both number the messages, both
 * DELE "message 2" and remove each other's mail at QUIT.
 *
 * The lock is a file, `pop3.lock` in the Maildir folder, created with O_CREAT|O_EXCL:
 * the kernel creates it for exactly one caller and fails every other one with EEXIST,
 * atomically. So the lock holds between sessions of one server, between two server
 * instances in one process, and between processes or containers sharing the data
 * directory, at the cost of one file. The file says who holds it (pid, host, since,
 * connection), and students can watch it appear and disappear with `ls`.
 *
 * It is removed when the session ends, however it ends: QUIT, a dropped connection, the
 * idle timer, the server closing. Only a crash (kill -9) can leave one behind: a
 * server clears such stale locks of its own users when it starts (clearStale), and a
 * lock whose holder is provably gone does not lock anyone out until then either.
 *
 * Delivery never takes this lock: Maildir needs none (maildir(5)), so mail keeps
 * arriving while a user reads; it shows in their next session.
 */

export const LOCK_FILE = 'pop3.lock';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  since: string;
  conn?: string;
}

/** The lock files this process holds, across every Pop3Server in it. */
const held = new Set<string>();

export class MaildropLock {
  private constructor(readonly file: string) {}

  /** Take the lock on the maildrop in `maildirDir`, or resolve undefined if someone holds it. */
  static async acquire(maildirDir: string, conn?: string): Promise<MaildropLock | undefined> {
    const file = path.join(maildirDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
        held.add(file);
        try {
          const info: LockInfo = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), conn };
          await handle.writeFile(JSON.stringify(info) + '\n');
        } finally {
          await handle.close();
        }
        return new MaildropLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Someone holds it. If that someone is provably gone (a process of this host that
        // no longer runs), the lock is left over from a crash: take it over, once. (Two
        // servers taking over the same dead lock at the same instant could both win; the
        // lab runs one server per domain, so this is not worth a second mechanism.)
        if (attempt > 0 || !isDeadHere(await readLock(file), file)) return undefined;
        await unlink(file).catch(() => {});
      }
    }
    return undefined;
  }

  /** Give the lock up. Safe to call twice. */
  async release(): Promise<void> {
    if (!held.delete(this.file)) return;
    await unlink(this.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * At server start: remove the lock in `maildirDir` if no running session can hold it,
   * and say what was removed. A lock is stale when it cannot be read (a crash while it
   * was written), when it comes from this process but no session here holds it, when its
   * process has ended, or when it was written on another host: in the lab one POP3
   * server serves each domain, and a container gets a new host name when it is
   * recreated, so such a lock is our own from before.
   */
  static async clearStale(maildirDir: string): Promise<LockInfo | 'unreadable' | undefined> {
    const file = path.join(maildirDir, LOCK_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const info = parseLock(text);
    if (info && info.host === os.hostname() && !isDeadHere(info, file)) return undefined;
    await unlink(file).catch(() => {});
    return info ?? 'unreadable';
  }
}

async function readLock(file: string): Promise<LockInfo | undefined> {
  return parseLock(await readFile(file, 'utf8').catch(() => ''));
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as Partial<LockInfo>;
    if (typeof info.pid === 'number' && typeof info.host === 'string' && typeof info.since === 'string') return info as LockInfo;
  } catch {
    // not JSON: half written
  }
  return undefined;
}

/** Is this lock's holder a process of this host that is provably not holding it any more? */
function isDeadHere(info: LockInfo | undefined, file: string): boolean {
  if (!info || info.host !== os.hostname()) return false; // cannot tell: respect it
  if (info.pid === process.pid) return !held.has(file);
  try {
    process.kill(info.pid, 0); // signal 0: "does it exist?", sends nothing
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
