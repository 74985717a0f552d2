/**
 * The container entry of app.lab.test: `node dist/services/app/main.js`.
 *
 *   APP_PORT   default 5000 (the embedded lab uses 8082)
 *   APP_HOST   default 0.0.0.0: every address of the container
 *   SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 */
import { envHost, envPort, envShutdownGraceMs, runService } from '../common/env';
import { closeOnSignals } from '../common/shutdown';
import { AppServer } from './server';

runService('app', async (log) => {
  const port = envPort('APP_PORT', 5000);
  const host = envHost('APP_HOST');
  const closeGraceMs = envShutdownGraceMs();
  const server = new AppServer({ log, closeGraceMs });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  process.stdout.write(`app app.lab.test listening on ${address.address}:${address.port}\n`);
});
