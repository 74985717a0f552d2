import fs from 'node:fs';
import path from 'node:path';

/**
 * Telling an IDLE client about new mail as it arrives (RFC 2177). The server watches the
 * selected mailbox's new/ and cur/ folders: SMTP delivering a message, POP3 deleting
 * one, another session changing flags all rename or remove files there. fs.watch
 * (inotify on Linux) says so at once; where it says nothing (some network and container
 * file systems), a poll every `pollMs` catches the change anyway.
 */
export class FolderWatcher {
  private readonly watchers: fs.FSWatcher[] = [];
  private readonly timer: NodeJS.Timeout;
  private pending = false;
  private wake?: () => void;

  constructor(maildirDir: string, pollMs: number) {
    for (const sub of ['new', 'cur']) {
      try {
        const watcher = fs.watch(path.join(maildirDir, sub), { persistent: false }, () => this.changed());
        watcher.on('error', () => {}); // the folder went away (DELETE): the poll goes on
        this.watchers.push(watcher);
      } catch {
        // cannot watch here: the poll does the work
      }
    }
    this.timer = setInterval(() => this.changed(), pollMs);
    this.timer.unref();
  }

  /** Resolves at the next change (or poll), at once if one came since the last call; or when `signal` fires. */
  next(signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done);
    });
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of this.watchers) w.close();
    this.wake?.();
  }

  private changed(): void {
    this.pending = true;
    this.wake?.();
  }
}
