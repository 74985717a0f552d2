import { parseLogLine, type LogSink, type ParsedLogLine } from '../../services/common/logger';
import { within, type WaitOptions } from './wait';

/** How many of the last lines a failed wait shows. */
const SHOWN_LINES = 8;

/**
 * The lines a server logged (through `sink`) or a process printed (through `add`).
 * Tests wait for a line instead of sleeping; every wait has a deadline, and one that
 * runs out names the pattern, how many lines matched of how many wanted, and the last
 * lines that did come.
 */
export class LogCollector {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];

  /** Give this to a service's createLogger(). */
  readonly sink: LogSink = (line) => this.add(line);

  add(line: string): void {
    this.lines.push(line);
    for (const wake of this.waiters) wake();
  }

  matching(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }

  /**
   * Resolves with every line that matches `pattern` once there are at least `count`
   * (default 1), counting the lines already there; rejects after `ms` (default WAIT_MS).
   */
  waitFor(pattern: RegExp, options: WaitOptions & { count?: number } = {}): Promise<string[]> {
    const count = options.count ?? 1;
    const done = (): string[] | undefined => {
      const found = this.matching(pattern);
      return found.length >= count ? found : undefined;
    };
    const ready = done();
    if (ready) return Promise.resolve(ready);
    let wake!: () => void;
    const seen = new Promise<string[]>((resolve) => {
      wake = () => {
        const found = done();
        if (found) resolve(found);
      };
      this.waiters.push(wake);
    });
    return within(seen, `${count === 1 ? 'a log line' : `${count} log lines`} matching ${pattern}`, {
      ...options,
      seen: () => `${this.matching(pattern).length} of ${count} matched; ${this.tail()}`,
    }).finally(() => (this.waiters = this.waiters.filter((w) => w !== wake)));
  }

  /** The last lines, for a failure message. */
  tail(n = SHOWN_LINES): string {
    if (this.lines.length === 0) return 'no lines at all';
    return `the last ${Math.min(n, this.lines.length)} of ${this.lines.length} lines:\n  ${this.lines.slice(-n).join('\n  ')}`;
  }

  /** The lines read back into time, service, level, message and fields. */
  parsed(): ParsedLogLine[] {
    return this.lines.map((l) => parseLogLine(l)).filter((l): l is ParsedLogLine => l !== undefined);
  }

  /** The fields of the `wire` lines (logWire: what a service sent and received). */
  wire(): Record<string, string>[] {
    return this.parsed()
      .filter((l) => l.message === 'wire')
      .map((l) => l.fields);
  }
}
