/**
 * The container entry of www.lab.test: `node dist/services/http/main.js`.
 *
 *   WIRELAB_LAB   the lab world (read-only)      default: lab/ in the package
 *   WIRELAB_DATA  the lab's state (notes, key)   default: data/ in the package
 *   HTTP_PORT     default 80 (the embedded lab uses 8080)
 *   HTTP_HOST     default 0.0.0.0: every address of the container
 */
import { createLogger, flushLogs } from '../common/logger';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { HttpServer } from './server';

async function main(): Promise<void> {
  const log = createLogger('http');
  const port = Number(process.env.HTTP_PORT ?? 80);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`HTTP_PORT must be a port number, not ${process.env.HTTP_PORT}`);
  const host = process.env.HTTP_HOST ?? '0.0.0.0';
  const server = await HttpServer.fromLab(defaultLabDir(), defaultDataDir(), { log });
  closeOnSignals(() => server.close(), log); // before listen: a signal during start-up still closes cleanly
  await server.listen(port, host);
}

main().catch((err: unknown) => {
  flushLogs(); // the log lines before the failure come before its message
  process.stderr.write(`http: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
