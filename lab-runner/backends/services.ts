import { DnsServer } from '../../services/dns/server';
import { HttpServer } from '../../services/http/server';
import { SmtpServer } from '../../services/smtp/server';
import { Pop3Server } from '../../services/pop3/server';
import { ImapServer } from '../../services/imap/server';
import { FtpServer } from '../../services/ftp/server';
import { SftpServer } from '../../services/sftp/server';
import { ProxyServer } from '../../services/proxy/server';
import { AppServer } from '../../services/app/server';
import { ServiceTls } from '../../services/common/tls';
import { findService, FTP_PASSIVE_PORTS, PROXY_TIMEOUT_MS } from '../wire';
import type { Logger } from '../../services/common/logger';
import type { LabDialer } from '../../services/common/dialer';

/**
 * How the embedded backend starts each lab service inside this process: the same
 * server classes the containers run, handed the lab world, a data directory and a
 * logger, and bound to the ports the backend chose.
 */

export interface ServiceEnv {
  labDir: string;
  dataDir: string;
  log: Logger;
  /** How the service reaches other lab hosts (the SMTP relay): the lab DNS, and routes to where hosts really listen. */
  dialer: LabDialer;
  /** FTP's passive data ports, when the backend names them (EmbeddedOptions.ftpPassivePorts). */
  ftpPassivePorts?: { from: number; to: number };
}

export interface RunningService {
  /** The real port of each named port. */
  ports: Record<string, number>;
  /** Facts to show: `wirelab up` prints them, a `lab: { action: status }` step reads them. */
  info?: Record<string, string>;
  close(): Promise<void>;
}

export type ServiceFactory = (env: ServiceEnv, ports: Record<string, number>, host: string) => Promise<RunningService>;

/**
 * A service's TLS from the lab CA in the data folder: a certificate made out to its host
 * in the lab plan (and localhost, 127.0.0.1), its faults under its own name.
 */
function labTls(env: ServiceEnv, service: string, alpn?: readonly string[]): Promise<ServiceTls> {
  return ServiceTls.load({ dataDir: env.dataDir, service, hosts: [findService(service)!.host], alpn, log: env.log });
}

/**
 * Bind a service's ports (`bind` resolves with the address of each named port) and
 * report the real port numbers; if one cannot be bound, close what was, and say why.
 */
async function running(server: { close(): Promise<void> }, bind: () => Promise<Partial<Record<string, { port: number }>>>): Promise<RunningService> {
  try {
    const bound = await bind();
    const ports = Object.fromEntries(Object.entries(bound).flatMap(([name, address]) => (address ? [[name, address.port]] : [])));
    return { ports, close: () => server.close() };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** SMTP for one mail domain: 25 and 465 (SMTPS), and 587 (submission) when the plan has it. */
function smtpFor(service: string, domain: string): ServiceFactory {
  return async (env, ports, host) => {
    // Port 587 keeps the "passwords in plain text" lesson: AUTH in clear is taken there, and STARTTLS offered.
    const tls = await labTls(env, service);
    const server = await SmtpServer.fromLab(env.labDir, env.dataDir, { domain, hostname: `mail.${domain}`, dialer: env.dialer, log: env.log, tls, allowPlaintextLogin: true });
    return running(server, () => server.listen({ smtp: ports.smtp, submission: ports.submission, smtps: ports.smtps }, host));
  };
}

function pop3For(service: string, domain: string): ServiceFactory {
  return async (env, ports, host) => {
    // Port 110 keeps the "passwords in plain text" lesson: USER/PASS in clear are taken, and STLS offered.
    const tls = await labTls(env, service);
    const server = await Pop3Server.fromLab(env.labDir, env.dataDir, { domain, log: env.log, allowPlaintextLogin: true, tls: tls.starter });
    return running(server, async () => ({ pop3: await server.listen(ports.pop3, host), pop3s: await server.listenTls(ports.pop3s!, host) }));
  };
}

export const SERVICE_FACTORIES: Record<string, ServiceFactory> = {
  async dns(env, ports, host) {
    const server = DnsServer.fromLab(env.labDir, { log: env.log });
    const address = await server.listen(ports.dns, host);
    return { ports: { dns: address.port }, close: () => server.close() };
  },
  async http(env, ports, host) {
    const server = await HttpServer.fromLab(env.labDir, env.dataDir, { log: env.log });
    const tls = await labTls(env, 'http', ['http/1.1']);
    return running(server, async () => ({ http: await server.listen(ports.http, host), https: await server.listenTls(ports.https!, host, tls) }));
  },
  async proxy(env, ports, host) {
    // HTTPS ends at the proxy: its hop to the app stays plain HTTP (X-Forwarded-Proto says https).
    const server = new ProxyServer({ dialer: env.dialer, log: env.log, upstreamTimeoutMs: PROXY_TIMEOUT_MS });
    const tls = await labTls(env, 'proxy', ['http/1.1']);
    return running(server, async () => ({ http: await server.listen(ports.http, host), https: await server.listenTls(ports.https!, host, tls) }));
  },
  async app(env, ports, host) {
    const server = new AppServer({ log: env.log });
    const address = await server.listen(ports.http, host);
    return { ports: { http: address.port }, close: () => server.close() };
  },
  smtp: smtpFor('smtp', 'lab.test'),
  pop3: pop3For('pop3', 'lab.test'),
  async imap(env, ports, host) {
    // Port 143 keeps the "passwords in plain text" lesson, as POP3's 110: LOGIN in clear is taken, and STARTTLS offered.
    const tls = await labTls(env, 'imap');
    const server = await ImapServer.fromLab(env.labDir, env.dataDir, { log: env.log, allowPlaintextLogin: true, tls: tls.starter });
    return running(server, async () => ({ imap: await server.listen(ports.imap, host), imaps: await server.listenTls(ports.imaps!, host) }));
  },
  'smtp-example': smtpFor('smtp-example', 'example.test'),
  'pop3-example': pop3For('pop3-example', 'example.test'),
  async ftp(env, ports, host) {
    // On free ports (tests, a second lab) the passive ports are free ones too, not the lab's fixed range.
    const passivePorts = env.ftpPassivePorts ?? (ports.ftp === 0 ? undefined : FTP_PASSIVE_PORTS);
    // Port 21 keeps the "FTP sends your password in clear" lesson: USER/PASS in clear are taken, and AUTH TLS offered.
    const tls = await labTls(env, 'ftp');
    const server = await FtpServer.fromLab(env.labDir, env.dataDir, { log: env.log, passivePorts, allowPlaintextLogin: true, tls: tls.starter });
    return running(server, async () => ({ ftp: await server.listen(ports.ftp, host), ftps: await server.listenTls(ports.ftps!, host) }));
  },
  async sftp(env, ports, host) {
    const server = await SftpServer.fromLab(env.labDir, env.dataDir, { log: env.log });
    const address = await server.listen(ports.sftp, host);
    return { ports: { sftp: address.port }, info: { fingerprint: server.hostKeyFingerprint }, close: () => server.close() };
  },
};
