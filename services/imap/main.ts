/**
 * The IMAP service as a program (the container's command), one per mail domain:
 *
 *   MAIL_DOMAIN=lab.test IMAP_PORT=1143 IMAPS_PORT=1993 node dist/services/imap/main.js
 *
 * WIRELAB_LAB     the lab world, read-only: users.yaml   default: lab/ in the package
 * WIRELAB_DATA    the lab's state: mail/<domain>/<user>/Maildir   default: data/ in the package
 * MAIL_DOMAIN     the mail domain served   default: lab.test
 * IMAP_PORT       IMAP with STARTTLS   default 143 (the embedded lab uses 1143)
 * IMAPS_PORT      IMAP over TLS from the first byte   default 993 (1993); only with a certificate
 * IMAP_HOST       default 0.0.0.0: every address of the container
 * SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 * IMAP_TLS_CERT, IMAP_TLS_KEY   PEM files of the server's certificate (chain) and key; without
 *                 them there is no STARTTLS and no IMAPS port
 * IMAP_PLAINTEXT_LOGIN  yes: take LOGIN and AUTHENTICATE in clear (the plain-text lesson); no: only inside TLS   default: no
 */
import { readFileSync } from 'node:fs';
import { envFlag, envHost, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { fixedTls } from '../common/tls';
import { ImapServer } from './server';

runService('imap', async (log) => {
  const domain = process.env.MAIL_DOMAIN ?? 'lab.test';
  const port = envPort('IMAP_PORT', 143);
  const tlsPort = envPort('IMAPS_PORT', 993);
  const host = envHost('IMAP_HOST');
  const { IMAP_TLS_CERT: cert, IMAP_TLS_KEY: key } = process.env;
  const tls = cert && key ? fixedTls({ cert: readFileSync(cert), key: readFileSync(key) }) : undefined;
  const allowPlaintextLogin = envFlag('IMAP_PLAINTEXT_LOGIN', false);
  const labDir = defaultLabDir();
  const closeGraceMs = envShutdownGraceMs();
  const server = await ImapServer.fromLab(labDir, defaultDataDir(), { domain, log, closeGraceMs, tls, allowPlaintextLogin });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  const secure = tls ? await server.listenTls(tlsPort, host) : undefined;
  const also = secure ? ` and ${secure.address}:${secure.port} (TLS)` : ' (no certificate: no STARTTLS, no IMAPS)';
  process.stdout.write(`imap for ${domain} listening on ${address.address}:${address.port}${also}, users from ${labDir}/users.yaml\n`);
});
