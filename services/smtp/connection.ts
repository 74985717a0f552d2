import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { ServiceTls } from '../common/tls';
import { SESSION_DEFAULTS } from '../common/lineSession';
import { REPLY } from './codes';

/** smtp-server's reply to a command it does not know (500, RFC 5321 4.2.4). */
const UNRECOGNIZED = 'Error: command not recognized';
import { unquoteLocalPart } from './envelope';

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
  /** Commands this server does not know, sent on this connection so far. */
  private unknownCommands = 0;

  /** RFC 2034 3: a code after the reply code, `5.1.1 <x@lab.test>: no such user`: a reply of ours, which names its own. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
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
 * connect()), with its TLS from the lab CA (services/common/tls.ts): the certificate of
 * the host the client names (SNI), and the fault in force, looked up for each handshake.
 */
export class LabSmtpServer extends SMTPServer {
  constructor(
    options: SMTPServerOptions,
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

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new LabSmtpConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
  }
}
