/**
 * The container entry of shop.lab.test: `node dist/services/proxy/main.js`.
 *
 *   PROXY_PORT        default 80 (the embedded lab uses 8081)
 *   PROXY_HTTPS_PORT  default 443 (the embedded lab uses 8444); empty: no HTTPS. The hop to the app stays plain HTTP.
 *   PROXY_HOST        default 0.0.0.0: every address of the container
 *   SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 *   PROXY_UPSTREAM    the app, host:port; the host is looked up in the lab DNS   default: app.lab.test:5000
 *   PROXY_TIMEOUT_MS  how long the app has to answer before 504                  default: 5000
 *   LAB_DNS           the lab DNS server, host:port                              default: 172.28.0.53:53
 *   HTTPS_REDIRECT    yes: answer every plain request with a redirect to https:// (the lesson)   default: no
 *   HTTPS_REDIRECT_PORT  the HTTPS port a redirect names for a client that came on a port of its own (Docker: the published one)
 *   WIRELAB_DATA      the lab's state: the lab CA (tls/)                         default: data/ in the package
 *   TLS_HOSTS         the certificate's host names                               default: shop.lab.test
 *   WIRELAB_SERVICE   its name in the lab, for its certificate fault             default: proxy
 */
import { directDialer } from '../common/dialer';
import { envConnectionsPerAddress, envFlag, envHost, envMilliseconds, envOptionalPort, envPort, envShutdownGraceMs } from '../common/env';
import { createLogger, flushLogs } from '../common/logger';
import { closeOnSignals } from '../common/shutdown';
import { ServiceTls } from '../common/tls';
import { ProxyServer } from './server';

function endpoint(name: string, fallback: string): { host: string; port: number } {
  const text = process.env[name] || fallback;
  const match = /^(.+):(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) throw new Error(`${name} must be host:port, got ${JSON.stringify(text)}`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

async function main(): Promise<void> {
  const log = createLogger('proxy');
  const port = envPort('PROXY_PORT', 80);
  const host = envHost('PROXY_HOST');
  const closeGraceMs = envShutdownGraceMs();
  const server = new ProxyServer({
    dialer: directDialer(endpoint('LAB_DNS', '172.28.0.53:53')),
    upstream: endpoint('PROXY_UPSTREAM', 'app.lab.test:5000'),
    upstreamTimeoutMs: envMilliseconds('PROXY_TIMEOUT_MS'),
    redirectToHttps: envFlag('HTTPS_REDIRECT', false),
    httpsPortForRedirect: envOptionalPort('HTTPS_REDIRECT_PORT'),
    log,
    closeGraceMs,
    ...envConnectionsPerAddress(),
  });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  const httpsPort = envOptionalPort('PROXY_HTTPS_PORT', 443);
  if (httpsPort !== undefined) await server.listenTls(httpsPort, host, await ServiceTls.fromEnv(log, { service: 'proxy', hosts: ['shop.lab.test'], alpn: ['http/1.1'] }));
  process.stdout.write(`proxy shop.lab.test listening on ${address.address}:${address.port}, forwarding to ${process.env.PROXY_UPSTREAM || 'app.lab.test:5000'}\n`);
}

main().catch((err: unknown) => {
  flushLogs(); // the log lines before the failure come before its message
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.startsWith('proxy:') ? message : `proxy: ${message}`}\n`);
  process.exit(1);
});
