import type { Maildir, MaildirMessage } from '../common/maildir';
import { messageLines, octets, uidlOf } from './message';

/**
 * A user's maildrop as one POP3 session sees it.
 *
 * The list of messages is taken once, at login, and numbered 1, 2, 3 ... in delivery
 * order (RFC 1939 6). The numbers stay fixed for the whole session: DELE only *marks* a
 * message, and a marked message keeps its number (later commands on it get
 * "-ERR message 2 already deleted"). Mail that arrives during the session is not in the
 * list; the next session sees it. This is what lets a client say "RETR 2" and be sure
 * which message it gets.
 *
 * Nothing is removed from the disk until expunge(), which only the UPDATE state calls,
 * after QUIT (RFC 1939 6). A session that ends any other way removes nothing.
 */

export interface Pop3Message {
  /** Its number in this session: 1, 2, ... fixed at login. */
  readonly number: number;
  /** Octets as sent: CRLF line ends, not counting dot-stuffing (RFC 1939 11). */
  readonly size: number;
  /** What UIDL shows: the same in every session. */
  readonly uidl: string;
  /** Marked by DELE; unmarked by RSET; removed at QUIT. */
  deleted: boolean;
  readonly stored: MaildirMessage;
}

export class Maildrop {
  private constructor(
    private readonly maildir: Maildir,
    /** Every message of the session, marked ones included; index = number - 1. */
    readonly messages: readonly Pop3Message[],
  ) {}

  /**
   * List the maildrop and compute each message's size as sent. RFC 1939 11 expects the
   * server to work the sizes out when it opens the maildrop: a file with bare LF line
   * ends is bigger on the wire than on the disk.
   */
  static async open(maildir: Maildir): Promise<Maildrop> {
    const messages: Pop3Message[] = [];
    for (const stored of await maildir.list()) {
      const raw = await maildir.read(stored).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined; // removed between list and read: not in this session
        throw err;
      });
      if (!raw) continue;
      messages.push({ number: messages.length + 1, size: octets(messageLines(raw)), uidl: uidlOf(stored.uid), deleted: false, stored });
    }
    return new Maildrop(maildir, messages);
  }

  /** The message with this number, marked or not; undefined if there is none. */
  get(number: number): Pop3Message | undefined {
    return Number.isSafeInteger(number) && number >= 1 ? this.messages[number - 1] : undefined;
  }

  /** The messages not marked as deleted: what STAT counts and LIST and UIDL show. */
  visible(): Pop3Message[] {
    return this.messages.filter((m) => !m.deleted);
  }

  get count(): number {
    return this.visible().length;
  }

  get size(): number {
    return this.visible().reduce((sum, m) => sum + m.size, 0);
  }

  /**
   * The message's lines, without line ends (the reply adds CRLF and dot-stuffing);
   * undefined when it is gone: IMAP shares the Maildir and may have expunged it since
   * login. (A message IMAP only renamed, for its flags, is found under its new name.)
   */
  async lines(message: Pop3Message): Promise<Buffer[] | undefined> {
    try {
      return messageLines(await this.maildir.read(message.stored));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** RSET (RFC 1939 5): unmark every message. */
  reset(): void {
    for (const m of this.messages) m.deleted = false;
  }

  /** UPDATE (RFC 1939 6): remove the marked messages from the disk. Only after QUIT. */
  async expunge(): Promise<{ removed: number; failed: number }> {
    let removed = 0;
    let failed = 0;
    for (const m of this.messages.filter((x) => x.deleted)) {
      try {
        await this.maildir.remove(m.stored);
        removed++;
      } catch {
        failed++;
      }
    }
    return { removed, failed };
  }
}
