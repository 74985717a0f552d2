import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger';
import { buildBounce, type Failure } from './bounce';
import { headerSection } from './headers';
import type { QueueEntry, RelayQueue } from './queue';
import { relay, type RelayContext } from './relay';

/**
 * The queue runner: takes each queue entry whose time has come, tries to relay it
 * (relay.ts), and then, per recipient:
 *   delivered          -> done;
 *   failed for good    -> a bounce to the sender (bounce.ts);
 *   failed for now     -> back in the queue, tried again later, each wait longer than
 *                         the last (retryDelaysMs), until the message is older than
 *                         maxQueueAgeMs: then it bounces too (RFC 5321 4.5.4.1 asks
 *                         for retries over "at least 4-5 days"; the lab says one).
 * The queue lives on disk, so a restarted server picks up where the last one stopped.
 */

export interface RelayWorkerOptions {
  queue: RelayQueue;
  /** How to reach other servers (relay.ts), without the abort signal, which is the worker's. */
  relay: Omit<RelayContext, 'signal'>;
  /** Our mail domain: bounces come from MAILER-DAEMON@domain. */
  domain: string;
  retryDelaysMs: readonly number[];
  maxQueueAgeMs: number;
  /** Put a bounce into the mailbox of `to`, a local address; false if there is no such user. */
  deliverLocal: (to: string, message: Buffer) => Promise<boolean>;
  log: Logger;
}

/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class RelayWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(private readonly o: RelayWorkerOptions) {}

  /** Look at the queue now: at start, and whenever a message was queued. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true; // a run is under way: run once more when it is done
      return;
    }
    clearTimeout(this.timer);
    this.running = this.runDue()
      .then(
        (next) => this.schedule(next),
        (err: unknown) => {
          this.o.log.error('relay worker failed', { error: err instanceof Error ? err.message : String(err) });
          this.schedule(Date.now() + (this.o.retryDelaysMs[0] ?? 60_000));
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stop: an attempt under way is cut off and its entry left as it was, for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }

  private schedule(next: number | undefined): void {
    if (this.stopped || next === undefined) return;
    this.timer = setTimeout(() => this.wake(), Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS));
    this.timer.unref(); // the listening sockets keep a server alive, not this timer
  }

  /** Try every entry that is due; resolve with when the next one is due. */
  private async runDue(): Promise<number | undefined> {
    const entries = await this.o.queue.list((file, error) => this.o.log.warn('queue entry unreadable', { file, error }));
    let next: number | undefined;
    for (const entry of entries) {
      if (this.stopped) return undefined;
      const due = entry.nextAttemptAt <= Date.now() ? await this.attempt(entry) : entry.nextAttemptAt;
      if (due !== undefined) next = Math.min(next ?? due, due);
    }
    return next;
  }

  /** One attempt for one entry; resolves with its next due time, or undefined when it is done. */
  private async attempt(entry: QueueEntry): Promise<number | undefined> {
    const { log, queue } = this.o;
    let message: Buffer;
    try {
      message = await queue.message(entry.id);
    } catch (err) {
      log.error('queue entry without its message, dropped', { id: entry.id, error: (err as Error).message });
      await queue.remove(entry.id);
      return undefined;
    }
    log.info('relay attempt', { id: entry.id, domain: entry.domain, to: entry.recipients.join(','), attempt: entry.attempts + 1 });
    const results = await relay({ ...this.o.relay, signal: this.abort.signal }, entry.from, entry.domain, entry.recipients, message);
    if (this.abort.signal.aborted) return entry.nextAttemptAt; // stopping: this attempt does not count

    const now = Date.now();
    const expired = now - entry.createdAt >= this.o.maxQueueAgeMs;
    const delivered = results.filter((r) => r.outcome === 'delivered');
    const failed: Failure[] = [];
    const waiting: string[] = [];
    let lastError = '';
    for (const r of results) {
      if (r.outcome === 'delivered') continue;
      if (r.outcome === 'permanent') failed.push(r);
      else if (expired) {
        const hours = Math.round(((now - entry.createdAt) / 3_600_000) * 10) / 10;
        failed.push({ ...r, status: '5.4.7', diagnostic: `gave up after ${entry.attempts + 1} attempts in ${hours} h; last error: ${r.diagnostic}` });
      } else {
        waiting.push(r.recipient);
        lastError ||= r.diagnostic;
      }
    }

    // The bounce first, then the queue: a crash in between sends a bounce twice rather than never.
    if (failed.length) await this.bounce(entry, failed, message);
    const attempts = entry.attempts + 1;
    const delay = this.o.retryDelaysMs[Math.min(attempts, this.o.retryDelaysMs.length) - 1]!;
    if (waiting.length) await queue.update({ ...entry, recipients: waiting, attempts, nextAttemptAt: now + delay, lastError });
    else await queue.remove(entry.id);

    for (const r of delivered) log.info('relay delivered', { id: entry.id, to: r.recipient, mx: r.remoteMta, reply: r.diagnostic });
    for (const f of failed) log.warn('relay failed', { id: entry.id, to: f.recipient, status: f.status, reason: f.diagnostic });
    if (!waiting.length) return undefined;
    log.info('relay deferred', { id: entry.id, to: waiting.join(','), attempt: attempts, retry_in_ms: delay, reason: lastError });
    return now + delay;
  }

  /** Tell the sender. Never for a message with an empty sender: a bounce is not bounced (RFC 5321 4.5.5). */
  private async bounce(entry: QueueEntry, failures: Failure[], message: Buffer): Promise<void> {
    const { log, domain, relay: ctx } = this.o;
    if (!entry.from) {
      log.warn('bounce not sent', { id: entry.id, reason: 'the message has no sender (it is itself a bounce)' });
      return;
    }
    const now = new Date();
    const bounce = buildBounce({
      domain,
      hostname: ctx.hostname,
      sender: entry.from,
      failures,
      originalHeaders: headerSection(message),
      arrivalDate: new Date(entry.createdAt),
      date: now,
      messageId: `<${now.getTime()}.${entry.id}.bounce@${ctx.hostname}>`,
      boundary: `${entry.id}.${randomBytes(6).toString('hex')}/${ctx.hostname}`,
    });
    const delivered = await this.o.deliverLocal(entry.from, bounce);
    if (delivered) log.info('bounce delivered', { id: entry.id, to: entry.from, failed: failures.map((f) => f.recipient).join(',') });
    else log.warn('bounce not sent', { id: entry.id, to: entry.from, reason: 'the sender has no mailbox here' });
  }
}
