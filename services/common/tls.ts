import type net from 'node:net';
import tls from 'node:tls';
import { ensureHostCertificates, type HostCertificates } from './certificates';
import type { Logger } from './logger';
import { checkLimits } from './options';
import { defaultDataDir } from './paths';
import { faultFile, isTlsFault, readFault, TLS_FAULT_LESSONS, TLS_FAULTS, type TlsFault } from './tlsFaults';

/**
 * TLS for a lab service: the certificate its host names present, the protocol versions
 * it accepts, and the certificate lessons (faults) that make it present a broken one.
 *
 *   const tlsFor = await ServiceTls.load({ dataDir, service: 'http', hosts: ['www.lab.test'], alpn: ['http/1.1'], log });
 *   const server = tlsFor.server((options) => https.createServer(options, handler));   // implicit TLS (HTTPS, SMTPS, POP3S...)
 *   const secure = await tlsFor.upgrade(socket);                                        // STARTTLS / STLS / AUTH TLS
 *
 * A fault is switched on and off from outside the service (tlsFaults.ts: `setFault`, or
 * `node dist/services/main.js tls-fault SERVICE FAULT|none` in its container): it is a
 * small file in <dataDir>/tls/faults/, read when each connection starts, so it takes
 * effect from the next connection on, without a restart.
 */

/** Which of a host's certificate files each fault presents. */
const PRESENTED: Record<TlsFault | 'none', 'chain' | 'leaf' | 'expired' | 'wrongName' | 'selfSigned'> = {
  none: 'chain',
  expired: 'expired',
  'wrong-name': 'wrongName',
  'self-signed': 'selfSigned',
  'missing-intermediate': 'leaf',
  'tls1.0-only': 'chain',
};

/** TLS 1.2 and 1.3 only: RFC 8996 retired TLS 1.0 and 1.1. */
const CURRENT_VERSIONS: Pick<tls.SecureContextOptions, 'minVersion' | 'maxVersion'> = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
/**
 * The tls1.0-only lesson. OpenSSL 3 refuses TLS 1.0's SHA-1 handshake signatures at
 * its default security level, so the server has to go down to level 0 to speak it at all.
 */
const TLS10_ONLY: Pick<tls.SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers'> = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' };

/** Limits of a TLS endpoint (services/common/options.ts). */
export const TLS_LIMITS = {
  /** A client that connects and does not finish its handshake in this time is dropped. */
  handshakeTimeoutMs: 10_000,
};

export interface ServiceTlsOptions {
  /** The lab's state: the CA and the certificates are in <dataDir>/tls. */
  dataDir: string;
  /**
   * The service's name in the lab (lab-runner/backends/stack.ts: http, proxy, smtp,
   * smtp-example, ...): its fault is <dataDir>/tls/faults/<service>.
   */
  service: string;
  /** The host names it answers for (SNI). The first is presented to a client that names none. */
  hosts: readonly string[];
  /** ALPN protocols to offer, in order of preference (RFC 7301), e.g. ['http/1.1']. Default: no ALPN. */
  alpn?: readonly string[];
  log: Logger;
  /** Default TLS_LIMITS.handshakeTimeoutMs (10 s). */
  handshakeTimeoutMs?: number;
}

/** A failed handshake as Node reports it: OpenSSL's reason in `reason`, Node's code in `code`. */
export type HandshakeError = Error & { code?: string; reason?: string };

export class ServiceTls {
  private readonly contexts = new Map<string, tls.SecureContext>();
  private lastFault: TlsFault | undefined;
  private lastUnknown = '';

  private constructor(
    private readonly o: ServiceTlsOptions,
    /** The certificates of o.hosts, in that order. */
    private readonly hosts: readonly HostCertificates[],
    private readonly limits: typeof TLS_LIMITS,
  ) {}

  /**
   * A service's TLS as its container sets it (main.ts): the lab CA in $WIRELAB_DATA, its
   * name in the lab from WIRELAB_SERVICE (the fault it reads: compose.yaml tells the two
   * mail domains' servers apart), its host names from TLS_HOSTS (comma-separated).
   */
  static fromEnv(log: Logger, defaults: { service: string; hosts: readonly string[]; alpn?: readonly string[] }): Promise<ServiceTls> {
    const hosts = (process.env.TLS_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    return ServiceTls.load({
      dataDir: defaultDataDir(),
      service: process.env.WIRELAB_SERVICE || defaults.service,
      hosts: hosts.length ? hosts : defaults.hosts,
      alpn: defaults.alpn,
      log,
    });
  }

  /** Make (first start) or load the certificates of every host the service answers for. */
  static async load(options: ServiceTlsOptions): Promise<ServiceTls> {
    if (!options.hosts.length) throw new Error(`tls ${options.service}: no host names to make certificates for`);
    const limits = checkLimits(`tls ${options.service}`, TLS_LIMITS, { handshakeTimeoutMs: options.handshakeTimeoutMs });
    faultFile(options.dataDir, options.service); // checks the name now rather than at the first connection
    const hosts = await Promise.all(options.hosts.map((host) => ensureHostCertificates(options.dataDir, host)));
    return new ServiceTls(options, hosts, limits);
  }

  /** The fault in force: the fault file is read again (a few bytes) at every new connection. */
  fault(): TlsFault | undefined {
    const word = readFault(this.o.dataDir, this.o.service);
    const fault = isTlsFault(word) ? word : undefined;
    if (word && !fault && word !== this.lastUnknown) this.o.log.warn('tls fault unknown, ignored', { fault: word, known: TLS_FAULTS.join(',') });
    this.lastUnknown = fault ? '' : word;
    if (fault !== this.lastFault) {
      if (fault) this.o.log.info('tls fault on', { fault, lesson: TLS_FAULT_LESSONS[fault] });
      else this.o.log.info('tls fault off', { fault: this.lastFault });
      this.lastFault = fault;
    }
    return fault;
  }

  /** Node's secure-context options for `host`'s certificate under `fault`: key, chain, versions, ciphers. */
  private contextOptions(host: HostCertificates, fault: TlsFault | undefined): tls.SecureContextOptions {
    const versions = fault === 'tls1.0-only' ? TLS10_ONLY : CURRENT_VERSIONS;
    return { key: host.key, cert: host[PRESENTED[fault ?? 'none']], ...versions };
  }

  /** The secure context for a client that asked for `servername` (SNI, RFC 6066 §3): that host's, else the first host's. */
  secureContext(servername: string | undefined, fault: TlsFault | undefined): tls.SecureContext {
    const name = servername?.toLowerCase();
    const host = this.hosts.find((h) => h.host === name) ?? this.hosts[0]!;
    const key = `${host.host} ${fault ?? 'none'}`;
    let context = this.contexts.get(key);
    if (!context) {
      context = tls.createSecureContext(this.contextOptions(host, fault));
      this.contexts.set(key, context);
    }
    return context;
  }

  /**
   * A TLS server (tls.Server, https.Server) made by `make` from this service's options,
   * kept in step with the fault (checked as each connection arrives, before its
   * handshake) and logging why each failed handshake failed:
   *   tlsFor.server((options) => tls.createServer(options, onSecureConnection))
   */
  server<S extends tls.Server>(make: (options: tls.TlsOptions) => S): S {
    let applied = this.fault();
    const server = make({
      ...this.contextOptions(this.hosts[0]!, applied),
      SNICallback: (servername, done) => done(null, this.secureContext(servername, applied)),
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      ...(this.o.alpn ? { ALPNProtocols: [...this.o.alpn] } : {}),
    });
    const clients = new WeakMap<net.Socket, string>();
    // Before the server's own listener, which starts the handshake with the context it has.
    server.prependListener('connection', (socket: net.Socket) => {
      clients.set(socket, peer(socket));
      const now = this.fault();
      if (now === applied) return;
      server.setSecureContext(this.contextOptions(this.hosts[0]!, now));
      applied = now;
    });
    server.on('tlsClientError', (err: HandshakeError, socket: tls.TLSSocket) => {
      // By now the TLS socket has often lost its address (the client hung up, nodejs/node#43963):
      // the TCP socket under it (_parent) had it noted as it arrived.
      const tcp = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent;
      this.handshakeFailed(err, this.o.log, (tcp && clients.get(tcp)) ?? peer(socket), applied);
    });
    return server;
  }

  /**
   * Start TLS on a connection that began in plain text (STARTTLS, RFC 3207; STLS,
   * RFC 2595; AUTH TLS, RFC 4217), or on a plain net.Server's connection (implicit TLS).
   * Resolves with the secure socket once the handshake is done; a failed handshake is
   * logged with its reason, the connection closed, and the promise rejected.
   */
  upgrade(socket: net.Socket, log: Logger = this.o.log): Promise<tls.TLSSocket> {
    const fault = this.fault();
    const client = peer(socket);
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: this.secureContext(undefined, fault),
      SNICallback: (servername, done) => done(null, this.secureContext(servername, fault)),
      ...(this.o.alpn ? { ALPNProtocols: [...this.o.alpn] } : {}),
    });
    return handshake(secure, this.limits.handshakeTimeoutMs, (err) => this.handshakeFailed(err, log, client, fault));
  }

  /** upgrade() as a TlsStarter, what the line protocols (POP3, FTP, IMAP) take. */
  readonly starter: TlsStarter = (socket, log) => this.upgrade(socket, log);

  /**
   * For a server that makes its TLS sockets itself (smtp-server, for STARTTLS and SMTPS):
   * the secure context for a client that named `servername` (SNI), or none, under the
   * fault in force now.
   */
  contextNow(servername?: string): tls.SecureContext {
    return this.secureContext(servername, this.fault());
  }

  /** For such a server: log a handshake that failed, with its reason, as server() and upgrade() do. */
  logHandshakeFailure(err: HandshakeError, log: Logger, client: string): void {
    this.handshakeFailed(err, log, client, this.lastFault);
  }

  private handshakeFailed(err: HandshakeError, log: Logger, client: string, fault: TlsFault | undefined): void {
    const reason = err.reason ?? err.message;
    const why = (fault === 'tls1.0-only' && TLS10_FAILURES[reason]) || HANDSHAKE_FAILURES[reason] || HANDSHAKE_FAILURES[err.code ?? ''];
    log.warn('tls handshake failed', { client, reason, code: err.code, fault, why });
  }
}

/**
 * Starts TLS, as the server, on a connection that is open already: after STARTTLS, STLS
 * or AUTH TLS, on an implicit-TLS port's connection, on an FTP data connection under PROT P.
 * Resolves with the encrypted socket once the handshake is done; a failed handshake is
 * logged with its reason, the connection closed, and the promise rejected.
 */
export type TlsStarter = (socket: net.Socket, log: Logger) => Promise<tls.TLSSocket>;

/** A TlsStarter from fixed Node TLS options (a test's own certificate): no lab CA, no faults. */
export function fixedTls(options: tls.TlsOptions, handshakeTimeoutMs = TLS_LIMITS.handshakeTimeoutMs): TlsStarter {
  return (socket, log) => {
    const client = peer(socket);
    const secure = new tls.TLSSocket(socket, { ...options, isServer: true });
    return handshake(secure, handshakeTimeoutMs, (err) => log.warn('tls handshake failed', { client, reason: err.reason ?? err.message, code: err.code }));
  };
}

/** Wait for a server-side handshake: the secure socket, or (after `failed` is told why) a rejection with the socket destroyed. */
function handshake(secure: tls.TLSSocket, timeoutMs: number, failed: (err: HandshakeError) => void): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: HandshakeError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      failed(err);
      secure.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(handshakeTimeout(timeoutMs)), timeoutMs);
    const closed = (): void => fail(Object.assign(new Error('the client closed the connection during the handshake'), { code: 'ECONNRESET' }));
    secure.once('error', fail);
    secure.once('close', closed);
    secure.once('secure', () => {
      settled = true;
      clearTimeout(timer);
      secure.removeListener('error', fail);
      secure.removeListener('close', closed);
      secure.on('error', () => {}); // later errors surface where the socket is used
      resolve(secure);
    });
  });
}

function peer(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

function handshakeTimeout(ms: number): HandshakeError {
  return Object.assign(new Error(`no TLS handshake within ${ms} ms`), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
}

/**
 * What a failed handshake's reason (OpenSSL's words, or Node's code) tells the person
 * reading the log. An alert the client sent names what it refused (RFC 8446 §6.2).
 */
const HANDSHAKE_FAILURES: Record<string, string> = {
  'unsupported protocol': 'the client offered only TLS versions this server refuses (it speaks TLS 1.2 and 1.3)',
  'no shared cipher': 'the client and the server have no cipher suite in common',
  'wrong version number': 'what arrived is not a TLS handshake this server speaks',
  'http request': 'the client sent plain HTTP to a TLS port (http:// instead of https://)',
  'tlsv1 alert unknown ca': "the client does not trust the certificate's CA (give it the lab CA: wirelab ca)",
  'sslv3 alert certificate expired': 'the client refused the certificate: it has expired',
  'sslv3 alert bad certificate': 'the client refused the certificate',
  'tlsv1 alert protocol version': 'the client refused the protocol version the server chose',
  'tlsv1 alert internal error': 'the client gave up on an error of its own',
  ECONNRESET: "the client closed the connection during the handshake (Node's clients do so when they refuse a certificate)",
  ERR_TLS_HANDSHAKE_TIMEOUT: 'the client did not finish its handshake in time',
};

/** The same words under the tls1.0-only fault, where it is the server that is out of date. */
const TLS10_FAILURES: Record<string, string> = {
  'unsupported protocol': 'the client does not offer TLS 1.0, the only version this server speaks now (fault tls1.0-only)',
  'tlsv1 alert internal error': 'the client refused TLS 1.0\'s SHA-1 handshake signature (OpenSSL: "legacy sigalg disallowed or unsupported")',
};
