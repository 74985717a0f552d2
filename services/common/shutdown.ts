import type { Logger } from './logger';

/**
 * For a service's main.ts: on SIGTERM or SIGINT, close the server gracefully, then exit.
 * A second signal, or a close that outlasts `graceMs`, exits at once.
 */
export function closeOnSignals(close: () => Promise<void>, log: Logger, graceMs = 5000): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    log.info('shutting down', { signal });
    setTimeout(() => process.exit(1), graceMs).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
