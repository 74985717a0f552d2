/**
 * Deadlines for everything a test waits on. A wait that runs out fails with what it
 * waited for and what it saw instead, not with Jest's anonymous "Exceeded timeout of
 * 30000 ms": a missing log line or reply then reads as a message about that line.
 */

/**
 * How long a test waits, by default, for something that should come at once on
 * loopback: a reply, a log line, a close. A wait that needs longer (a server-side
 * timeout under test, a big transfer) says so with its own `ms`. A slow machine can
 * raise the default with WIRELAB_TEST_WAIT_MS.
 */
export const WAIT_MS = Number(process.env.WIRELAB_TEST_WAIT_MS) || 5000;

export interface WaitOptions {
  /** The deadline in milliseconds (default WAIT_MS). */
  ms?: number;
  /** Gives up (rejects with the signal's reason) when aborted: the wait lost a race that decided the test. */
  signal?: AbortSignal;
}

/** A wait that ran out. `message` names what was awaited and what came instead. */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

/**
 * `promise`, or a WaitTimeout after `ms` saying `timed out after MS ms waiting for WHAT`,
 * followed by `seen()` (what did come: the last lines, the bytes so far). The timer
 * does not outlive the race. The failure points at the test's line that asked for the
 * wait, not at this timer.
 */
export function within<T>(promise: Promise<T>, what: string, options: WaitOptions & { seen?: () => string } = {}): Promise<T> {
  const ms = options.ms ?? WAIT_MS;
  const { signal } = options;
  const asked = new Error(); // its stack is where the test asked for the wait
  let timer: NodeJS.Timeout | undefined;
  let abort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const seen = options.seen?.();
      reject(pointAtCaller(new WaitTimeout(`timed out after ${ms} ms waiting for ${what}${seen ? `\n${seen}` : ''}`), asked));
    }, ms);
    abort = () => reject(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', abort!);
  });
}

/**
 * `err` with the stack of `asked` (an Error made where the test asked for the wait),
 * less the frames inside the helpers: Jest then shows the test's line.
 */
export function pointAtCaller(err: Error, asked: Error): Error {
  const frames = (asked.stack ?? '').split('\n').slice(1);
  const outside = frames.filter((f) => !/[\\/]tests[\\/]helpers[\\/](?!.*\.test\.ts)/.test(f));
  err.stack = [`${err.name}: ${err.message}`, ...(outside.length > 0 ? outside : frames)].join('\n');
  return err;
}

/**
 * Check until `check` returns a value, for a state that has no event to wait on (a file
 * that appears, a count in a folder). `describe` says what was last seen, for the
 * timeout's message.
 */
export async function poll<T>(what: string, check: () => Promise<T | undefined>, options: WaitOptions & { everyMs?: number; describe?: () => Promise<string> } = {}): Promise<T> {
  const asked = new Error();
  const ms = options.ms ?? WAIT_MS;
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const seen = options.describe ? `\n${await options.describe()}` : '';
      throw pointAtCaller(new WaitTimeout(`timed out after ${ms} ms waiting for ${what}${seen}`), asked);
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 25));
  }
}
