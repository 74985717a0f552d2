/**
 * The container entry of app.lab.test: `node dist/services/app/main.js`.
 *
 *   APP_PORT   default 5000 (the embedded lab uses 8082)
 *   APP_HOST   default 0.0.0.0: every address of the container
 */
import { createLogger, flushLogs } from '../common/logger';
import { closeOnSignals } from '../common/shutdown';
import { AppServer } from './server';

async function main(): Promise<void> {
  const log = createLogger('app');
  const text = process.env.APP_PORT || '5000';
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`APP_PORT must be a port number (0-65535), got ${JSON.stringify(text)}`);
  const host = process.env.APP_HOST || '0.0.0.0';
  const server = new AppServer({ log });
  closeOnSignals(() => server.close(), log); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  process.stdout.write(`app app.lab.test listening on ${address.address}:${address.port}\n`);
}

main().catch((err: unknown) => {
  flushLogs(); // the log lines before the failure come before its message
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.startsWith('app:') ? message : `app: ${message}`}\n`);
  process.exit(1);
});
