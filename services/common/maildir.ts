import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Maildir (maildir(5), https://cr.yp.to/proto/maildir.html): one file per message,
 * and no locks for delivery. A message is written into tmp/ under a unique name,
 * flushed to disk, then renamed into new/: rename is atomic, so a reader sees the
 * whole message or nothing, and a crash leaves at most a file in tmp/.
 *
 * SMTP delivers here; POP3 reads, and deletes at QUIT. Shared by both services so the
 * rules live in one place.
 */

export interface MaildirMessage {
  /** The unique name without the `:2,flags` info part: stable for the message's life (POP3's UIDL). */
  uid: string;
  /** Where it is now: `new/...` or `cur/...`. */
  file: string;
  size: number;
}

let counter = 0;

/** The lab's mailbox folder of a user: `<dataDir>/mail/<domain>/<user>/Maildir`. */
export function maildirPath(dataDir: string, domain: string, user: string): string {
  return path.join(dataDir, 'mail', domain, user, 'Maildir');
}

export class Maildir {
  constructor(readonly dir: string) {}

  async create(): Promise<void> {
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(path.join(this.dir, sub), { recursive: true });
  }

  /**
   * Deliver a message; resolves with its unique name once it is safely in new/. The
   * SMTP server answers 250 only after this resolves.
   */
  async deliver(message: Buffer | Readable): Promise<string> {
    await this.create();
    // time.M<microseconds>P<pid>Q<counter>.host: unique on this host (maildir(5)).
    const now = process.hrtime.bigint();
    const seconds = Math.floor(Date.now() / 1000);
    const unique = `${seconds}.M${(now / 1000n) % 1000000n}P${process.pid}Q${++counter}.${os.hostname().replace(/[/:]/g, '_')}`;
    const tmp = path.join(this.dir, 'tmp', unique);
    const file = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
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
    await rename(tmp, path.join(this.dir, 'new', unique));
    await syncDir(path.join(this.dir, 'new')); // and the rename itself survives a crash
    return unique;
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
        if (info?.isFile()) messages.push({ uid: name.split(':')[0]!, file, size: info.size });
      }
    }
    // Names start with the delivery time, then a counter: sorting by them is delivery order.
    return messages.sort((a, b) => compareUnique(a.uid, b.uid));
  }

  read(message: MaildirMessage): Promise<Buffer> {
    return readFile(path.join(this.dir, message.file));
  }

  async remove(message: MaildirMessage): Promise<void> {
    await unlink(path.join(this.dir, message.file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // already gone is what we wanted
    });
  }
}

function compareUnique(a: string, b: string): number {
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
