/**
 * The container entry of a mail server: `node dist/services/smtp/main.js`. The lab runs
 * two, one per mail domain (mail.lab.test and mail.example.test).
 *
 *   WIRELAB_LAB      the lab world, for users.yaml (read-only)   default: lab/ in the package
 *   WIRELAB_DATA     Maildirs, the relay queue, the lab CA (tls/) default: data/ in the package
 *   MAIL_DOMAIN      the domain this server takes mail for       default: lab.test
 *   MAIL_HOSTNAME    its own host name, and its certificate's    default: mail.<MAIL_DOMAIN>
 *   SMTP_PORT        mail from other servers (STARTTLS)          default: 25
 *   SUBMISSION_PORT  mail from logged-in users (STARTTLS); empty: none   default: 587
 *   SMTPS_PORT       submission inside TLS from the first byte; empty: none   default: 465
 *   SMTP_PLAINTEXT_LOGIN  yes: take AUTH in clear on 587 (the lab's lesson); no: only after STARTTLS   default: yes
 *   SMTP_HOST        address to bind                             default: 0.0.0.0 (every address of the container)
 *   SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 *   LAB_DNS          the lab DNS server, host:port, for MX       default: 172.28.0.53:53
 *   WIRELAB_SERVICE  its name in the lab, for its certificate fault (smtp, smtp-example)   default: smtp, or smtp-example for example.test
 */
import { directDialer } from '../common/dialer';
import { createLogger, flushLogs } from '../common/logger';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { envConnectionsPerAddress, envFlag, envOptionalPort, envShutdownGraceMs } from '../common/env';
import { closeOnSignals } from '../common/shutdown';
import { ServiceTls } from '../common/tls';
import { SmtpServer } from './server';

function endpoint(name: string, fallback: string): { host: string; port: number } {
  const text = process.env[name] || fallback;
  const match = /^(.+):(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) throw new Error(`${name} must be host:port, got ${JSON.stringify(text)}`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

async function main(): Promise<void> {
  const log = createLogger('smtp');
  const domain = process.env.MAIL_DOMAIN || 'lab.test';
  const hostname = process.env.MAIL_HOSTNAME || `mail.${domain}`;
  const ports = { smtp: envOptionalPort('SMTP_PORT', 25), submission: envOptionalPort('SUBMISSION_PORT', 587), smtps: envOptionalPort('SMTPS_PORT', 465) };
  const host = process.env.SMTP_HOST || '0.0.0.0';
  const dialer = directDialer(endpoint('LAB_DNS', '172.28.0.53:53'));
  const tls = await ServiceTls.fromEnv(log, { service: domain === 'lab.test' ? 'smtp' : 'smtp-example', hosts: [hostname] });
  const allowPlaintextLogin = envFlag('SMTP_PLAINTEXT_LOGIN', true);
  const closeGraceMs = envShutdownGraceMs();
  const server = await SmtpServer.fromLab(defaultLabDir(), defaultDataDir(), { domain, hostname, dialer, log, closeGraceMs, tls, allowPlaintextLogin, ...envConnectionsPerAddress() });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const bound = await server.listen(ports, host);
  const where = Object.entries(bound).map(([name, a]) => `${a.address}:${a.port} (${name})`);
  process.stdout.write(`smtp ${hostname} for @${domain} listening on ${where.join(', ')}\n`);
}

main().catch((err: unknown) => {
  flushLogs(); // the log lines before the failure come before its message
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.startsWith('smtp:') ? message : `smtp: ${message}`}\n`);
  process.exit(1);
});
