import { randomBytes } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { confine } from '../common/jail';
import { compareUnique, Maildir, uniqueName, uniqueOf } from '../common/maildir';
import { checkName, decodeUtf7, DELIMITER, encodeUtf7, INBOX, NameError, normalizeName, parentOf } from './names';

/**
 * A user's mailboxes on disk: Maildir++ (the layout Courier and Dovecot use), the same
 * Maildir that SMTP delivers to and POP3 reads, so all three see one truth.
 *
 *   Maildir/                      INBOX: tmp/ new/ cur/, as SMTP and POP3 know it
 *   Maildir/cur/1764806400.M1P2Q3.mail:2,S     a message; its flags are in its name
 *   Maildir/.Sent/                the mailbox "Sent" (a dot, then the name)
 *   Maildir/.Archive.2026/        "Archive.2026": 2026 inside Archive ("." separates levels)
 *   Maildir/wirelab-uidlist       INBOX's UIDs; each folder has its own
 *   Maildir/wirelab-subscriptions the mailboxes the user subscribed to
 *
 * Flags (maildir(5)): the letters after `:2,` in the file name, in ASCII order:
 * D \Draft, F \Flagged, R \Answered, S \Seen, T \Deleted. A message in new/ has no
 * flags yet; IMAP moves it to cur/ when a session first sees it (that session sees it
 * as \Recent). Keywords ($Forwarded, $Junk ...) get the letters a-z, listed per folder
 * in `wirelab-keywords`. Changing a flag is renaming the file: POP3 and IMAP find a
 * message by the part before `:2,`, which never changes.
 *
 * UIDs (RFC 9051 2.3.1.1): IMAP numbers each message of a mailbox with a UID that never
 * changes and is never reused, and the mailbox with a UIDVALIDITY: "if the UIDs you
 * remember were given with this UIDVALIDITY, they are still good". Maildir has no room
 * for either, so each folder keeps a small text file, as Dovecot keeps dovecot-uidlist:
 *
 *   wirelab-uidlist 1
 *   uidvalidity 1764806400
 *   uidnext 5
 *   1 1764806400.M1P2Q3.mail
 *   4 1764806999.M7P2Q9.mail
 *
 * A message not in the list yet (delivered by SMTP, or dropped in by hand) gets uidnext,
 * in delivery order; a message gone from the disk (deleted by POP3, or expunged) leaves
 * the list, and its UID is not given again. The file is replaced whole (written aside,
 * then renamed), under a lock held by this process: the lab runs one IMAP server.
 */

/** The file of a folder's UIDs. */
export const UIDLIST = 'wirelab-uidlist';
/** The file of a folder's keyword letters. */
export const KEYWORDS = 'wirelab-keywords';
/** The file of the user's subscriptions, in INBOX's folder. */
export const SUBSCRIPTIONS = 'wirelab-subscriptions';

/** The system flags and their letters (maildir(5)), in the order IMAP lists them (RFC 9051 2.3.2). */
const LETTERS: Record<string, string> = { '\\Answered': 'R', '\\Flagged': 'F', '\\Deleted': 'T', '\\Seen': 'S', '\\Draft': 'D' };
const FLAG_OF: Record<string, string> = Object.fromEntries(Object.entries(LETTERS).map(([f, l]) => [l, f]));

/** The mailboxes every user has (RFC 6154 special-use), made at login when missing. */
export const SPECIAL_USE: Readonly<Record<string, string>> = { Drafts: '\\Drafts', Sent: '\\Sent', Trash: '\\Trash' };

/** A message as the folder holds it. */
export interface StoredMessage {
  uid: number;
  /** The unique name, without `:2,...`: the same for the message's whole life in this folder. */
  unique: string;
  /** Where it is now: `new/<unique>` or `cur/<unique>:2,<letters>`. */
  file: string;
  /** The letters after `:2,` (`FS`); '' in new/. */
  letters: string;
}

export interface FolderState {
  uidvalidity: number;
  uidnext: number;
  /** In UID order. */
  messages: StoredMessage[];
}

/** Why a mailbox operation is refused: the text, and a response code (RFC 9051 7.1). */
export class MailboxError extends Error {
  constructor(
    message: string,
    readonly code?: 'NONEXISTENT' | 'ALREADYEXISTS' | 'HASCHILDREN' | 'CANNOT' | 'TRYCREATE' | 'LIMIT' | 'INUSE',
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// One writer at a time per folder, in this process.

const locks = new Map<string, Promise<unknown>>();

/** Run `work` when no other work on the same key runs in this process. */
async function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const mine = before.catch(() => {}).then(work);
  locks.set(key, mine);
  try {
    return await mine;
  } finally {
    if (locks.get(key) === mine) locks.delete(key);
  }
}

/** UIDVALIDITY: the time in seconds, never the same twice in this process (RFC 9051 2.3.1.1: a re-created mailbox gets a new one). */
let lastValidity = 0;
function newUidValidity(): number {
  lastValidity = Math.max(Math.floor(Date.now() / 1000), lastValidity + 1);
  return lastValidity;
}

/**
 * The change times (ctime: a rename in or out of a folder, a rewrite of a file) of
 * `paths`, as one string to compare with a later one; a path that does not exist counts
 * as such. Undefined when one changed less than a second ago: a file system keeps times
 * in coarse ticks, so two changes in one tick can leave the same time, and only a time
 * older than that can be trusted to mean "nothing since" (Dovecot's maildir rule too).
 * statSync: a few microseconds from the kernel's cache, no trip to a worker thread.
 */
export function changeStamp(paths: readonly string[]): string | undefined {
  const now = Date.now();
  const times: number[] = [];
  for (const p of paths) {
    const info = statSync(p, { throwIfNoEntry: false });
    if (info && now - info.ctimeMs < 1000) return undefined;
    times.push(info ? info.ctimeMs : -1);
  }
  return times.join(' ');
}

/**
 * Write a file whole or not at all: aside, then rename over the old one. Each writer has
 * its own aside file: two sessions of one user may write at once (a new user's first
 * logins), and a shared name would be renamed away under the other.
 */
async function replaceFile(file: string, text: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(aside, text, { mode: 0o600 });
  await rename(aside, file);
}

// ---------------------------------------------------------------------------
// One mailbox: a Maildir folder.

export class Folder {
  readonly maildir: Maildir;
  /** The last scan, and the change times of the folder it was made at (changeStamp()). */
  private lastScan?: { stamp: string; state: FolderState };
  /** The keywords file as last read, and its change time. */
  private lastKeywords?: { stamp: string; names: string[] };

  constructor(
    /** The mailbox name, as the client sees it (UTF-8): `INBOX`, `Sent`, `Archive.2026`. */
    readonly name: string,
    readonly dir: string,
  ) {
    this.maildir = new Maildir(dir);
  }

  /**
   * The messages now on disk, each with its UID; messages new to the list get theirs now,
   * and messages gone from the disk leave it. Every command of a session that selected
   * the folder asks (so that it hears of new mail and of changes made by others): when
   * new/, cur/ and the UID list have not changed since the last scan, that scan is the
   * answer, and nothing is read again (Dovecot does the same with its folders' times).
   */
  scan(): Promise<FolderState> {
    const stamp = changeStamp([path.join(this.dir, 'new'), path.join(this.dir, 'cur'), path.join(this.dir, UIDLIST)]);
    if (stamp !== undefined && this.lastScan?.stamp === stamp) return Promise.resolve(this.lastScan.state);
    return withLock(this.dir, async () => {
      let files = await this.listFiles();
      const list = await this.readUidList();
      // A rename by another session between two readdirs can hide a file for an instant:
      // before a message is taken for gone, look once more.
      if ([...list.uids.keys()].some((u) => !files.has(u))) files = await this.listFiles();
      let changed = false;
      for (const unique of [...list.uids.keys()]) {
        if (!files.has(unique)) {
          list.uids.delete(unique);
          changed = true;
        }
      }
      for (const unique of [...files.keys()].filter((u) => !list.uids.has(u)).sort(compareUnique)) {
        list.uids.set(unique, list.uidnext++);
        changed = true;
      }
      if (changed || list.fresh) await this.writeUidList(list);
      const messages = [...list.uids].map(([unique, uid]) => ({ uid, unique, ...files.get(unique)! })).sort((a, b) => a.uid - b.uid);
      const state = { uidvalidity: list.uidvalidity, uidnext: list.uidnext, messages };
      // Kept with the times seen before reading: a change made meanwhile makes the next scan read again.
      this.lastScan = stamp === undefined || changed || list.fresh ? undefined : { stamp, state };
      return state;
    });
  }

  /** UIDs for messages this server just put here (APPEND, COPY, MOVE), in order: the UIDPLUS answer. */
  private register(uniques: readonly string[]): Promise<{ uidvalidity: number; uids: number[] }> {
    return withLock(this.dir, async () => {
      const list = await this.readUidList();
      const uids = uniques.map((u) => {
        const uid = list.uidnext++;
        list.uids.set(u, uid);
        return uid;
      });
      await this.writeUidList(list);
      return { uidvalidity: list.uidvalidity, uids };
    });
  }

  /** Every message file of new/ and cur/, by unique name. */
  private async listFiles(): Promise<Map<string, { file: string; letters: string }>> {
    const files = new Map<string, { file: string; letters: string }>();
    for (const sub of ['new', 'cur']) {
      const names = await readdir(path.join(this.dir, sub)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [] as string[];
        throw err;
      });
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const info = name.indexOf(':2,');
        files.set(uniqueOf(name), { file: `${sub}/${name}`, letters: sub === 'cur' && info !== -1 ? name.slice(info + 3) : '' });
      }
    }
    return files;
  }

  private async readUidList(): Promise<{ uidvalidity: number; uidnext: number; uids: Map<string, number>; fresh: boolean }> {
    const text = await readFile(path.join(this.dir, UIDLIST), 'utf8').catch(() => undefined);
    const lines = text?.split('\n') ?? [];
    const validity = /^uidvalidity (\d+)$/.exec(lines[1] ?? '');
    const next = /^uidnext (\d+)$/.exec(lines[2] ?? '');
    if (lines[0] !== `${UIDLIST} 1` || !validity || !next) {
      // No list yet (a new folder, or one SMTP made), or a broken one: start again with a
      // new UIDVALIDITY, which tells every client to forget the UIDs it knew.
      return { uidvalidity: newUidValidity(), uidnext: 1, uids: new Map(), fresh: true };
    }
    const uids = new Map<string, number>();
    for (const line of lines.slice(3)) {
      const m = /^(\d+) (\S+)$/.exec(line);
      if (m) uids.set(m[2]!, Number(m[1]));
    }
    return { uidvalidity: Number(validity[1]), uidnext: Number(next[1]), uids, fresh: false };
  }

  private async writeUidList(list: { uidvalidity: number; uidnext: number; uids: Map<string, number> }): Promise<void> {
    const entries = [...list.uids].sort((a, b) => a[1] - b[1]).map(([u, uid]) => `${uid} ${u}\n`);
    await replaceFile(path.join(this.dir, UIDLIST), `${UIDLIST} 1\nuidvalidity ${list.uidvalidity}\nuidnext ${list.uidnext}\n${entries.join('')}`);
  }

  // -------------------------------------------------------------------------
  // Flags.

  /** A reader of IMAP flags from a file's letters (system flags, then keywords), with the folder's keywords as they are now. */
  async flagReader(): Promise<(letters: string) => string[]> {
    const keywords = await this.readKeywords();
    return (letters) => {
      const system = Object.keys(LETTERS).filter((f) => letters.includes(LETTERS[f]!));
      const named = [...letters].map((l) => (l >= 'a' && l <= 'z' ? keywords[l.charCodeAt(0) - 97] : undefined)).filter((k) => k !== undefined);
      return [...system, ...named];
    };
  }

  /**
   * The letters for a set of IMAP flags; letters this server does not know (P, passed)
   * are kept from `keep`. A keyword new to the folder gets the next free letter.
   */
  async lettersOf(flags: readonly string[], keep = ''): Promise<string> {
    const letters = new Set([...keep].filter((l) => !FLAG_OF[l] && !(l >= 'a' && l <= 'z')));
    const keywords = flags.filter((f) => !f.startsWith('\\'));
    for (const f of flags) if (LETTERS[f]) letters.add(LETTERS[f]);
    if (keywords.length > 0) for (const l of await this.keywordLetters(keywords)) letters.add(l);
    return [...letters].sort().join('');
  }

  /** Keyword names by letter: a, b, c ... (read again only when the file has changed). */
  private async readKeywords(): Promise<string[]> {
    const file = path.join(this.dir, KEYWORDS);
    const stamp = changeStamp([file]);
    if (stamp !== undefined && this.lastKeywords?.stamp === stamp) return [...this.lastKeywords.names];
    const text = await readFile(file, 'utf8').catch(() => '');
    const names: string[] = [];
    for (const line of text.split('\n')) {
      const m = /^([a-z]) (\S+)$/.exec(line);
      if (m) names[m[1]!.charCodeAt(0) - 97] = m[2]!;
    }
    this.lastKeywords = stamp === undefined ? undefined : { stamp, names: [...names] };
    return names;
  }

  private keywordLetters(keywords: readonly string[]): Promise<string[]> {
    return withLock(`${this.dir}:keywords`, async () => {
      const names = await this.readKeywords();
      const letters: string[] = [];
      let added = false;
      for (const k of keywords) {
        let at = names.findIndex((n) => n?.toLowerCase() === k.toLowerCase());
        if (at === -1) {
          at = names.length;
          if (at >= 26) throw new MailboxError('too many keywords in this mailbox (26, a to z)', 'LIMIT');
          names.push(k);
          added = true;
        }
        letters.push(String.fromCharCode(97 + at));
      }
      if (added) await replaceFile(path.join(this.dir, KEYWORDS), names.map((n, i) => `${String.fromCharCode(97 + i)} ${n}\n`).join(''));
      return letters;
    });
  }

  /** The keywords used in this folder: for the FLAGS response. */
  async keywords(): Promise<string[]> {
    return (await this.readKeywords()).filter((k) => k !== undefined);
  }

  /**
   * Give a message new letters by renaming it (a message in new/ moves to cur/). Another
   * session may have renamed it meanwhile: then it is found by its unique name and
   * `change` is applied to what it has now. Returns the file's new name and letters, or
   * undefined when the message is gone.
   */
  async setLetters(m: { unique: string; file: string; letters: string }, change: (letters: string) => Promise<string>): Promise<{ file: string; letters: string } | undefined> {
    let current: { file: string; letters: string } = { file: m.file, letters: m.letters };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const letters = await change(current.letters);
      const file = `cur/${m.unique}:2,${letters}`;
      if (file === current.file) return current;
      try {
        await rename(path.join(this.dir, current.file), path.join(this.dir, file));
        return { file, letters };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        const now = await this.maildir.locate(m.unique);
        if (now === undefined) return undefined;
        const info = now.indexOf(':2,');
        current = { file: now, letters: now.startsWith('cur') && info !== -1 ? now.slice(info + 3) : '' };
      }
    }
    return undefined;
  }

  /**
   * Move a message from new/ to cur/ (no flags yet): the first IMAP session to see it
   * does this. Its new name, or undefined when someone else moved it (or it is gone).
   */
  async takeNew(m: { unique: string; file: string }): Promise<string | undefined> {
    const file = `cur/${m.unique}:2,`;
    try {
      await rename(path.join(this.dir, m.file), path.join(this.dir, file));
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  // -------------------------------------------------------------------------
  // Messages in and out.

  /** The message's octets as stored; undefined when it is gone. */
  async read(m: { unique: string; file: string }): Promise<Buffer | undefined> {
    const stored = { uid: m.unique, file: m.file, size: 0 };
    try {
      const bytes = await this.maildir.read(stored);
      m.file = stored.file;
      return bytes;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** The file's modification time: the INTERNALDATE (when the message arrived). */
  async internalDate(m: { unique: string; file: string }): Promise<Date | undefined> {
    const info = await stat(path.join(this.dir, m.file)).catch(async () => {
      const now = await this.maildir.locate(m.unique);
      return now === undefined ? undefined : stat(path.join(this.dir, now)).catch(() => undefined);
    });
    return info?.mtime;
  }

  /** APPEND: store a message with flags and a date; resolves with its UID. */
  async append(bytes: Buffer, flags: readonly string[], date: Date): Promise<{ uidvalidity: number; uid: number }> {
    const unique = await this.maildir.deliver(bytes, { flags: await this.lettersOf(flags), mtime: date });
    const { uidvalidity, uids } = await this.register([unique]);
    return { uidvalidity, uid: uids[0]! };
  }

  /**
   * COPY and MOVE: bring messages from another folder, under new unique names (so a
   * message copied back and forth never meets its old UID), with their flags and dates.
   * MOVE renames the file (atomic: the message is in one folder or the other); COPY
   * makes a hard link (the octets are shared; either copy can be deleted), or copies
   * where links are not possible.
   */
  async bringIn(
    from: Folder,
    messages: readonly { unique: string; file: string; flags: readonly string[] }[],
    move: boolean,
  ): Promise<{ uidvalidity: number; uids: (number | undefined)[] }> {
    await this.maildir.create();
    const brought: (string | undefined)[] = [];
    for (const m of messages) {
      const unique = uniqueName();
      const target = path.join(this.dir, 'cur', `${unique}:2,${await this.lettersOf(m.flags)}`);
      const done = await from.onFile(m, async (source) => {
        if (move) return rename(source, target);
        const aside = path.join(this.dir, 'tmp', unique);
        await link(source, aside).catch(async () => {
          await copyFile(source, aside, constants.COPYFILE_EXCL);
          const { mtime } = await stat(source);
          await utimes(aside, mtime, mtime);
        });
        await rename(aside, target);
      });
      brought.push(done ? unique : undefined); // gone meanwhile (another session expunged it): nothing to bring
    }
    const { uidvalidity, uids } = await this.register(brought.filter((u) => u !== undefined));
    let next = 0;
    return { uidvalidity, uids: brought.map((u) => (u === undefined ? undefined : uids[next++])) };
  }

  /** Do `action` on a message's file, wherever it is now; false when the message is gone. */
  async onFile(m: { unique: string; file: string }, action: (file: string) => Promise<void>): Promise<boolean> {
    let file: string | undefined = m.file;
    for (let attempt = 1; file !== undefined && attempt <= 3; attempt++) {
      try {
        await action(path.join(this.dir, file));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        file = await this.maildir.locate(m.unique);
      }
    }
    return false;
  }

  /** Delete a message for good (EXPUNGE). */
  async remove(m: { unique: string; file: string }): Promise<void> {
    await this.maildir.remove({ uid: m.unique, file: m.file, size: 0 });
  }
}

// ---------------------------------------------------------------------------
// All mailboxes of one user.

export class MailStore {
  constructor(
    /** The user's Maildir: INBOX, and the folder of every other mailbox. */
    readonly root: string,
  ) {}

  /**
   * The folder of a mailbox name (INBOX in any case is the Maildir itself). A name that
   * could not have been created (`../x`, `a/b`, empty levels) throws NameError before it
   * comes near the disk; the folder is confined to the Maildir all the same.
   */
  folder(name: string): Folder {
    const normal = normalizeName(name);
    if (normal === INBOX) return new Folder(INBOX, this.root);
    return new Folder(normal, confine(this.root, `.${encodeUtf7(checkName(normal))}`));
  }

  /** Does the mailbox exist (a folder with a cur/ inside)? */
  async exists(name: string): Promise<boolean> {
    const info = await stat(path.join(this.folder(name).dir, 'cur')).catch(() => undefined);
    return info?.isDirectory() ?? false;
  }

  /** Every mailbox name, INBOX first. */
  async names(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    const names: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !entry.name.startsWith('.') || entry.name === '.' || entry.name === '..') continue;
      try {
        const name = decodeUtf7(entry.name.slice(1));
        if (name !== '' && !name.split(DELIMITER).includes('') && (await this.exists(name))) names.push(name);
      } catch (e) {
        if (!(e instanceof NameError)) throw e; // a folder made by hand with a name that is not modified UTF-7: not shown
      }
    }
    return [INBOX, ...names.sort()];
  }

  /**
   * At login: the Maildir, and the special-use mailboxes (Sent, Drafts, Trash) when they
   * are missing; a new user is subscribed to all of them.
   */
  async ensureDefaults(): Promise<void> {
    const fresh = !(await this.exists(INBOX)) || (await readFile(path.join(this.root, SUBSCRIPTIONS)).catch(() => undefined)) === undefined;
    await new Maildir(this.root).create();
    for (const name of Object.keys(SPECIAL_USE)) if (!(await this.exists(name))) await this.makeFolder(name);
    if (fresh) await this.writeSubscriptions([INBOX, ...Object.keys(SPECIAL_USE)]);
  }

  /**
   * CREATE (RFC 9051 6.3.4): the mailbox, and the levels above it that are missing
   * ("SHOULD create"). A name ending in the delimiter (`Projects.`) says that mailboxes
   * will go inside it: it is created without the delimiter.
   */
  async create(name: string): Promise<string> {
    const normal = checkName(name.endsWith(DELIMITER) ? name.slice(0, -1) : name);
    if (normal === INBOX || (await this.exists(normal))) throw new MailboxError(`mailbox ${normal} already exists`, 'ALREADYEXISTS');
    for (let parent = parentOf(normal); parent !== undefined; parent = parentOf(parent)) if (parent !== INBOX && !(await this.exists(parent))) await this.makeFolder(parent);
    await this.makeFolder(normal);
    return normal;
  }

  private async makeFolder(name: string): Promise<void> {
    const folder = this.folder(name);
    await folder.maildir.create();
    // Maildir++: this file marks a folder (Courier's maildirfolder), so delivery agents know it is not a top Maildir.
    await writeFile(path.join(folder.dir, 'maildirfolder'), '');
  }

  /** DELETE (RFC 9051 6.3.5): not INBOX, not one with mailboxes inside it. */
  async delete(name: string): Promise<void> {
    const normal = normalizeName(name);
    if (normal === INBOX) throw new MailboxError('INBOX cannot be deleted', 'CANNOT');
    if (!(await this.exists(normal))) throw new MailboxError(`no mailbox ${normal}`, 'NONEXISTENT');
    if ((await this.names()).some((n) => n.startsWith(normal + DELIMITER))) throw new MailboxError(`${normal} has mailboxes inside it: delete those first`, 'HASCHILDREN');
    await rm(this.folder(normal).dir, { recursive: true, force: true });
  }

  /**
   * RENAME (RFC 9051 6.3.6): the mailbox and every mailbox inside it. Renaming INBOX is
   * special: its messages move to the new mailbox, and INBOX stays, empty.
   */
  async rename(from: string, to: string): Promise<string> {
    const source = normalizeName(from);
    const target = checkName(to);
    if (!(await this.exists(source))) throw new MailboxError(`no mailbox ${source}`, 'NONEXISTENT');
    if (target === INBOX || (await this.exists(target))) throw new MailboxError(`mailbox ${target} already exists`, 'ALREADYEXISTS');
    if (target.startsWith(source + DELIMITER)) throw new MailboxError(`${source} cannot be moved inside itself`, 'CANNOT');
    for (let parent = parentOf(target); parent !== undefined; parent = parentOf(parent)) if (parent !== INBOX && !(await this.exists(parent))) await this.makeFolder(parent);
    if (source === INBOX) {
      const inbox = this.folder(INBOX);
      await this.makeFolder(target);
      const { messages } = await inbox.scan();
      const flagsOf = await inbox.flagReader();
      await this.folder(target).bringIn(inbox, messages.map((m) => ({ ...m, flags: flagsOf(m.letters) })), true);
      return target;
    }
    const inside = (await this.names()).filter((n) => n.startsWith(source + DELIMITER));
    await rename(this.folder(source).dir, this.folder(target).dir);
    for (const child of inside) await rename(this.folder(child).dir, this.folder(target + child.slice(source.length)).dir);
    return target;
  }

  // -------------------------------------------------------------------------
  // Subscriptions (RFC 9051 6.3.7, 6.3.8): a list of names, whether they exist or not.

  async subscriptions(): Promise<string[]> {
    const text = await readFile(path.join(this.root, SUBSCRIPTIONS), 'utf8').catch(() => '');
    return text.split('\n').filter((l) => l !== '');
  }

  async subscribe(name: string, on: boolean): Promise<void> {
    const normal = normalizeName(name);
    await withLock(path.join(this.root, SUBSCRIPTIONS), async () => {
      const names = (await this.subscriptions()).filter((n) => n !== normal);
      await this.writeSubscriptions(on ? [...names, normal] : names);
    });
  }

  private async writeSubscriptions(names: readonly string[]): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await replaceFile(path.join(this.root, SUBSCRIPTIONS), names.map((n) => `${n}\n`).join(''));
  }
}
