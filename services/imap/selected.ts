import { parseMessage, withCrlf, type MimePart } from './message';
import type { Folder, StoredMessage } from './mailbox';

/**
 * The selected mailbox as one session sees it (RFC 9051 2.3.1.2, 7.4, 7.5.1).
 *
 * A client names messages two ways: by UID, which never changes, and by message
 * sequence number, its place in the list (1, 2, 3 ...). Sequence numbers shift when a
 * message is removed: after `* 2 EXPUNGE`, the old message 3 is message 2. So the server
 * must keep the list exactly as it has told the client, and tell every change in order:
 *
 *   * 4 EXISTS              the list has grown to 4 messages (new mail)
 *   * 2 EXPUNGE             message 2 is gone; those after it move up by one
 *   * 1 FETCH (FLAGS (\Seen))   message 1's flags changed (another session, POP3 ...)
 *
 * sync() compares this session's list with the folder on disk and says what changed.
 * The rules of when an EXPUNGE may be told (not during FETCH, STORE or SEARCH, where the
 * numbers must hold still: RFC 9051 7.5.1) are the caller's: a message gone from the
 * disk before it may be told stays in the list, marked `gone`.
 */

export interface ViewMessage extends StoredMessage {
  flags: string[];
  /** This session is the first to see the message (it took it from new/): IMAP4rev1's \Recent. */
  recent: boolean;
  /** Deleted on disk by someone else, not yet told to the client. */
  gone?: boolean;
}

export type Update =
  | { kind: 'exists'; count: number }
  /** The number of \Recent messages changed (new ones came, or some went): IMAP4rev1's RECENT. */
  | { kind: 'recent'; count: number }
  | { kind: 'expunge'; seq: number; uid: number }
  | { kind: 'flags'; seq: number; uid: number; flags: string[]; recent: boolean };

/** Sizes as sent (CRLF) of messages by folder and unique name: a message's octets never change. */
const sizes = new Map<string, number>();
const MAX_SIZES = 50_000;

export class SelectedMailbox {
  messages: ViewMessage[] = [];
  uidvalidity = 0;
  uidnext = 1;
  /** The result of the last SEARCH RETURN (SAVE), as UIDs (RFC 5182: `$`). */
  saved: number[] = [];

  private constructor(
    readonly folder: Folder,
    /** Opened by EXAMINE: nothing may change, not even \Seen or \Recent. */
    readonly readOnly: boolean,
    /** Show \Recent in flags (IMAP4rev1); IMAP4rev2 has no \Recent (RFC 9051 appendix E). */
    private readonly showRecent: boolean,
  ) {}

  /** SELECT or EXAMINE: the list as it is now. */
  static async open(folder: Folder, readOnly: boolean, showRecent = true): Promise<SelectedMailbox> {
    const view = new SelectedMailbox(folder, readOnly, showRecent);
    await view.sync(true);
    return view;
  }

  /** Message numbers: 1..n. */
  get count(): number {
    return this.messages.length;
  }

  byUid(uid: number): ViewMessage | undefined {
    return this.messages.find((m) => m.uid === uid);
  }

  seqOf(m: ViewMessage): number {
    return this.messages.indexOf(m) + 1;
  }

  /** Messages this session saw first. */
  get recentCount(): number {
    return this.messages.filter((m) => m.recent).length;
  }

  /** The flags as FETCH shows them: system flags, \Recent for a message this session saw first, then keywords. */
  shownFlags(m: ViewMessage): string[] {
    if (!m.recent || !this.showRecent) return m.flags;
    const system = m.flags.filter((f) => f.startsWith('\\'));
    return [...system, '\\Recent', ...m.flags.filter((f) => !f.startsWith('\\'))];
  }

  /**
   * Bring the list up to date with the disk; the changes, in the order to tell them.
   * Mail new to the folder (in new/) moves to cur/ and is \Recent here, unless the
   * mailbox is read-only.
   */
  async sync(allowExpunge: boolean): Promise<Update[]> {
    const state = await this.folder.scan();
    const flagsOf = await this.folder.flagReader();
    const onDisk = new Map(state.messages.map((m) => [m.uid, m]));
    const updates: Update[] = [];
    const lastUid = this.messages.length > 0 ? this.messages[this.messages.length - 1]!.uid : 0;
    const recentBefore = this.recentCount;

    // Gone from the disk: EXPUNGE, highest first, so no number shifts before it is told.
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i]!;
      if (onDisk.has(m.uid)) continue;
      if (!allowExpunge) m.gone = true;
      else {
        updates.push({ kind: 'expunge', seq: i + 1, uid: m.uid });
        this.messages.splice(i, 1);
      }
    }

    // Changed flags: told as FETCH (FLAGS ...).
    this.messages.forEach((m, i) => {
      const now = onDisk.get(m.uid);
      if (!now) return;
      m.file = now.file;
      if (now.letters === m.letters) return;
      m.letters = now.letters;
      const flags = flagsOf(now.letters);
      if (flags.join(' ') !== m.flags.join(' ')) {
        m.flags = flags;
        updates.push({ kind: 'flags', seq: i + 1, uid: m.uid, flags: this.shownFlags(m), recent: m.recent });
      }
    });

    // New messages: UIDs above every UID in the list.
    for (const stored of state.messages) {
      if (stored.uid <= lastUid) continue;
      let recent = stored.file.startsWith('new/');
      let m: StoredMessage = stored;
      if (recent && !this.readOnly) {
        // Take it from new/ to cur/: this session is the first to see it. When another
        // session takes it first, it is \Recent there, not here.
        const taken = await this.folder.takeNew(stored);
        recent = taken !== undefined;
        m = { ...stored, file: taken ?? stored.file };
      }
      this.messages.push({ ...m, flags: flagsOf(m.letters), recent });
    }
    if (this.messages.length > 0 && this.messages[this.messages.length - 1]!.uid > lastUid) updates.push({ kind: 'exists', count: this.messages.length });
    if (this.recentCount !== recentBefore || updates.some((u) => u.kind === 'exists')) updates.push({ kind: 'recent', count: this.recentCount });
    this.uidvalidity = state.uidvalidity;
    this.uidnext = state.uidnext;
    return updates;
  }

  // -------------------------------------------------------------------------
  // Reading messages.

  /** The message as sent (CRLF line ends) and its MIME tree; undefined when it is gone. */
  async load(m: ViewMessage): Promise<{ bytes: Buffer; mime: MimePart } | undefined> {
    const raw = await this.folder.read(m);
    if (!raw) return undefined;
    const bytes = withCrlf(raw);
    rememberSize(this.folder, m, bytes.length);
    return { bytes, mime: parseMessage(bytes) };
  }
}

function rememberSize(folder: Folder, m: { unique: string }, size: number): void {
  if (sizes.size >= MAX_SIZES) sizes.clear();
  sizes.set(`${folder.dir}/${m.unique}`, size);
}

/** RFC822.SIZE (and STATUS SIZE): octets as sent, read once per message, then remembered; undefined when it is gone. */
export async function messageSize(folder: Folder, m: { unique: string; file: string }): Promise<number | undefined> {
  const known = sizes.get(`${folder.dir}/${m.unique}`);
  if (known !== undefined) return known;
  const raw = await folder.read(m);
  if (!raw) return undefined;
  const size = withCrlf(raw).length;
  rememberSize(folder, m, size);
  return size;
}
