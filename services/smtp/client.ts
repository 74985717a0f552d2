import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from '../common/dnsClient';
import { dotStuff } from './dotStuff';
import { formatReply, parseReplies, ReplyParseError, type SmtpReply } from './replyParser';

/**
 * A small SMTP client, as the relay uses it to hand a message to the next server:
 * connect, read the 220 greeting, then one command line at a time, each answered by
 * one reply (RFC 5321 4.1, 4.3):
 *
 *   S: 220 mail.example.test ESMTP
 *   C: EHLO mail.lab.test              S: 250-mail.example.test ... 250 8BITMIME
 *   C: MAIL FROM:<alice@lab.test>      S: 250 Accepted
 *   C: RCPT TO:<carol@example.test>    S: 250 Accepted
 *   C: DATA                            S: 354 End data with <CR><LF>.<CR><LF>
 *   C: (the message, dot-stuffed) .    S: 250 OK: queued as ...
 *   C: QUIT                            S: 221 Bye
 *
 * When the server offers STARTTLS, the relay asks for it right after EHLO, and the
 * dialogue goes on inside TLS (startTls(), RFC 3207).
 *
 * Everything sent and received goes to `onWire`, so the lab can show the dialogue.
 */

export class SmtpClientError extends Error {
  constructor(
    message: string,
    /** ECONNREFUSED, ETIMEDOUT, ECLOSED (the server hung up), EPROTO (not SMTP), ... */
    readonly code: string,
  ) {
    super(message);
    this.name = 'SmtpClientError';
  }
}

export interface SmtpClientOptions {
  /** How long to wait for the connection, and then for each reply. RFC 5321 4.5.3.2 suggests minutes; the lab is local. */
  timeoutMs: number;
  /** Aborting closes the connection; the pending call rejects. */
  signal?: AbortSignal;
  /** Called with each command sent and each reply received, as text. */
  onWire?: (direction: 'send' | 'recv', text: string) => void;
}

/** A reply that has not arrived can be waited for by one caller at a time. */
interface Waiter {
  resolve: (reply: SmtpReply) => void;
  reject: (err: Error) => void;
}

/** A reply longer than this without its last line is not a server we want to talk to. */
const MAX_REPLY_BYTES = 64 * 1024;

export class SmtpClient {
  private buffer = '';
  private readonly replies: SmtpReply[] = [];
  private waiter?: Waiter;
  private failure?: SmtpClientError;
  private timer?: NodeJS.Timeout;

  private constructor(
    private socket: net.Socket,
    private readonly options: SmtpClientOptions,
  ) {
    this.listen(socket);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private readonly onError = (err: NodeJS.ErrnoException): void => this.fail(new SmtpClientError(err.message, err.code ?? 'ECONN'));
  private readonly onClose = (): void => this.fail(new SmtpClientError('the server closed the connection', 'ECLOSED'));

  /** Open a TCP connection. The greeting is the first reply: read it with read(). */
  static connect(to: Endpoint, options: SmtpClientOptions): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(to.port, to.host);
      const done = (err?: SmtpClientError): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        if (!err) return resolve(new SmtpClient(socket, options));
        socket.destroy();
        reject(err);
      };
      const onAbort = (): void => done(new SmtpClientError('aborted', 'EABORT'));
      const onError = (err: NodeJS.ErrnoException): void => done(new SmtpClientError(`cannot connect to ${to.host}:${to.port}: ${err.message}`, err.code ?? 'ECONN'));
      const timer = setTimeout(() => done(new SmtpClientError(`no connection to ${to.host}:${to.port} within ${options.timeoutMs} ms`, 'ETIMEDOUT')), options.timeoutMs);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => done());
    });
  }

  /** The next reply from the server. */
  read(): Promise<SmtpReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.timer = setTimeout(
        () => this.fail(new SmtpClientError(`no reply within ${this.options.timeoutMs} ms`, 'ETIMEDOUT')),
        this.options.timeoutMs,
      );
    });
  }

  /** Send one command line (CRLF is added) and read its reply. */
  command(line: string): Promise<SmtpReply> {
    if (/[\r\n]/.test(line)) throw new Error('a command is one line'); // never let a value split it
    this.write(`${line}\r\n`, line);
    return this.read();
  }

  /** After 354: send the message, dot-stuffed and ended with <CRLF>.<CRLF>, and read the reply. */
  data(message: Buffer): Promise<SmtpReply> {
    const wire = dotStuff(message);
    this.write(wire, `(the message: ${message.length} bytes, then <CRLF>.<CRLF>)`);
    return this.read();
  }

  /**
   * After `220` to STARTTLS: the TLS handshake, as the client (RFC 3207 4.1), checking the
   * server's certificate against `options.ca` for `options.servername`. Anything the
   * server sent after its 220 came in clear and is thrown away. Then the dialogue goes on
   * inside TLS, starting again with EHLO; a failed handshake rejects with code ETLS, and
   * the connection is closed.
   */
  async startTls(options: { ca: string; servername: string }): Promise<tls.TLSSocket> {
    if (this.failure) throw this.failure;
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    plain.removeListener('error', this.onError);
    plain.removeListener('close', this.onClose);
    this.buffer = '';
    this.replies.length = 0;
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({ socket: plain, ca: options.ca, servername: options.servername, minVersion: 'TLSv1.2' });
      const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.removeListener('error', failed);
        resolve(socket);
      });
      const failed = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', failed);
    }).catch((err: Error) => {
      this.fail(new SmtpClientError(`TLS with ${options.servername} failed: ${err.message}`, 'ETLS'));
      throw this.failure!;
    });
    this.socket = secure;
    this.listen(secure);
    return secure;
  }

  /** QUIT politely, then close; never throws (the message is already delivered or not). */
  async quit(): Promise<void> {
    try {
      if (!this.failure) await this.command('QUIT');
    } catch {
      // a server that hangs up without 221 is rude, not a failure
    }
    this.close();
  }

  close(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  private write(data: string | Buffer, shown: string): void {
    if (this.failure) return; // read() reports why
    this.options.onWire?.('send', shown);
    this.socket.write(data);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer += chunk.toString('latin1');
    let parsed: ReturnType<typeof parseReplies>;
    try {
      parsed = parseReplies(this.buffer);
    } catch (err) {
      const line = err instanceof ReplyParseError ? err.line : String(err);
      return this.fail(new SmtpClientError(`not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`, 'EPROTO'));
    }
    this.buffer = parsed.rest;
    if (this.buffer.length > MAX_REPLY_BYTES) return this.fail(new SmtpClientError('a reply without end', 'EPROTO'));
    for (const reply of parsed.replies) {
      this.options.onWire?.('recv', formatReply(reply));
      const waiter = this.waiter;
      if (waiter) {
        this.waiter = undefined;
        clearTimeout(this.timer);
        waiter.resolve(reply);
      } else {
        this.replies.push(reply);
      }
    }
  };

  private readonly onAbort = (): void => this.fail(new SmtpClientError('aborted', 'EABORT'));

  /** The connection is unusable from here on: reject whoever waits, and every later call. */
  private fail(err: SmtpClientError): void {
    this.failure ??= err;
    clearTimeout(this.timer);
    this.socket.destroy();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }
}
