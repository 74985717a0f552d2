import type { LogSink } from '../../services/common/logger';

/** Collects a server's log lines; tests wait for lines instead of sleeping. */
export class LogCollector {
  readonly lines: string[] = [];
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  readonly sink: LogSink = (line) => {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  };

  matching(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }

  /** Resolves once at least `count` lines match. */
  waitFor(pattern: RegExp, count = 1): Promise<string[]> {
    const test = (): boolean => this.matching(pattern).length >= count;
    if (test()) return Promise.resolve(this.matching(pattern));
    return new Promise<void>((resolve) => this.waiters.push({ test, resolve })).then(() => this.matching(pattern));
  }
}
