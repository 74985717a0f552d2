import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { BoundedCache } from '../common/cache';
import type { ServiceTls } from '../common/tls';
import { SESSION_DEFAULTS } from '../common/lineSession';
import { REPLY } from './codes';

/** smtp-server's reply to a command it does not know (500, RFC 5321 4.2.4). */
const UNRECOGNIZED = 'Error: command not recognized';
import { unquoteLocalPart } from './envelope';

/** RFC 3463 4.3.2: "system not accepting network messages": the server is going away; try again later. */
const SHUTTING_DOWN = '4.3.2 Service shutting down';

/**
 * When to send the 220 greeting. A client must wait for it before it says anything
 * (RFC 5321 3.1, 4.3.1); spam software often does not, and sends its whole dialogue at
 * once. So the server waits a moment before greeting a client, and a client that
 * talked in that moment gets `421 You talk too soon` and is closed (smtp-server's
 * early-talker check; Postfix's postscreen calls it the pregreet test).
 *
 * Waiting before every greeting would cap each client at a few connections a second,
 * however fast the server: a mail client or server sending messages one after the other,
 * a new connection each, would wait each time. So, like postscreen, the server
 * remembers an address that waited its turn, and greets its next connections at once
 * for as long as it keeps connecting (each connection counts as another `trustMs`).
 * After trustMs of quiet it is tested again: try `printf 'EHLO me\r\n' | nc ...`
 * after a pause, and you get the 421.
 */
export class GreetingPolicy {
  /** Address -> until when (performance.now()) it is greeted without a wait. */
  private readonly trusted: BoundedCache<string, number>;

  constructor(
    /** How long to wait before greeting an address not trusted; 0 greets at once and tests nobody. */
    readonly delayMs: number,
    /** How long an address that waited its turn, or that keeps connecting, is greeted at once; 0: never. */
    private readonly trustMs: number,
    /** Addresses remembered at most; the least recent are forgotten first. */
    maxTrusted: number,
  ) {
    this.trusted = new BoundedCache(maxTrusted);
  }

  /** How long to wait before greeting a connection from `address` (and, if 0, it is trusted a while longer). */
  delayFor(address: string): number {
    const until = this.trusted.get(address);
    if (until === undefined || performance.now() >= until) return this.delayMs;
    this.trust(address);
    return 0;
  }

  /** The connection from `address` waited delayMs without a word. */
  trust(address: string): void {
    if (this.trustMs > 0) this.trusted.set(address, performance.now() + this.trustMs);
  }
}

/**
 * smtp-server's connection (its command table and reply function), with what the lab
 * adds to the protocol itself:
 *
 * - EXPN and TURN are answered 502 "command not implemented" (RFC 5321 4.2.4), not 500
 *   "unknown": they are SMTP commands, which this server chooses not to offer. EXPN
 *   would list who is on a mailing list (RFC 5321 3.5.3, 7.3: sites may turn it off);
 *   TURN would let any client take over mail waiting for a domain (RFC 5321 F.1).
 * - Unknown commands: the connection closes at maxUnknownCommands (smtp-server's own
 *   limit is a fixed 10), with `421 4.7.0`, as the line protocols do (lineSession.ts).
 * - A quoted local part (`"john smith"@example.test`) is read (envelope.ts).
 * - Replies carry an enhanced status code (RFC 2034, RFC 3463), and EHLO announces
 *   ENHANCEDSTATUSCODES: smtp-server adds one to its own replies; ours name theirs.
 * - TLS (RFC 3207): unless the lab's lesson allows passwords in clear, AUTH waits for
 *   STARTTLS: EHLO offers it only inside TLS, and AUTH before gets `530 5.7.0 Must issue
 *   a STARTTLS command first` (RFC 3207 4). smtp-server does the upgrade itself: it
 *   throws away whatever the client sent after STARTTLS in the same packet (those bytes
 *   came in clear, anyone could have put them there), and forgets EHLO and AUTH once TLS
 *   is up (RFC 3207 4.2): the client starts again with EHLO.
 */
export class LabSmtpConnection extends SMTPConnection {
  /** The server is shutting down and waits for the message being sent to be answered before it says so. */
  private closeAfterMessage = false;
  /** Commands this server does not know, sent on this connection so far. */
  private unknownCommands = 0;

  /**
   * smtp-server's init(), with our GreetingPolicy in place of its fixed 100 ms: listen,
   * refuse a connection over maxClients, and greet after the policy's wait, unless the
   * client talked meanwhile (then smtp-server has answered 421 and is closing).
   */
  override init(): void {
    this._setListeners(() => {
      if (this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients) {
        return this.send(421, this.name + ' Too many connected clients, try again in a moment', false);
      }
      const policy = (this._server as LabSmtpServer).greeting;
      const wait = policy.delayFor(this.remoteAddress);
      if (wait === 0) return this.connectionReady();
      setTimeout(() => {
        if (this._closing || this._closed) return; // it talked too soon, or left
        policy.trust(this.remoteAddress);
        this.connectionReady();
      }, wait).unref();
    });
  }

  /** RFC 2034 3: a code after the reply code, `5.1.1 <x@lab.test>: no such user`: a reply of ours, which names its own. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    // smtp-server's own answer to a command during the shutdown grace, in the lab's words.
    if (code === REPLY.NOT_AVAILABLE && data === 'Server shutting down') data = SHUTTING_DOWN;
    if (code === REPLY.SYNTAX_ERROR && data === UNRECOGNIZED) {
      this._unrecognizedCommands = 0; // smtp-server's fixed limit gives way to ours
      const limit = (this._server as LabSmtpServer).maxUnknownCommands;
      if (++this.unknownCommands >= limit) {
        // smtp-server closes the connection after a 421.
        return super.send(REPLY.NOT_AVAILABLE, `4.7.0 Too many unknown commands (${limit}), closing connection`, false);
      }
    }
    const named = typeof data === 'string' && /^[245]\.\d{1,3}\.\d{1,3} /.test(data);
    super.send(code, data, named ? false : context);
    // The message that was arriving has its answer (250, or why not): now the goodbye.
    if (this.closeAfterMessage && !this._dataStream && code !== REPLY.NOT_AVAILABLE) {
      this.closeAfterMessage = false;
      super.send(REPLY.NOT_AVAILABLE, SHUTTING_DOWN, false); // a 421 closes the connection
    }
  }

  /**
   * The server is shutting down (RFC 5321 3.8: it may close with 421 after a command,
   * never in the middle of one). A client between commands is told at once; a message
   * still arriving (after DATA) is first taken and answered, then the 421 follows.
   */
  shutdown(): void {
    if (this._dataStream) this.closeAfterMessage = true;
    else this.send(REPLY.NOT_AVAILABLE, SHUTTING_DOWN, false);
  }

  /** RFC 3207 4: a server that wants TLS first answers 530; smtp-server's own reply is 538, a code no RFC has. */
  override handler_AUTH(command: Buffer, callback: () => void): void {
    if (this.waitsForTls()) {
      this.send(REPLY.AUTH_REQUIRED, '5.7.0 Must issue a STARTTLS command first');
      return callback();
    }
    super.handler_AUTH(command, callback);
  }

  /** Where AUTH waits for TLS, EHLO in clear does not offer it (as Postfix's smtpd_tls_auth_only): a client sees it only once its password would be safe. */
  override handler_EHLO(command: Buffer, callback: () => void): void {
    if (!this.waitsForTls()) return super.handler_EHLO(command, callback);
    const options = this._server.options;
    const methods = options.authMethods;
    options.authMethods = []; // read by the EHLO handler as it writes its reply, which it does at once
    try {
      super.handler_EHLO(command, callback);
    } finally {
      options.authMethods = methods;
    }
  }

  /** Before STARTTLS on a port that offers it, when passwords in clear are refused (allowInsecureAuth off). */
  private waitsForTls(): boolean {
    const options = this._server.options;
    return !this.secure && this._isSupported('STARTTLS') && !options.hideSTARTTLS && !options.allowInsecureAuth;
  }

  /** The certificate for this handshake: the fault may have changed since the last one. */
  override upgrade(callback: () => void, secureCallback?: () => void): void {
    (this._server as LabSmtpServer).refreshTls();
    super.upgrade(callback, secureCallback);
  }

  handler_EXPN(_command: Buffer, callback: () => void): void {
    this.send(REPLY.NOT_IMPLEMENTED, '5.5.1 EXPN is not offered here: mailing lists are not shown to anyone who asks (RFC 5321 7.3)');
    callback();
  }

  handler_TURN(_command: Buffer, callback: () => void): void {
    this.send(REPLY.NOT_IMPLEMENTED, '5.5.1 TURN is not offered: without proof of who asks, it hands anyone the mail waiting for a domain (RFC 5321 F.1)');
    callback();
  }

  /** smtp-server splits the line at spaces and knows no quotes: a quoted local part is prepared for it first. */
  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const quoted = unquoteLocalPart(rawCommand.toString());
    if (!quoted) return super._parseAddressCommand(rawName, rawCommand);
    if ('error' in quoted) return false; // 501 Bad address syntax
    const parsed = super._parseAddressCommand(rawName, quoted.line);
    if (parsed && quoted.local !== undefined) parsed.address = quoted.local + parsed.address.slice(parsed.address.lastIndexOf('@'));
    return parsed;
  }
}

/**
 * smtp-server's server, making LabSmtpConnections (the same four lines as its own
 * connect()), greeting by `greeting`, with its TLS from the lab CA (services/common/tls.ts):
 * the certificate of the host the client names (SNI), and the fault in force, looked up
 * for each handshake.
 */
export class LabSmtpServer extends SMTPServer {
  constructor(
    options: SMTPServerOptions,
    readonly greeting: GreetingPolicy,
    private readonly labTls?: ServiceTls,
    /** Unknown commands on one connection before `421 4.7.0` closes it. */
    readonly maxUnknownCommands = SESSION_DEFAULTS.maxUnknownCommands,
  ) {
    // SNICallback is smtp-server's hook for a client that names a host; refreshTls() sets the context for one that names none.
    super(labTls ? { ...options, SNICallback: (servername, done) => done(null, labTls.contextNow(servername)) } : options);
  }

  /** The default certificate (a client that sends no SNI), under the fault in force now. smtp-server reads it as it starts each handshake. */
  refreshTls(): void {
    if (this.labTls) this.secureContext.set('*', this.labTls.contextNow());
  }

  /** Implicit TLS (465): the handshake that opens the connection. */
  override _upgrade(socket: net.Socket, callback: Parameters<SMTPServer['_upgrade']>[1]): void {
    this.refreshTls();
    super._upgrade(socket, callback);
  }

  /** Stop accepting; each session is told 421 as soon as no message is arriving on it (closeTimeout cuts the rest). */
  shutdown(callback: () => void): void {
    this.close(callback);
    for (const connection of this.connections) (connection as LabSmtpConnection).shutdown();
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new LabSmtpConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
  }
}
