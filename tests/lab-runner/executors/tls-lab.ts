import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { Backend } from '../../../lab-runner/backends/types';
import type { ExecContext, Executor, StepOutput } from '../../../lab-runner/executors/types';
import type { KeylogFile } from '../../../lab-runner/tls/keylog';
import { findService, LabNetwork, StepError, Wire, type Route, type WireEvent } from '../../../lab-runner/wire';
import { caCertificateFile, ensureHostCertificates } from '../../../services/common/certificates';
import { createLogger } from '../../../services/common/logger';
import { ServiceTls } from '../../../services/common/tls';
import { setFault, type TlsFault } from '../../../services/common/tlsFaults';
import { DnsServer } from '../../../services/dns/server';
import { FtpServer } from '../../../services/ftp/server';
import { Pop3Server } from '../../../services/pop3/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';

/**
 * A small TLS lab for the executors' tests, on 127.0.0.1 and free ports: the lab DNS,
 * one data folder with the lab CA, and real servers that speak TLS with the lab's
 * certificates and faults (services/common/tls.ts): HTTPS (www.lab.test:443), POP3 with
 * STLS and POP3S (mail.lab.test:110/995), FTP with AUTH TLS and implicit FTPS
 * (ftp.lab.test:21/990), and SMTP (nodemailer's smtp-server, which the lab's SMTP service
 * is built on) with STARTTLS on 587, SMTPS on 465 and, on 25, a server that offers no
 * STARTTLS. The runner reaches them through a LabNetwork that routes the lab's names and
 * ports there and trusts the lab CA, as the embedded backend's does.
 */

export interface TlsLab {
  dataDir: string;
  caFile: string;
  network: LabNetwork;
  logs: Record<'http' | 'pop3' | 'ftp' | 'smtp', LogCollector>;
  /** What the SMTP servers took: the envelope and the message, and whether it came inside TLS. */
  mail: { from: string; to: string[]; message: string; secure: boolean; user?: string }[];
  /** Switch a certificate lesson on (or off, with undefined) for `service` (http, pop3, ftp). */
  fault(service: 'http' | 'pop3' | 'ftp', fault: TlsFault | undefined): Promise<void>;
  /** Run one step: the input parsed by the executor's schema, a fresh wire. The output, or the failure (StepError) and the transcript. */
  run<I>(executor: Executor<I>, input: unknown, options?: { keylog?: KeylogFile; session?: ExecContext['session'] }): Promise<StepRun>;
  close(): Promise<void>;
}

export interface StepRun {
  output?: StepOutput;
  error?: StepError;
  events: WireEvent[];
}

const noBackend = {} as Backend; // the executors tested here never act on the stack

export async function startTlsLab(): Promise<TlsLab> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-tls-lab-'));
  const logs = { http: new LogCollector(), pop3: new LogCollector(), ftp: new LogCollector(), smtp: new LogCollector() };
  const closers: (() => Promise<unknown>)[] = [];
  const routes: [string, number, Route][] = [];
  const route = (service: string, labPort: number, port: number): void => {
    const plan = findService(service)!;
    routes.push([plan.address, labPort, { host: '127.0.0.1', port, service, label: `${plan.host}:${labPort}` }]);
  };
  const loadTls = (service: string, hosts: string[], log: LogCollector, alpn?: string[]) =>
    ServiceTls.load({ dataDir, service, hosts, alpn, log: createLogger(service, { sink: log.sink, level: 'debug' }) });

  try {
    const dns = DnsServer.fromLab(LAB_DIR, { log: createLogger('dns', { sink: () => {} }) });
    const dnsPort = (await dns.listen(0, '127.0.0.1')).port;
    closers.push(() => dns.close());

    const httpTls = await loadTls('http', ['www.lab.test'], logs.http, ['http/1.1']);
    const web = httpTls.server((o) => https.createServer(o, (req, res) => res.end(`hello ${(req.socket as tls.TLSSocket).servername || 'no-sni'} over ${(req.socket as tls.TLSSocket).getProtocol()}\n`)));
    route('http', 443, await listen(web));
    closers.push(() => close(web));

    const pop3 = await Pop3Server.fromLab(LAB_DIR, dataDir, {
      domain: 'lab.test',
      tls: (await loadTls('pop3', ['mail.lab.test'], logs.pop3)).starter,
      allowPlaintextLogin: false,
      log: createLogger('pop3', { sink: logs.pop3.sink, level: 'debug' }),
    });
    route('pop3', 110, (await pop3.listen(0, '127.0.0.1')).port);
    route('pop3', 995, (await pop3.listenTls(0, '127.0.0.1')).port);
    closers.push(() => pop3.close());

    const ftp = await FtpServer.fromLab(LAB_DIR, dataDir, {
      tls: (await loadTls('ftp', ['ftp.lab.test'], logs.ftp)).starter,
      allowPlaintextLogin: false,
      log: createLogger('ftp', { sink: logs.ftp.sink, level: 'debug' }),
    });
    route('ftp', 21, (await ftp.listen(0, '127.0.0.1')).port);
    route('ftp', 990, (await ftp.listenTls(0, '127.0.0.1')).port);
    closers.push(() => ftp.close());

    const mail: TlsLab['mail'] = [];
    const mailCert = await ensureHostCertificates(dataDir, 'mail.lab.test');
    const smtp = (options: SMTPServerOptions): Promise<number> => {
      const server = new SMTPServer({
        name: 'mail.lab.test',
        key: mailCert.key,
        cert: mailCert.chain,
        authOptional: true,
        logger: false,
        onAuth: (auth, _session, done) => (auth.password === auth.username ? done(null, { user: auth.username }) : done(new Error('5.7.8 Authentication failed'))),
        onData: (stream, session, done) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const user = typeof session.user === 'string' ? session.user : undefined;
            mail.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), message: Buffer.concat(chunks).toString(), secure: session.secure, ...(user ? { user } : {}) });
            logs.smtp.sink(`message secure=${session.secure}`, 'info');
            done();
          });
        },
        ...options,
      });
      server.on('error', () => {});
      closers.push(() => new Promise((resolve) => server.close(() => resolve(undefined))));
      return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.server.address() as net.AddressInfo).port)));
    };
    route('smtp', 587, await smtp({ secure: false })); // STARTTLS offered; AUTH refused before it (538)
    route('smtp', 465, await smtp({ secure: true })); // SMTPS: TLS from the first byte
    route('smtp', 25, await smtp({ secure: false, disabledCommands: ['STARTTLS'] })); // no STARTTLS at all

    const network = new LabNetwork({ host: '127.0.0.1', port: dnsPort, service: 'dns', label: 'ns.lab.test:53' }, routes, { caFile: caCertificateFile(dataDir) });
    return {
      dataDir,
      caFile: caCertificateFile(dataDir),
      network,
      logs,
      mail,
      fault: (service, fault) => setFault(dataDir, service, fault),
      async run(executor, input, options = {}) {
        const wire = new Wire();
        const ctx: ExecContext = {
          network,
          backend: noBackend,
          wire,
          signal: AbortSignal.timeout(15000),
          session: options.session ?? { resources: new Map() },
          keylog: options.keylog,
        };
        try {
          const output = await executor.run(executor.schema.parse(input), ctx);
          return { output, events: wire.events };
        } catch (err) {
          if (!(err instanceof StepError)) throw err;
          return { error: err, events: wire.events };
        } finally {
          if (!options.session) for (const r of ctx.session.resources.values()) r.close();
        }
      },
      async close() {
        for (const c of closers.reverse()) await c();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function close(server: https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
