/**
 * The POP3 service as a program (the container's command), one per mail domain:
 *
 *   MAIL_DOMAIN=lab.test POP3_PORT=1110 POP3_HOST=127.0.0.1 node dist/services/pop3/main.js
 *
 * WIRELAB_LAB   the lab world, read-only: users.yaml   default: lab/ in the package
 * WIRELAB_DATA  the lab's state: mail/<domain>/<user>/Maildir   default: data/ in the package
 * MAIL_DOMAIN   the mail domain served (lab.test or example.test)   default: lab.test
 * POP3_PORT     default 110 (the embedded lab uses 1110 and 1111): STLS there (RFC 2595)
 * POP3S_PORT    default 995 (the embedded lab uses 1995 and 1996): TLS from the first byte (RFC 8314); empty: none
 * POP3_HOST     default 0.0.0.0: every address of the container
 * SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 * POP3_PLAINTEXT_LOGIN  yes: take USER/PASS in clear (the lab's lesson on port 110); no: only inside TLS   default: yes
 * TLS_HOSTS     the certificate's host names   default: mail.<MAIL_DOMAIN>
 * WIRELAB_SERVICE  its name in the lab, for its certificate fault   default: pop3, or pop3-example for example.test
 */
import { envFlag, envHost, envOptionalPort, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { ServiceTls } from '../common/tls';
import { Pop3Server } from './server';

runService('pop3', async (log) => {
  const domain = process.env.MAIL_DOMAIN ?? 'lab.test';
  const port = envPort('POP3_PORT', 110);
  const host = envHost('POP3_HOST');
  const labDir = defaultLabDir();
  const allowPlaintextLogin = envFlag('POP3_PLAINTEXT_LOGIN', true);
  const tls = await ServiceTls.fromEnv(log, { service: domain === 'lab.test' ? 'pop3' : 'pop3-example', hosts: [`mail.${domain}`] });
  const closeGraceMs = envShutdownGraceMs();
  const server = await Pop3Server.fromLab(labDir, defaultDataDir(), { domain, log, closeGraceMs, allowPlaintextLogin, tls: tls.starter });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  const tlsPort = envOptionalPort('POP3S_PORT', 995);
  const secure = tlsPort === undefined ? undefined : await server.listenTls(tlsPort, host);
  const pop3s = secure ? ` and ${secure.address}:${secure.port} (POP3S)` : '';
  process.stdout.write(`pop3 for ${domain} listening on ${address.address}:${address.port}${pop3s}, users from ${labDir}/users.yaml\n`);
});
