import type { Logger } from './logger';

/**
 * On shutdown, how long a service lets what is in progress finish (an upload, a message
 * being delivered, a response being sent) before it cuts the connection: the default of
 * every service's `closeGraceMs`; `SHUTDOWN_GRACE_MS` in a service's environment.
 */
export const SHUTDOWN_GRACE_MS = 10_000;

/** What closeOnSignals waits beyond the grace before it gives up and exits 1: the goodbyes, the files closed. */
const EXIT_MARGIN_MS = 5000;

/**
 * For a service's main.ts: on SIGTERM or SIGINT, close the server gracefully (its own
 * closeGraceMs lets work in progress finish), then exit 0. A second signal exits 1 at
 * once, as does a close that outlasts `graceMs` and a margin.
 */
export function closeOnSignals(close: () => Promise<void>, log: Logger, graceMs = SHUTDOWN_GRACE_MS): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    log.info('shutting down', { signal });
    setTimeout(() => process.exit(1), graceMs + EXIT_MARGIN_MS).unref();
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
