/**
 * The container entry of www.lab.test: `node dist/services/http/main.js`.
 *
 *   WIRELAB_LAB      the lab world (read-only)                    default: lab/ in the package
 *   WIRELAB_DATA     the lab's state (notes, key, the lab CA)      default: data/ in the package
 *   HTTP_PORT        default 80 (the embedded lab uses 8080)
 *   HTTPS_PORT       default 443 (the embedded lab uses 8443); empty: no HTTPS
 *   HTTP_HOST        default 0.0.0.0: every address of the container
 *   SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 *   HTTPS_REDIRECT   yes: answer every plain request with a redirect to https:// (the lesson)   default: no
 *   HTTPS_REDIRECT_PORT  the HTTPS port a redirect names for a client that came on a port of its own (Docker: the published one)
 *   TLS_HOSTS        the certificate's host names               default: www.lab.test
 *   WIRELAB_SERVICE  its name in the lab, for its certificate fault   default: http
 */
import { envConnectionsPerAddress, envFlag, envHost, envOptionalPort, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { ServiceTls } from '../common/tls';
import { HttpServer } from './server';

runService('http', async (log) => {
  const port = envPort('HTTP_PORT', 80);
  const httpsPort = envOptionalPort('HTTPS_PORT', 443);
  const host = envHost('HTTP_HOST');
  const redirectToHttps = envFlag('HTTPS_REDIRECT', false);
  const httpsPortForRedirect = envOptionalPort('HTTPS_REDIRECT_PORT');
  const closeGraceMs = envShutdownGraceMs();
  const server = await HttpServer.fromLab(defaultLabDir(), defaultDataDir(), { log, closeGraceMs, redirectToHttps, httpsPortForRedirect, ...envConnectionsPerAddress() });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  await server.listen(port, host);
  if (httpsPort !== undefined) await server.listenTls(httpsPort, host, await ServiceTls.fromEnv(log, { service: 'http', hosts: ['www.lab.test'], alpn: ['http/1.1'] }));
});
