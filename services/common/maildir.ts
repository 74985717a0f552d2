import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Maildir (maildir(5), https://cr.yp.to/proto/maildir.html): one file per message,
 * and no locks for delivery. A message is written into tmp/ under a unique name,
 * flushed to disk, then renamed into new/: rename is atomic, so a reader sees the
 * whole message or nothing, and a crash leaves at most a file in tmp/.
 *
 * SMTP delivers here; POP3 reads, and deletes at QUIT; IMAP reads, moves new/ to cur/,
 * keeps flags in the names (`cur/<unique>:2,FS`), and deletes. Shared by all three so
 * the rules live in one place, and so each sees what the others did: a message is found
 * by its unique name wherever it is now (new/ or cur/, whatever its flags), so a rename
 * by IMAP does not hide it from a POP3 session that listed it before.
 */

export interface MaildirMessage {
  /** The unique name without the `:2,flags` info part: stable for the message's life (POP3's UIDL, IMAP's uidlist). */
  uid: string;
  /** Where it is now: `new/...` or `cur/...`. */
  file: string;
  size: number;
}

let counter = 0;
let lastMicros = 0;

/**
 * A new unique name: <seconds>.M<microseconds>P<pid>Q<counter>.<host>, unique on this host
 * (maildir(5)). Seconds and microseconds are one reading of the clock, never the same
 * twice in this process, the microseconds written with six digits: so the names sort, as
 * text and by compareUnique alike, in delivery order (Dovecot numbers new mail in the
 * order of the names too, and IMAP's UIDs follow delivery order).
 */
export function uniqueName(): string {
  const micros = (lastMicros = Math.max(Math.floor((performance.timeOrigin + performance.now()) * 1000), lastMicros + 1));
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = String(micros % 1_000_000).padStart(6, '0');
  return `${seconds}.M${fraction}P${process.pid}Q${++counter}.${os.hostname().replace(/[/:]/g, '_')}`;
}

/** A file name's unique part: what comes before `:2,` (maildir(5), "info"). */
export function uniqueOf(fileName: string): string {
  return fileName.split(':')[0]!;
}

/** Where to put a message: new/ (mail that has arrived), or cur/ with flags (IMAP's APPEND, COPY). */
export interface DeliverOptions {
  /** The info part's flags (`FS`): the message goes to cur/ as `<unique>:2,<flags>`. Default: new/, no flags. */
  flags?: string;
  /** The file's modification time: IMAP's INTERNALDATE. Default: now. */
  mtime?: Date;
}

/** The lab's mailbox folder of a user: `<dataDir>/mail/<domain>/<user>/Maildir`. */
export function maildirPath(dataDir: string, domain: string, user: string): string {
  return path.join(dataDir, 'mail', domain, user, 'Maildir');
}

/** Messages up to this size are read synchronously (see Maildir.read()). */
export const SYNC_READ_BYTES = 256 * 1024;

export class Maildir {
  constructor(readonly dir: string) {}

  async create(): Promise<void> {
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(path.join(this.dir, sub), { recursive: true });
  }

  /**
   * Deliver a message; resolves with its unique name once it is safely in new/. The
   * SMTP server answers 250 only after this resolves.
   */
  async deliver(message: Buffer | Readable, options: DeliverOptions = {}): Promise<string> {
    const unique = uniqueName();
    const tmp = path.join(this.dir, 'tmp', unique);
    // The folders are made when they are missing (a user who never got mail), not checked every time.
    const file = await this.ensuring(() => open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
    try {
      if (Buffer.isBuffer(message)) await file.write(message);
      else for await (const chunk of message) await file.write(chunk as Buffer);
      await file.sync(); // the bytes are on disk before the name appears in new/
    } catch (err) {
      await file.close();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await file.close();
    if (options.mtime) await utimes(tmp, options.mtime, options.mtime);
    const target = options.flags === undefined ? path.join('new', unique) : path.join('cur', `${unique}:2,${options.flags}`);
    await this.ensuring(() => rename(tmp, path.join(this.dir, target)));
    await syncDir(path.dirname(path.join(this.dir, target))); // and the rename itself survives a crash
    return unique;
  }

  /** `action`, and if a folder of the Maildir is missing (ENOENT), make them and do it once more. */
  private async ensuring<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.create();
      return action();
    }
  }

  /** Every message in new/ and cur/, oldest first. */
  async list(): Promise<MaildirMessage[]> {
    const messages: MaildirMessage[] = [];
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = await readdir(path.join(this.dir, sub));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const file = path.join(sub, name);
        const info = await stat(path.join(this.dir, file)).catch(() => undefined);
        if (info?.isFile()) messages.push({ uid: uniqueOf(name), file, size: info.size });
      }
    }
    // Names start with the delivery time, then a counter: sorting by them is delivery order.
    return messages.sort((a, b) => compareUnique(a.uid, b.uid));
  }

  /**
   * Where the message with this unique name is now (`new/<unique>` or
   * `cur/<unique>:2,<flags>`), or undefined when it is gone. Another program may have
   * moved it since it was listed: IMAP moves new mail to cur/ and renames a message to
   * change its flags.
   */
  async locate(unique: string): Promise<string | undefined> {
    // new/ first: a message only ever moves from new/ to cur/, so it cannot slip past.
    for (const sub of ['new', 'cur']) {
      const names = await readdir(path.join(this.dir, sub)).catch(() => [] as string[]);
      const name = names.find((n) => n === unique || n.startsWith(`${unique}:`));
      if (name) return path.join(sub, name);
    }
    return undefined;
  }

  /**
   * The message's octets, wherever it is now; an ENOENT error when it is gone. A message
   * up to SYNC_READ_BYTES is read right here, synchronously, as Dovecot reads: it is in
   * the page cache (just delivered, or just listed) and comes in microseconds, where
   * readFile() takes four trips through Node's file thread pool (open, stat, read,
   * close), each one waiting its turn on a busy machine. A POP3 RETR or an IMAP FETCH
   * of a small message answered three to five times slower that way. Bigger messages
   * are read without holding the event loop.
   */
  read(message: MaildirMessage): Promise<Buffer> {
    return this.wherever(message, readMessageFile);
  }

  /** Delete the message, wherever it is now; already gone is what was wanted. */
  async remove(message: MaildirMessage): Promise<void> {
    await this.wherever(message, (file) => unlink(file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * Do `action` on the message's file; if it has moved since it was listed (ENOENT),
   * find it by its unique name and try there (remembering the new place), a few times:
   * another session may be renaming it just then.
   */
  private async wherever<T>(message: MaildirMessage, action: (file: string) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await action(path.join(this.dir, message.file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw err;
        const now = await this.locate(message.uid);
        if (now === undefined) throw err;
        message.file = now; // moved (new/ to cur/, or new flags): look there
      }
    }
  }
}

/** A message file's octets: synchronously up to SYNC_READ_BYTES, else through the thread pool. */
async function readMessageFile(file: string): Promise<Buffer> {
  const fd = openSync(file, 'r'); // ENOENT here, as from readFile()
  try {
    if (fstatSync(fd).size <= SYNC_READ_BYTES) return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  return readFile(file);
}

/** Delivery order of two unique names: by time, then by the Q counter. */
export function compareUnique(a: string, b: string): number {
  const key = (u: string): [number, number] => {
    const m = /^(\d+)\..*?Q(\d+)/.exec(u);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  const [ta, qa] = key(a);
  const [tb, qb] = key(b);
  return ta - tb || qa - qb || a.localeCompare(b);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
