/**
 * Guessing passwords is slow everywhere: failed logins counted per client address, across
 * connections and over time, by every service that takes a password (SMTP AUTH, POP3,
 * IMAP, FTP, SFTP, www's /api/login). Per connection limits alone are no defence: a
 * guesser that reconnects after each refusal starts over at once.
 *
 *   - Each failure waits authFailureDelayMs times the failures its address has made
 *     (1 s, 2 s, 3 s ...): the delay grows as the guessing goes on.
 *   - After maxAuthFailuresPerAddress failures, the address is not asked for a password
 *     any more (none is checked, the right one neither) until authCooldownMs have passed
 *     since its last failure: at most that many guesses per cool-down, however many
 *     connections it opens.
 *   - Then it starts over: a classmate who mistyped, or one who guessed, is locked out
 *     for the cool-down, never for good.
 *
 * Addresses are forgotten once their cool-down has passed, so the table stays as small as
 * the number of addresses guessing now. (OpenSSH's PerSourcePenalties and fail2ban work
 * the same way: by source address, for a while.)
 */

/** The limits, as each service's options name them. */
export interface AuthThrottleLimits {
  /** A failed login waits this long times the failures of its address before its answer. */
  authFailureDelayMs: number;
  /** Failures from one address before it is locked out for authCooldownMs. */
  maxAuthFailuresPerAddress: number;
  /** How long failures are remembered after the last one, and a lock-out lasts. */
  authCooldownMs: number;
}

/** The options of every service that takes a password (its own options extend these). */
export interface AuthThrottleOptions {
  /**
   * A failed login waits this long, times the failures its client address has made on
   * any connection, before its answer: guessing gets slower as it goes on; other clients
   * are served meanwhile. Default: 1000 (SFTP: 500).
   */
  authFailureDelayMs?: number;
  /** Failed logins from one client address before it is locked out: no password is checked for it until authCooldownMs have passed. Default: 10. */
  maxAuthFailuresPerAddress?: number;
  /** How long an address's failures are remembered after its last one, and how long a lock-out lasts. Default: 60000. */
  authCooldownMs?: number;
}

/** The defaults every service starts from (SFTP keeps a shorter first delay of its own). */
export const AUTH_THROTTLE_DEFAULTS = {
  authFailureDelayMs: 1000,
  maxAuthFailuresPerAddress: 10,
  authCooldownMs: 60 * 1000,
} as const;

/** What a failure costs: how many its address has made, and how long this answer waits. */
export interface Failure {
  failures: number;
  delayMs: number;
}

interface Record {
  failures: number;
  /** When the last failure was, in ms (the clock's). */
  last: number;
}

export class AuthThrottle {
  private readonly byAddress = new Map<string, Record>();

  constructor(
    private readonly limits: AuthThrottleLimits,
    /** The clock, in ms. */
    private readonly now: () => number = Date.now,
  ) {}

  /** Before a password is checked: how long `address` must still wait (ms), or undefined when it may try. */
  lockedFor(address: string): number | undefined {
    const record = this.current(address);
    if (!record || record.failures < this.limits.maxAuthFailuresPerAddress) return undefined;
    return record.last + this.limits.authCooldownMs - this.now();
  }

  /** A wrong password from `address`: counted; its answer waits longer than the last one did. */
  failed(address: string): Failure {
    this.forgetOld();
    const record = this.current(address) ?? { failures: 0, last: 0 };
    record.failures++;
    record.last = this.now();
    this.byAddress.set(address, record);
    const delayMs = Math.min(this.limits.authFailureDelayMs * record.failures, this.limits.authCooldownMs);
    return { failures: record.failures, delayMs };
  }

  /** The record of an address whose cool-down has not passed yet. */
  private current(address: string): Record | undefined {
    const record = this.byAddress.get(address);
    if (record && this.now() - record.last >= this.limits.authCooldownMs) {
      this.byAddress.delete(address);
      return undefined;
    }
    return record;
  }

  private forgetOld(): void {
    for (const address of [...this.byAddress.keys()]) this.current(address);
  }
}

/** `in 42 s`: a wait for a person, rounded up to the second. */
export function retryIn(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))} s`;
}
