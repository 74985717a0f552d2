import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { ensureCa } from '../common/certificates';
import type { LabDialer } from '../common/dialer';
import { isInside } from '../common/jail';
import { AUTH_THROTTLE_DEFAULTS, AuthThrottle, retryIn, type AuthThrottleOptions } from '../common/authThrottle';
import { bind } from '../common/listen';
import { SESSION_DEFAULTS } from '../common/lineSession';
import { duration } from '../common/options';
import { clientAddress as plainAddress } from '../common/clf';
import { ConnectionLimiter } from '../common/sessionHost';
import { connectionId, createLogger, type Logger } from '../common/logger';
import { defaultDataDir } from '../common/paths';
import { SHUTDOWN_GRACE_MS } from '../common/shutdown';
import type { HandshakeError, ServiceTls } from '../common/tls';
import { checkPassword, loadUsers, type LabUser } from '../common/users';
import { loadAliases, type Aliases } from './aliases';
import { REPLY, SmtpReplyError } from './codes';
import { GreetingPolicy, LabSmtpServer } from './connection';
import { LocalMailboxes, splitAddress } from './delivery';
import { isBarePostmaster, PARAMETERS, unknownParameter } from './envelope';
import { libraryLogger } from './libraryLog';
import { formatDate, newMessageId, prepareMessage, receivedField, type TlsInfo } from './headers';
import { RelayQueue } from './queue';
import { RelayWorker } from './relayWorker';
import { TextCheck, type TextProblem } from './textCheck';

/**
 * The lab's mail server (SMTP, RFC 5321), one per mail domain. It listens on up to three ports:
 *
 * - 25, "smtp": where other servers deliver mail for this domain. Anyone may connect,
 *   nobody logs in, and only mail for this domain's own users is taken: a server that
 *   passed mail on for anyone would be an "open relay", a gift to spammers.
 * - 587, "submission" (RFC 6409): where the domain's own users hand in mail they write,
 *   to anyone. They must log in first (AUTH, RFC 4954); mail for other domains is then
 *   queued and relayed to the domain's server, found by an MX lookup in the lab DNS.
 * - 465, "smtps" (RFC 8314): submission again, inside TLS from the first byte.
 *
 * With the `tls` option, 25 and 587 offer STARTTLS (RFC 3207): the client asks, the
 * connection turns into TLS, and the dialogue starts again with EHLO. A password is only
 * taken inside TLS unless `allowPlaintextLogin` says otherwise (the lab's lesson). The
 * relay starts TLS too when the next server offers it (relay.ts), and each server says
 * in the Received field it adds how the message reached it (`with ESMTPS`, headers.ts).
 *
 * The protocol engine is smtp-server (the command table, the reply function, the
 * DATA framing; connection.ts adds what the lab needs to it); this file decides who may
 * send what to whom, and where it goes.
 */

export interface SmtpServerOptions extends AuthThrottleOptions {
  /** The mail domain this server is the final destination for. Default: `lab.test`. */
  domain?: string;
  /** This server's own name: in the greeting, Received fields, Message-IDs, and the relay's EHLO. Default: `mail.<domain>`. */
  hostname?: string;
  /** Lab users; those whose `domain` is ours have a mailbox here and may log in on 587. Default: none (`[]`); fromLab() loads lab/users.yaml. */
  users?: readonly LabUser[];
  /** Mail aliases, alias address -> a user's address (postmaster@lab.test -> alice@lab.test); those of our domain are delivered here. Default: none; fromLab() loads lab/aliases.yaml. */
  aliases?: Aliases;
  /** The lab's state: Maildirs at `<dataDir>/mail/<domain>/<user>/Maildir`, the relay queue at `<dataDir>/mail/queue/<domain>/`. Default: defaultDataDir(). */
  dataDir?: string;
  /** How to reach the lab DNS and other lab hosts. Default: none, and then no relay: mail for other domains is refused at RCPT (554). */
  dialer?: LabDialer;
  /** Default: createLogger('smtp'). */
  log?: Logger;
  /** Largest message in bytes; more gets 552, decided while DATA streams in (RFC 5321 4.5.3.1.7, 4.5.3.1.9). Advertised as SIZE (RFC 1870). Default: 10 MiB. */
  maxMessageBytes?: number;
  /** Recipients per message; one more gets 452 (RFC 5321 4.5.3.1.8, 4.5.3.1.10). Default: 50. */
  maxRecipients?: number;
  /**
   * Longest command line in octets, CRLF included (RFC 5321 4.5.3.1.4: 512). A longer
   * one gets `421 Error: Command line too long` and the connection closes: smtp-server
   * stops reading at the limit, so it cannot find the next command to go on with. Default: 512.
   */
  maxCommandLineLength?: number;
  /** Longest line of a message in octets, CRLF included (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1: 1000). A longer one gets the message refused with `500 5.5.2 Line too long`, the reply RFC 5321 4.5.3.1.9 names. Default: 1000. */
  maxTextLineLength?: number;
  /** Connections open at once, on each port; the next one gets 421 and is closed. Default: 100. */
  maxConnections?: number;
  /**
   * Connections open at once from one client address, on all ports together; one more
   * gets `421 4.7.0 Too many connections from your address` and is closed (Postfix's
   * smtpd_client_connection_count_limit): one student cannot take every place. Default: 10.
   */
  maxConnectionsPerAddress?: number;
  /**
   * A connection that has not logged in (587, 465) or started a message with MAIL
   * (25) this long after it opened gets `421 4.4.2` and is closed, however busy it
   * keeps itself (NOOP, RSET, EHLO): a place is not held by a client that does nothing.
   * Separate from idleTimeoutMs, which counts silence. Default: 60000.
   */
  loginTimeoutMs?: number;
  /** A client silent this long gets `421 Timeout` and is disconnected (RFC 5321 4.5.3.2.7 suggests 5 minutes). Default: 60000. */
  idleTimeoutMs?: number;
  /** Commands this server does not know on one connection; the last gets `421 4.7.0 Too many unknown commands` and the connection closes (smtp-server's own limit, 10, is fixed). Default: 10. */
  maxUnknownCommands?: number;
  /** Failed AUTH attempts per connection; the last one gets 535 and then 421, and the connection closes. Default: 3. */
  maxAuthFailures?: number;
  /** How long a relay waits after its 1st, 2nd, ... failed attempt; the last value repeats. Default: 1 min, 5 min, 15 min, 1 h. */
  retryDelaysMs?: readonly number[];
  /** A queued message not delivered after this long is returned to its sender (a bounce). Default: 1 day. */
  maxQueueAgeMs?: number;
  /** Relay: how long to wait for the connection to the next server, and for each of its replies. Default: 30000. */
  relayTimeoutMs?: number;
  /** Relay: how long to wait for the lab DNS. Default: 5000. */
  dnsTimeoutMs?: number;
  /** What wire log lines call the DNS server. Default: `ns.lab.test:53`. */
  dnsLabel?: string;
  /** On close() (SIGTERM), how long a message being sent (DATA) may take before the session is told 421 and cut; idle sessions are told at once. Default: 10000. */
  closeGraceMs?: number;
  /**
   * How long the server waits before greeting a client it does not trust yet; a client
   * that talks meanwhile gets `421 You talk too soon` (connection.ts, GreetingPolicy); 0
   * greets at once. Default: 100 (smtp-server's wait: long for a program, nothing for a person).
   */
  greetingDelayMs?: number;
  /**
   * How long a client address that waited for its greeting is greeted at once, counted
   * again from each of its connections; 0 tests every connection. Default: 10000: a
   * client sending message after message is never slowed, and the lesson shows again
   * to anyone who tries it after ten seconds of quiet.
   */
  greetingTrustMs?: number;
  /** Client addresses remembered as trusted at most (the least recent are forgotten first). Default: 10000. */
  maxTrustedClients?: number;
  /**
   * TLS with the lab CA's certificate for this host (services/common/tls.ts): STARTTLS on
   * 25 and 587 (RFC 3207), and the `smtps` port (465, RFC 8314) when listen() is given
   * one. Default: none: no STARTTLS, no 465.
   */
  tls?: ServiceTls;
  /**
   * Take AUTH in clear, before STARTTLS: the lab's "passwords in plain text" lesson on
   * 587. Default: false: AUTH waits for TLS (`530 5.7.0 Must issue a STARTTLS command
   * first`, RFC 3207 4) and EHLO offers it only inside TLS. Without `tls` there is no TLS
   * to wait for, and AUTH is taken in clear.
   */
  allowPlaintextLogin?: boolean;
  /**
   * The CA certificates (PEM) the relay trusts when the next server offers STARTTLS.
   * Default: none, and the relay stays in clear; fromLab() with `tls` gives the lab CA's root.
   */
  relayCa?: string;
}

/** The defaults of the options, as documented on SmtpServerOptions. */
export const SMTP_SERVER_DEFAULTS = {
  domain: 'lab.test',
  maxMessageBytes: 10 * 1024 * 1024,
  maxRecipients: 50,
  maxCommandLineLength: 512,
  maxTextLineLength: 1000,
  maxConnections: 100,
  maxConnectionsPerAddress: 10,
  loginTimeoutMs: SESSION_DEFAULTS.loginTimeoutMs, // one deadline for every protocol's login (lineSession.ts)
  idleTimeoutMs: 60_000,
  maxAuthFailures: 3,
  maxUnknownCommands: SESSION_DEFAULTS.maxUnknownCommands,
  ...AUTH_THROTTLE_DEFAULTS,
  retryDelaysMs: [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000] as readonly number[],
  maxQueueAgeMs: 24 * 60 * 60_000,
  relayTimeoutMs: 30_000,
  dnsTimeoutMs: 5000,
  dnsLabel: 'ns.lab.test:53',
  closeGraceMs: SHUTDOWN_GRACE_MS,
  greetingDelayMs: 100,
  greetingTrustMs: 10_000,
  maxTrustedClients: 10_000,
};

/** The ports: `smtp` (25, mail for us), `submission` (587, mail from our users) and `smtps` (465, submission inside TLS). */
export type SmtpPort = 'smtp' | 'submission' | 'smtps';
const PORTS: readonly SmtpPort[] = ['smtp', 'submission', 'smtps'];

/** 587 and 465 take mail from our own users, who log in (RFC 6409, RFC 8314). */
function isSubmission(port: SmtpPort): boolean {
  return port !== 'smtp';
}

/** What we keep per connection: its log id, its client's address, its failed logins, its TLS once there is some, and its login deadline. */
interface Connection {
  log: Logger;
  address: string;
  authFailures: number;
  tls?: TlsInfo;
  loginTimer?: NodeJS.Timeout;
}

export class SmtpServer {
  readonly domain: string;
  readonly hostname: string;
  private readonly o: typeof SMTP_SERVER_DEFAULTS;
  private readonly log: Logger;
  private readonly mailboxes: LocalMailboxes;
  private readonly queue: RelayQueue;
  private readonly dialer?: LabDialer;
  private readonly tls?: ServiceTls;
  private readonly allowPlaintextLogin: boolean;
  private readonly relayCa?: string;
  private worker?: RelayWorker;
  private readonly servers = new Map<SmtpPort, LabSmtpServer>();
  private readonly connections = new Map<string, Connection>();
  /** Who is greeted at once, and who waits (both ports share what it remembers). */
  private readonly greeting: GreetingPolicy;
  /** Connections per client address, on every port together (smtp-server counts those of each port itself: maxClients). */
  private readonly limiter: ConnectionLimiter;
  /** Failed AUTH per client address, on every port and connection (authThrottle.ts). */
  private readonly throttle: AuthThrottle;

  constructor(options: SmtpServerOptions = {}) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.o = { ...SMTP_SERVER_DEFAULTS, ...defined };
    this.domain = this.o.domain.toLowerCase();
    this.hostname = options.hostname ?? `mail.${this.domain}`;
    this.log = options.log ?? createLogger('smtp');
    this.dialer = options.dialer;
    this.tls = options.tls;
    this.allowPlaintextLogin = options.allowPlaintextLogin ?? false;
    this.relayCa = options.relayCa;
    const dataDir = options.dataDir ?? defaultDataDir();
    this.mailboxes = new LocalMailboxes(dataDir, this.domain, options.users ?? [], options.aliases);
    this.queue = new RelayQueue(path.join(dataDir, 'mail', 'queue', this.domain));
    if (this.o.maxCommandLineLength < 3) throw new Error('maxCommandLineLength must leave room for a command and its CRLF');
    if (!this.o.retryDelaysMs.length) throw new Error('retryDelaysMs needs at least one delay');
    this.greeting = new GreetingPolicy(this.o.greetingDelayMs, this.o.greetingTrustMs, this.o.maxTrustedClients);
    this.throttle = new AuthThrottle(this.o);
    this.limiter = new ConnectionLimiter({ maxConnections: Infinity, maxConnectionsPerAddress: this.o.maxConnectionsPerAddress });
  }

  /** A server for a domain of the lab folder: its users from lab/users.yaml, its state in `dataDir`. */
  static async fromLab(labDir: string, dataDir: string, options: Omit<SmtpServerOptions, 'dataDir'> = {}): Promise<SmtpServer> {
    if (isInside(path.resolve(labDir), path.resolve(dataDir))) {
      throw new Error(`the data directory ${dataDir} is inside the lab directory ${labDir}; lab/ stays read-only`);
    }
    // The relay trusts the lab's own CA: the next lab server presents a certificate it made.
    const relayCa = options.relayCa ?? (options.tls ? (await ensureCa(dataDir)).rootPem : undefined);
    return new SmtpServer({ ...options, users: options.users ?? (await loadUsers(labDir)), aliases: options.aliases ?? (await loadAliases(labDir)), dataDir, relayCa });
  }

  /**
   * Listen on the given ports (0 picks a free one; leave a port out to not open it),
   * then start the relay worker, which picks up whatever a previous run left queued.
   */
  async listen(ports: Partial<Record<SmtpPort, number>> = { smtp: 0, submission: 0 }, host = '127.0.0.1'): Promise<Partial<Record<SmtpPort, AddressInfo>>> {
    if (this.servers.size) throw new Error('smtp: already listening');
    if (ports.smtps !== undefined && !this.tls) throw new Error('smtp: the smtps port (465) needs the tls option (the lab CA)');
    if (!this.mailboxes.userOf('postmaster')) {
      this.log.warn('no postmaster', { domain: this.domain, reason: 'RFC 5321 4.5.1: every mail domain must take mail for postmaster; name its mailbox in lab/aliases.yaml' });
    }
    const bound: Partial<Record<SmtpPort, AddressInfo>> = {};
    try {
      for (const port of PORTS) {
        const number = ports[port];
        if (number === undefined) continue;
        const server = this.createServer(port);
        this.servers.set(port, server);
        bound[port] = await bind('smtp', server.server, () => server.listen(number, host), host, number);
        const tls = !this.tls ? undefined : port === 'smtps' ? 'implicit' : 'starttls';
        this.log.info('listening', { listener: port, host: bound[port].address, port: bound[port].port, domain: this.domain, tls });
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    if (this.dialer) {
      this.worker = new RelayWorker({
        queue: this.queue,
        relay: { hostname: this.hostname, dialer: this.dialer, log: this.log, dnsLabel: this.o.dnsLabel, timeoutMs: this.o.relayTimeoutMs, dnsTimeoutMs: this.o.dnsTimeoutMs, tlsCa: this.relayCa },
        domain: this.domain,
        retryDelaysMs: this.o.retryDelaysMs,
        maxQueueAgeMs: this.o.maxQueueAgeMs,
        deliverLocal: (to, message) => this.deliverLocal(to, message),
        log: this.log,
      });
      this.worker.wake();
    }
    return bound;
  }

  /** Stop the relay worker (a queued message stays queued), then every port: idle sessions are told 421 at once, a message arriving is taken first (within closeGraceMs). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.stop();
    const servers = [...this.servers.values()];
    this.servers.clear();
    this.log.info('closing', { sessions: servers.reduce((n, s) => n + s.connections.size, 0), graceMs: this.o.closeGraceMs });
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.server.listening ? s.shutdown(() => resolve()) : resolve()))));
  }

  // ---------------------------------------------------------------------------
  // One smtp-server per port. Its options are where the protocol's limits are set.

  private createServer(port: SmtpPort): LabSmtpServer {
    const o = this.o;
    const server = new LabSmtpServer({
      name: this.hostname,
      banner: 'wirelab',
      size: o.maxMessageBytes, // advertised in EHLO; MAIL FROM:<...> SIZE=n over it gets 552 at once
      // Every reply carries an enhanced status code (RFC 3463), so EHLO says so (RFC 2034).
      hideENHANCEDSTATUSCODES: false,
      // Port 25 takes no logins at all: it does not offer AUTH. Without TLS there is no STARTTLS.
      disabledCommands: [...(port === 'smtp' ? ['AUTH'] : []), ...(this.tls ? [] : ['STARTTLS'])],
      // 465: TLS from the first byte (RFC 8314 3.3); 25 and 587 start in clear.
      secure: port === 'smtps',
      authMethods: ['PLAIN', 'LOGIN'],
      // In clear, AUTH waits for STARTTLS (connection.ts answers 530) unless the lesson allows it.
      allowInsecureAuth: !this.tls || this.allowPlaintextLogin,
      authRequiredMessage: '5.7.0 Authentication required: log in first with AUTH PLAIN or AUTH LOGIN (RFC 4954)',
      maxClients: o.maxConnections,
      socketTimeout: o.idleTimeoutMs,
      closeTimeout: o.closeGraceMs,
      maxCommandLength: o.maxCommandLineLength - 2, // smtp-server counts without the CRLF
      // Never ask the host's resolver who a client is: the lab talks to no DNS but its own.
      disableReverseLookup: true,
      logger: libraryLogger((cid) => (cid ? this.conn(cid).log : this.log)),
      onConnect: (session, callback) => this.onConnect(port, session, callback),
      onSecure: (socket, session, callback) => this.onSecure(socket as tls.TLSSocket, session, callback),
      onAuth: (auth, session, callback) => this.onAuth(port, auth, session, callback),
      onMailFrom: (address, session, callback) => this.answer(callback, () => this.onMailFrom(port, address, session)),
      onRcptTo: (address, session, callback) => this.answer(callback, () => this.onRcptTo(port, address, session)),
      onData: (stream, session, callback) => this.onData(port, stream, session, callback),
      onClose: (session) => this.onClose(session),
    }, this.greeting, this.tls, o.maxUnknownCommands);
    // A connection's socket error arrives here; without a listener it would end the process.
    server.on('error', (err: TlsError) => {
      if (this.tls && err.meta?.stage === 'connect') this.handshakeFailed(port, err);
      else this.log.debug('connection error', { error: err.message });
    });
    return server;
  }

  /** A TLS handshake that failed (STARTTLS, or 465's first bytes): logged with its reason (tls.ts says what it means). */
  private handshakeFailed(port: SmtpPort, err: TlsError): void {
    // smtp-server reports a client that hung up mid-handshake as SocketError: Node's clients do that when they refuse a certificate.
    const reason = err.code === 'SocketError' ? Object.assign(new Error(err.message), { code: 'ECONNRESET' }) : err;
    const client = err.remoteAddress ?? err.meta?.remoteAddress ?? 'unknown';
    this.tls!.logHandshakeFailure(reason, this.log.child({ listener: port }), client);
  }

  /** Run a check that throws an SmtpReplyError to refuse, and hand the result to smtp-server. */
  private answer(callback: (err?: Error | null) => void, check: () => void): void {
    try {
      check();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /** Our state for a session, by smtp-server's session id (before onConnect: a logger with that id). */
  private conn(sessionId: string): Connection {
    return this.connections.get(sessionId) ?? { log: this.log.child({ session: sessionId }), address: '', authFailures: 0 };
  }

  /** smtp-server's connection of a session, to send it a reply of our own (a 421 before closing). */
  private connectionOf(port: SmtpPort, sessionId: string): { send(code: number, text: string): void } | undefined {
    return [...(this.servers.get(port)?.connections ?? [])].find((c) => c.session.id === sessionId);
  }

  private onConnect(port: SmtpPort, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const log = this.log.child({ conn: connectionId() });
    const client = `${session.remoteAddress}:${session.remotePort}`;
    const address = plainAddress(session.remoteAddress);
    const refused = this.limiter.admit(address);
    if (refused) {
      // onClose still runs for it, and finds no Connection: nothing to give back.
      log.warn('connection refused', { listener: port, client, ...refused });
      return callback(new SmtpReplyError(REPLY.NOT_AVAILABLE, `4.7.0 Too many connections from your address (${refused.limit}), try again later`));
    }
    const conn: Connection = { log, address, authFailures: 0 };
    this.connections.set(session.id, conn);
    log.info('connect', { listener: port, client });
    // The login deadline: activity does not move it (idleTimeoutMs is the one that does).
    conn.loginTimer = setTimeout(() => {
      conn.log.warn('login timeout', { limitMs: this.o.loginTimeoutMs, waitedFor: isSubmission(port) ? 'AUTH' : 'MAIL' });
      // smtp-server closes the connection after any 421 it sends.
      this.connectionOf(port, session.id)?.send(REPLY.NOT_AVAILABLE, `4.4.2 ${this.hostname} Error: no ${isSubmission(port) ? 'login' : 'MAIL'} within ${duration(this.o.loginTimeoutMs)}, closing connection`);
    }, this.o.loginTimeoutMs);
    conn.loginTimer.unref();
    callback();
  }

  /** The client logged in (587, 465) or started a message (25): the login deadline no longer applies. */
  private pastLogin(conn: Connection): void {
    clearTimeout(conn.loginTimer);
    conn.loginTimer = undefined;
  }

  /** TLS is up: on 465 before the greeting, on 25 and 587 after STARTTLS. What it is goes into the Received field. */
  private onSecure(socket: tls.TLSSocket, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const conn = this.conn(session.id);
    const cipher = socket.getCipher();
    conn.tls = { version: socket.getProtocol() ?? cipher.version, cipher: cipher.name };
    conn.log.info('tls started', { version: conn.tls.version, cipher: conn.tls.cipher, servername: socket.servername || undefined });
    callback();
  }

  private onClose(session: SMTPServerSession): void {
    const conn = this.connections.get(session.id);
    if (!conn) return;
    this.connections.delete(session.id);
    this.pastLogin(conn);
    this.limiter.release(conn.address);
    conn.log.info('disconnect');
  }

  // ---------------------------------------------------------------------------
  // AUTH (RFC 4954), on 587 only: a local user's name and password.

  private onAuth(port: SmtpPort, auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: { user?: LabUser; message?: string; responseCode?: number }) => void): void {
    const conn = this.conn(session.id);
    // Either "alice" or "alice@lab.test"; only users of this domain have an account here.
    const name = (auth.username ?? '').replace(new RegExp(`@${escapeRegExp(this.domain)}$`, 'i'), '');
    const hangUp = (text: string): void => {
      const connection = this.connectionOf(port, session.id);
      setImmediate(() => connection?.send(REPLY.NOT_AVAILABLE, text)); // after the AUTH reply; smtp-server closes after a 421
    };
    // An address that failed too often is not asked for a password until its cool-down has passed.
    const lockedForMs = this.throttle.lockedFor(conn.address);
    if (lockedForMs !== undefined) {
      conn.log.warn('auth refused: too many failed logins from this address', { user: auth.username, address: conn.address, lockedForMs, code: REPLY.AUTH_TEMPORARY_FAILURE });
      callback(null, { message: `4.7.0 Too many failed logins from your address, try again in ${retryIn(lockedForMs)}`, responseCode: REPLY.AUTH_TEMPORARY_FAILURE });
      return hangUp('4.7.0 Too many failed logins from your address, closing connection');
    }
    const user = checkPassword(this.mailboxes.users, name, auth.password ?? '');
    if (user) {
      conn.log.info('auth', { method: auth.method, user: user.name, result: 'ok' });
      this.pastLogin(conn);
      return callback(null, { user });
    }
    conn.authFailures++;
    const { failures: fromAddress, delayMs } = this.throttle.failed(conn.address);
    conn.log.warn('auth', { method: auth.method, user: auth.username, result: 'failed', address: conn.address, failures: conn.authFailures, fromAddress, delayMs, code: REPLY.AUTH_FAILED });
    // The answer waits, longer with each failure from this address: guessing is slow (other clients are served meanwhile).
    setTimeout(() => {
      callback(null, { message: '5.7.8 Authentication credentials invalid', responseCode: REPLY.AUTH_FAILED });
      // Guessing passwords takes many tries: after a few on one connection, hang up (the 535 went out first).
      if (conn.authFailures >= this.o.maxAuthFailures) hangUp('4.7.0 Too many failed authentication attempts, closing connection');
    }, delayMs).unref();
  }

  // ---------------------------------------------------------------------------
  // The envelope (RFC 5321 3.3): MAIL FROM, then RCPT TO for each recipient.

  private onMailFrom(port: SmtpPort, address: SMTPServerAddress, session: SMTPServerSession): void {
    const conn = this.conn(session.id);
    this.checkParameters('mail from', address, isSubmission(port) ? [...Object.keys(PARAMETERS.mail), ...Object.keys(PARAMETERS.submissionMail)] : Object.keys(PARAMETERS.mail), conn);
    const user = session.user as LabUser | undefined;
    if (isSubmission(port) && user) {
      // The server knows who logged in, and everyone who gets the message trusts this
      // server's word for where it came from. Letting alice send as bob would make
      // every lab address forgeable by every lab user (RFC 6409 6.1 lets us refuse).
      const own = this.mailboxes.addressOf(user);
      if (address.address.toLowerCase() !== own.toLowerCase()) {
        conn.log.info('mail from', { from: address.address, user: user.name, code: REPLY.MAILBOX_NAME_NOT_ALLOWED });
        throw new SmtpReplyError(REPLY.MAILBOX_NAME_NOT_ALLOWED, `5.7.1 <${address.address}>: Sender address rejected: you are logged in as ${own}`);
      }
    }
    conn.log.info('mail from', { from: address.address || '<>', code: REPLY.OK });
    this.pastLogin(conn); // on 25 a message is what a client comes for; on 587 it has logged in already
  }

  private onRcptTo(port: SmtpPort, address: SMTPServerAddress, session: SMTPServerSession): void {
    const conn = this.conn(session.id);
    const to = address.address;
    const refuse = (code: number, text: string): never => {
      conn.log.info('rcpt to', { to, code });
      throw new SmtpReplyError(code, text);
    };
    this.checkParameters('rcpt to', address, Object.keys(PARAMETERS.rcpt), conn);
    if (session.envelope.rcptTo.length >= this.o.maxRecipients) {
      refuse(REPLY.TOO_MANY_RECIPIENTS, `4.5.3 Too many recipients: at most ${this.o.maxRecipients} per message, send the rest in another one`);
    }
    const domain = isBarePostmaster(to) ? this.domain : splitAddress(to).domain;
    const user = this.mailboxes.userOf(to); // postmaster too, with or without a domain
    if (user) {
      // An alias (postmaster) names the mailbox it leads to.
      const mailbox = this.mailboxes.addressOf(user).toLowerCase() === to.toLowerCase() ? undefined : user.name;
      conn.log.info('rcpt to', { to, mailbox, code: REPLY.OK });
      return;
    }
    if (this.mailboxes.isLocalDomain(domain)) {
      refuse(REPLY.MAILBOX_UNAVAILABLE, `5.1.1 <${to}>: Recipient address rejected: no such user here`);
    } else if (port === 'smtp' || !session.user) {
      // Port 25 takes mail *for* this domain only. Passing it on for anyone who asks is
      // an open relay (RFC 5321 3.6.2 "SHOULD NOT"); RFC 5321 says 550, issue 3 asks 554.
      refuse(REPLY.TRANSACTION_FAILED, `5.7.1 <${to}>: Relay access denied: ${this.hostname} only takes mail for @${this.domain} here; log in on port 587 to send elsewhere`);
    } else if (!this.dialer) {
      refuse(REPLY.TRANSACTION_FAILED, `5.7.1 <${to}>: Relay access denied: this server has no route to other domains`);
    }
    conn.log.info('rcpt to', { to, code: REPLY.OK });
  }

  /**
   * RFC 5321 4.1.1.11: a parameter of no extension this server announced in EHLO gets
   * 555, and the command is not carried out (envelope.ts lists the known ones).
   */
  private checkParameters(command: 'mail from' | 'rcpt to', address: SMTPServerAddress, known: readonly string[], conn: Connection): void {
    const unknown = unknownParameter(address.args, known);
    if (unknown === undefined) return;
    conn.log.info(command, { [command === 'mail from' ? 'from' : 'to']: address.address || '<>', parameter: unknown, code: REPLY.PARAMETER_NOT_RECOGNIZED });
    const offered = known.length ? `; this server knows ${known.join(', ')}` : ', which takes none here';
    throw new SmtpReplyError(REPLY.PARAMETER_NOT_RECOGNIZED, `5.5.4 Unsupported parameter ${unknown} of ${command.toUpperCase()}${offered}`);
  }

  // ---------------------------------------------------------------------------
  // DATA: the message. Checked while it streams in, stored, and only then 250.

  private onData(port: SmtpPort, stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const conn = this.conn(session.id);
    const check = new TextCheck(this.o.maxMessageBytes, this.o.maxTextLineLength);
    let chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      check.push(chunk);
      if (check.problem) chunks = []; // refused anyway: keep nothing, read on to the end
      else chunks.push(chunk);
    });
    stream.on('error', (err) => conn.log.info('message aborted', { reason: err.message, bytes: check.bytes }));
    stream.on('end', () => {
      const problem = check.end();
      if (problem) {
        const err = refusal(problem);
        conn.log.info('message refused', { bytes: check.bytes, code: err.responseCode, reason: problem.kind });
        return callback(err);
      }
      this.accept(port, session, Buffer.concat(chunks), conn).then(
        (reply) => callback(null, reply),
        (err: unknown) => {
          conn.log.error('message not stored', { error: err instanceof Error ? err.message : String(err), code: REPLY.LOCAL_ERROR });
          callback(new SmtpReplyError(REPLY.LOCAL_ERROR, '4.3.0 Local error while storing the message, try again later'));
        },
      );
    });
  }

  /**
   * Add the Received field (and Message-ID, Date when missing), write the message into
   * each local recipient's Maildir and into the relay queue for the others, and resolve
   * with the 250 text only when every copy is on disk.
   */
  private async accept(port: SmtpPort, session: SMTPServerSession, raw: Buffer, conn: Connection): Promise<string> {
    const id = randomBytes(5).toString('hex').toUpperCase();
    const now = new Date();
    const message = prepareMessage(raw, {
      received: receivedField({ helo: session.hostNameAppearsAs, clientAddress: session.remoteAddress, hostname: this.hostname, protocol: session.transmissionType, tls: conn.tls, id, date: now }),
      messageId: newMessageId(id, this.hostname, now),
      date: isSubmission(port) ? formatDate(now) : undefined,
    });
    const local: LabUser[] = [];
    const remote = new Map<string, string[]>();
    for (const { address } of session.envelope.rcptTo) {
      const user = this.mailboxes.userOf(address);
      if (user) local.push(user);
      else {
        const domain = splitAddress(address).domain.toLowerCase();
        remote.set(domain, [...(remote.get(domain) ?? []), address]);
      }
    }
    await this.mailboxes.deliver(local, message);
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    let n = 0;
    for (const [domain, recipients] of remote) {
      const at = now.getTime();
      await this.queue.add({ id: `${id}-${++n}`, from, domain, recipients, createdAt: at, attempts: 0, nextAttemptAt: at }, message);
    }
    conn.log.info('message accepted', {
      id,
      size: message.length,
      from: from || '<>',
      delivered: local.map((u) => u.name).join(',') || undefined,
      queued: [...remote.values()].flat().join(',') || undefined,
      code: REPLY.OK,
    });
    if (remote.size) this.worker?.wake();
    return remote.size ? `2.0.0 Ok: queued as ${id}` : `2.0.0 Ok: delivered as ${id}`;
  }

  /** For the relay worker: a bounce into a local sender's mailbox. */
  private async deliverLocal(to: string, message: Buffer): Promise<boolean> {
    const user = this.mailboxes.userOf(to);
    if (!user) return false;
    await this.mailboxes.deliver([user], message);
    return true;
  }
}

/** The reply for a message refused by TextCheck. */
function refusal(problem: TextProblem): SmtpReplyError {
  switch (problem.kind) {
    case 'too-big':
      return new SmtpReplyError(REPLY.TOO_MUCH_MAIL_DATA, `5.3.4 Message too big: the limit is ${problem.limit} bytes`);
    case 'bare-lf':
    case 'bare-cr':
      return new SmtpReplyError(
        REPLY.MAILBOX_UNAVAILABLE,
        `5.6.0 Message refused: bare ${problem.kind === 'bare-lf' ? 'LF' : 'CR'} in line ${problem.line}; lines end with CRLF (RFC 5321 2.3.8)`,
      );
    case 'line-too-long':
      return new SmtpReplyError(REPLY.SYNTAX_ERROR, `5.5.2 Line too long: line ${problem.line} is over ${problem.limit} octets (RFC 5321 4.5.3.1.6)`);
  }
}

/** A TLS error as smtp-server reports it: where it happened in `meta`, and the client's address. */
type TlsError = HandshakeError & { meta?: { stage?: string; remoteAddress?: string }; remoteAddress?: string };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
