import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { caCertificateFile } from '../../services/common/certificates';
import { createLogger } from '../../services/common/logger';
import { ServiceTls, type ServiceTlsOptions } from '../../services/common/tls';
import { LogCollector } from './logs';
import { run as runProcess, type RunResult } from './process';
import { within } from './wait';

/**
 * A small TLS server that uses the lab's TLS options (services/common/tls.ts), and the
 * real clients that talk to it: curl, openssl s_client, Python's ssl, Node's tls.
 * These servers are what the tests of the CA, the faults and the runner's TLS parts run
 * against; the lab's own services are tested over TLS in their own folders.
 */

export const LAB_HOSTS = ['www.lab.test', 'shop.lab.test', 'mail.lab.test', 'mail.example.test', 'ftp.lab.test', 'files.lab.test'];

export interface TlsTestServer {
  dataDir: string;
  /** The lab CA's certificate, what clients are given to trust. */
  caFile: string;
  port: number;
  logs: LogCollector;
  tls: ServiceTls;
  close(): Promise<void>;
}

type ServerOptions = Partial<Omit<ServiceTlsOptions, 'log'>>;

async function loadTls(options: ServerOptions): Promise<{ dataDir: string; logs: LogCollector; tls: ServiceTls; owned: boolean }> {
  const owned = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'wirelab-tls-')));
  const logs = new LogCollector();
  const log = createLogger('web', { sink: logs.sink, level: 'debug' });
  const serviceTls = await ServiceTls.load({ service: 'web', hosts: ['www.lab.test'], ...options, dataDir, log });
  return { dataDir, logs, tls: serviceTls, owned };
}

/** HTTPS on 127.0.0.1:0 answering `hello <the SNI name>`: implicit TLS through ServiceTls.server(). */
export async function startHttpsServer(options: ServerOptions = {}): Promise<TlsTestServer> {
  const { dataDir, logs, tls: serviceTls, owned } = await loadTls({ alpn: ['http/1.1'], ...options });
  const server = serviceTls.server((o) => https.createServer(o, (req, res) => res.end(`hello ${(req.socket as tls.TLSSocket).servername || 'no-sni'}\n`)));
  return listening(server, { dataDir, logs, tls: serviceTls, owned });
}

/**
 * A toy line protocol shaped like SMTP's STARTTLS (RFC 3207), enough for
 * `openssl s_client -starttls smtp` and Python's smtplib: 220 greeting, EHLO offers
 * STARTTLS, STARTTLS answers 220 and the connection goes on through ServiceTls.upgrade().
 */
export async function startStartTlsServer(options: ServerOptions = {}): Promise<TlsTestServer> {
  const { dataDir, logs, tls: serviceTls, owned } = await loadTls(options);
  const log = createLogger('web', { sink: logs.sink });
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const verb = buffered.slice(0, end).split(' ')[0]!.toUpperCase();
        buffered = buffered.slice(end + 2);
        if (verb === 'EHLO') socket.write('250-toy.lab.test\r\n250 STARTTLS\r\n');
        else if (verb === 'STARTTLS') {
          socket.removeListener('data', onData);
          socket.write('220 go ahead\r\n');
          serviceTls.upgrade(socket, log).then(
            (secure) => {
              log.info('tls started', { protocol: secure.getProtocol() ?? '' });
              secure.on('error', () => {});
              secure.on('data', (data: Buffer) => {
                const line = data.toString('latin1').toUpperCase();
                if (line.startsWith('EHLO')) secure.write('250 toy.lab.test\r\n');
                else if (line.startsWith('QUIT')) secure.end('221 bye\r\n');
              });
            },
            () => {}, // logged by upgrade()
          );
          return;
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('502 not here\r\n');
      }
    };
    socket.on('data', onData);
    socket.write('220 toy.lab.test ready\r\n');
  });
  return listening(server, { dataDir, logs, tls: serviceTls, owned });
}

async function listening(server: net.Server, parts: { dataDir: string; logs: LogCollector; tls: ServiceTls; owned: boolean }): Promise<TlsTestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    dataDir: parts.dataDir,
    caFile: caCertificateFile(parts.dataDir),
    port: (server.address() as net.AddressInfo).port,
    logs: parts.logs,
    tls: parts.tls,
    async close() {
      server.close();
      (server as Partial<https.Server>).closeAllConnections?.();
      if (parts.owned) await rm(parts.dataDir, { recursive: true, force: true });
    },
  };
}

export interface Run extends RunResult {
  /** stdout and stderr together: what a person sees. */
  output: string;
}

/**
 * A client run to the end (helpers/process's run(), with its deadline): `env` adds to
 * this process's environment, stdin gets `input` (default nothing) and is closed.
 */
export async function run(file: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const result = await runProcess(file, args, { env: { ...process.env, ...options.env }, input: options.input ?? '' });
  return { ...result, output: result.stdout + result.stderr };
}

/** What each client says when it connects to `host` (resolved to 127.0.0.1) on `port`, trusting `caFile`. */
export const clients = {
  curl: (port: number, host: string, caFile: string, extra: string[] = []): Promise<Run> =>
    run('curl', ['-sS', '--cacert', caFile, '--resolve', `${host}:${port}:127.0.0.1`, ...extra, `https://${host}:${port}/`]),

  openssl: (port: number, host: string, caFile: string, extra: string[] = []): Promise<Run> =>
    run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', host, '-CAfile', caFile, '-verify_return_error', '-verify_hostname', host, '-brief', ...extra]),

  python: (port: number, host: string, caFile: string, code = PYTHON_CONNECT): Promise<Run> => run('python3', ['-c', code, String(port), host, caFile]),

  /** Node's tls.connect, in this process: `ok TLSv1.3` or the error's message. */
  node: (port: number, host: string, caFile: string, extra: tls.ConnectionOptions = {}): Promise<Run> =>
    readFile(caFile).then((ca) => {
      let socket: tls.TLSSocket | undefined;
      const outcome = new Promise<Run>((resolve) => {
        const done = (code: number, text: string): void => resolve({ code, stdout: text, stderr: '', output: text });
        socket = tls.connect({ host: '127.0.0.1', port, servername: host, ca, ...extra }, () => {
          done(0, `ok ${socket!.getProtocol()}`);
          socket!.end();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => done(1, `${err.code}: ${err.message}`));
      });
      return within(outcome, `a TLS handshake with ${host} on 127.0.0.1:${port}, or its error`).catch((err: unknown) => {
        socket?.destroy();
        throw err;
      });
    }),
};

/** Python's ssl with the default context and the lab CA, as a student's script would connect. */
export const PYTHON_CONNECT = `
import socket, ssl, sys
port, host, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca)
try:
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as s:
            print('ok', s.version())
except (ssl.SSLError, OSError) as e:
    print('error:', e)
    sys.exit(1)
`;

/**
 * A self-signed certificate for `localhost` and 127.0.0.1, made by openssl for a test
 * (the lab's own CA is tested on its own): the files, and the Node TLS options.
 */
export interface TestCertificate {
  /** The certificate's file: what clients are told to trust (`--cacert`, `-CAfile`, cafile=). */
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  remove(): void;
}

export function testCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wirelab-cert-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-days', '2', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
