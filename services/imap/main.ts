/**
 * The IMAP service as a program (the container's command), one per mail domain:
 *
 *   MAIL_DOMAIN=lab.test IMAP_PORT=1143 IMAPS_PORT=1993 node dist/services/imap/main.js
 *
 * WIRELAB_LAB     the lab world, read-only: users.yaml   default: lab/ in the package
 * WIRELAB_DATA    the lab's state: mail/<domain>/<user>/Maildir, and the lab CA in tls/   default: data/ in the package
 * MAIL_DOMAIN     the mail domain served   default: lab.test
 * IMAP_PORT       default 143 (the embedded lab uses 1143): STARTTLS there (RFC 9051 6.2.1)
 * IMAPS_PORT      default 993 (the embedded lab uses 1993): TLS from the first byte (RFC 8314); empty: none
 * IMAP_HOST       default 0.0.0.0: every address of the container
 * IMAP_PLAINTEXT_LOGIN  yes: take LOGIN and AUTHENTICATE in clear (the lab's lesson on port 143); no: only inside TLS   default: yes
 * TLS_HOSTS       the certificate's host names   default: mail.<MAIL_DOMAIN>
 * WIRELAB_SERVICE its name in the lab, for its certificate fault   default: imap, or imap-example for another domain
 * SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 */
import { envFlag, envHost, envOptionalPort, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { ServiceTls } from '../common/tls';
import { ImapServer } from './server';

runService('imap', async (log) => {
  const domain = process.env.MAIL_DOMAIN ?? 'lab.test';
  const port = envPort('IMAP_PORT', 143);
  const host = envHost('IMAP_HOST');
  const labDir = defaultLabDir();
  const allowPlaintextLogin = envFlag('IMAP_PLAINTEXT_LOGIN', true);
  const closeGraceMs = envShutdownGraceMs();
  const tls = await ServiceTls.fromEnv(log, { service: domain === 'lab.test' ? 'imap' : 'imap-example', hosts: [`mail.${domain}`] });
  const server = await ImapServer.fromLab(labDir, defaultDataDir(), { domain, log, closeGraceMs, allowPlaintextLogin, tls: tls.starter });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  const tlsPort = envOptionalPort('IMAPS_PORT', 993);
  const secure = tlsPort === undefined ? undefined : await server.listenTls(tlsPort, host);
  const imaps = secure ? ` and ${secure.address}:${secure.port} (IMAPS)` : '';
  process.stdout.write(`imap for ${domain} listening on ${address.address}:${address.port}${imaps}, users from ${labDir}/users.yaml\n`);
});
