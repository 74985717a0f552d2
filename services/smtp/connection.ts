import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { REPLY } from './codes';
import { unquoteLocalPart } from './envelope';

/**
 * smtp-server's connection (its command table and reply function), with what the lab
 * adds to the protocol itself:
 *
 * - EXPN and TURN are answered 502 "command not implemented" (RFC 5321 4.2.4), not 500
 *   "unknown": they are SMTP commands, which this server chooses not to offer. EXPN
 *   would list who is on a mailing list (RFC 5321 3.5.3, 7.3: sites may turn it off);
 *   TURN would let any client take over mail waiting for a domain (RFC 5321 F.1).
 * - A quoted local part (`"john smith"@example.test`) is read (envelope.ts).
 * - Replies carry an enhanced status code (RFC 2034, RFC 3463), and EHLO announces
 *   ENHANCEDSTATUSCODES: smtp-server adds one to its own replies; ours name theirs.
 */
export class LabSmtpConnection extends SMTPConnection {
  /** RFC 2034 3: a code after the reply code, `5.1.1 <x@lab.test>: no such user`: a reply of ours, which names its own. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const named = typeof data === 'string' && /^[245]\.\d{1,3}\.\d{1,3} /.test(data);
    super.send(code, data, named ? false : context);
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

/** smtp-server's server, making LabSmtpConnections (the same four lines as its own connect()). */
export class LabSmtpServer extends SMTPServer {
  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new LabSmtpConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
  }
}
