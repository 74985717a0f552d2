/**
 * The container entry of a mail server: `node dist/services/smtp/main.js`. The lab runs
 * two, one per mail domain (mail.lab.test and mail.example.test).
 *
 *   WIRELAB_LAB      the lab world, for users.yaml (read-only)   default: lab/ in the package
 *   WIRELAB_DATA     Maildirs and the relay queue                default: data/ in the package
 *   MAIL_DOMAIN      the domain this server takes mail for       default: lab.test
 *   MAIL_HOSTNAME    its own host name                           default: mail.<MAIL_DOMAIN>
 *   SMTP_PORT        mail from other servers                     default: 25
 *   SUBMISSION_PORT  mail from logged-in users; empty: none      default: 587
 *   SMTP_HOST        address to bind                             default: 0.0.0.0 (every address of the container)
 *   LAB_DNS          the lab DNS server, host:port, for MX       default: 172.28.0.53:53
 */
import { directDialer } from '../common/dialer';
import { createLogger, flushLogs } from '../common/logger';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { SmtpServer } from './server';

function port(name: string, fallback: string): number | undefined {
  const text = process.env[name] ?? fallback;
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number (0-65535) or empty, got ${JSON.stringify(text)}`);
  return value;
}

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
  const ports = { smtp: port('SMTP_PORT', '25'), submission: port('SUBMISSION_PORT', '587') };
  const host = process.env.SMTP_HOST || '0.0.0.0';
  const dialer = directDialer(endpoint('LAB_DNS', '172.28.0.53:53'));
  const server = await SmtpServer.fromLab(defaultLabDir(), defaultDataDir(), { domain, hostname, dialer, log });
  closeOnSignals(() => server.close(), log); // before listen: a signal during start-up still closes cleanly
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
