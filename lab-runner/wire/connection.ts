import type net from 'node:net';
import { TLSSocket } from 'node:tls';
import { StepError } from './errors';
import { CLIENT, type Wire } from './recorder';
import type { Route } from './route';
import { StreamOffsets } from './tcp';

/**
 * A client's TCP conversation with a lab server (HTTP, SMTP, POP3): write a request
 * or a command, read back one reply. What counts as one reply is the protocol's
 * business, so each executor hands in a pure parser:
 * `parse(received, closed) -> { reply, raw, rest }`, or undefined for "not all there
 * yet" (`closed`: the server has closed its side, which ends an HTTP body without a
 * length). Everything sent and received is recorded on the wire.
 *
 * A conversation may go on inside TLS: from the first byte (a TLS socket handed in:
 * HTTPS, SMTPS, POP3S) or after a command that asks for it (STARTTLS, STLS: upgrade()).
 * Its messages are then recorded as `encrypted`, with the plaintext the client sent and read.
 */

export type ReplyParser<R> = (data: Buffer, closed?: boolean) => { reply: R; raw: Buffer; rest: Buffer } | undefined;

export interface ReadOptions<R> {
  /** The reply in one line, for the transcript's arrow. */
  describe: (reply: R) => string;
  /** The decoded view for the transcript; default: the raw bytes as text. */
  view?: (reply: R, raw: Buffer) => string;
}

export class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;
  private waiting?: () => void;
  private socket: net.Socket;
  /** Inside TLS: what crosses the wire is encrypted. */
  private encrypted: boolean;
  readonly localPort: number;
  private readonly offsets: StreamOffsets;

  constructor(
    socket: net.Socket,
    readonly route: Route,
    private wire: Wire,
    private readonly protocol: string,
  ) {
    this.socket = socket;
    this.encrypted = socket instanceof TLSSocket;
    this.localPort = socket.localPort ?? 0;
    this.offsets = new StreamOffsets(socket);
    this.listen(socket);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.waiting?.();
  };

  private readonly onEnd = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.wire.record({ kind: 'close', protocol: this.protocol, transport: 'tcp', from: this.route.label, to: CLIENT, summary: 'server closed the connection' });
    this.waiting?.();
  };

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onEnd);
  }

  /**
   * Where a message sits: the connection's ends and, in clear, its offset in its
   * direction's byte stream (--capture places it on its segments by that). Inside TLS a
   * message's bytes are not the bytes on the wire: only the ends, and the mark.
   */
  private marks(kind: 'send' | 'recv', length: number): { encrypted?: true; offset?: number } {
    return this.encrypted ? { ...this.offsets.ends, encrypted: true } : this.offsets.next(kind, length);
  }

  /**
   * Go on inside TLS (STARTTLS, RFC 3207; STLS, RFC 2595): `handshake` starts TLS on the
   * plain socket and resolves with the secure one. Whatever the server sent in clear
   * after its go-ahead is thrown away, unread: it did not come through TLS, so an
   * attacker on the path could have put it there to pass for a reply from inside
   * (CVE-2011-0411, the STARTTLS command injection).
   */
  async upgrade(handshake: (socket: net.Socket) => Promise<net.Socket>): Promise<void> {
    if (this.encrypted) throw new StepError(`the connection to ${this.route.label} is in TLS already`, 'EPROTO');
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    plain.removeListener('end', this.onEnd);
    plain.removeListener('error', this.onEnd);
    const dropped = this.buffer.length;
    this.buffer = Buffer.alloc(0);
    if (dropped) this.wire.record({ kind: 'note', protocol: this.protocol, from: this.route.label, to: CLIENT, summary: `${dropped} bytes received in clear before TLS, thrown away` });
    plain.on('error', () => {}); // a failed handshake surfaces through `handshake`, not here
    const secure = await handshake(plain);
    this.socket = secure;
    this.encrypted = true;
    this.listen(secure);
  }

  /** Whether the conversation is inside TLS now. */
  get secure(): boolean {
    return this.encrypted;
  }

  /** Record on another step's wire from now on (a kept-alive connection lives across steps). */
  useWire(wire: Wire): void {
    this.wire = wire;
  }

  /** Write bytes as they are; `summary` names them in the transcript. */
  write(bytes: Buffer, summary: string, text = bytes.toString('utf8')): void {
    this.wire.record({ kind: 'send', protocol: this.protocol, transport: 'tcp', from: CLIENT, to: this.route.label, summary, text, bytes, ...this.marks('send', bytes.length) });
    this.socket.write(bytes);
  }

  /** Write one command line, ended with CRLF. */
  send(line: string): void {
    this.write(Buffer.from(`${line}\r\n`, 'utf8'), line.length > 80 ? `${line.slice(0, 77)}...` : line);
  }

  read<R>(parse: ReplyParser<R>, options: ReadOptions<R>, signal: AbortSignal): Promise<R> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void =>
        settle(new StepError(`no complete reply from ${this.route.label} in time; received ${JSON.stringify(this.buffer.toString('utf8').slice(0, 200))}`, 'ETIMEDOUT'));
      const settle = (err: Error | null, reply?: R): void => {
        this.waiting = undefined;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(reply!);
      };
      const attempt = (): void => {
        let parsed;
        try {
          parsed = parse(this.buffer, this.closed);
        } catch (err) {
          return settle(new StepError(`bad reply from ${this.route.label}: ${(err as Error).message}`, 'EPROTO'));
        }
        if (parsed) {
          this.buffer = parsed.rest;
          const text = options.view ? options.view(parsed.reply, parsed.raw) : parsed.raw.toString('utf8');
          this.wire.record({ kind: 'recv', protocol: this.protocol, transport: 'tcp', from: this.route.label, to: CLIENT, summary: options.describe(parsed.reply), text, bytes: parsed.raw, ...this.marks('recv', parsed.raw.length) });
          return settle(null, parsed.reply);
        }
        if (this.closed) {
          const got = this.buffer.length ? ` in the middle of a reply: ${JSON.stringify(this.buffer.toString('utf8').slice(0, 200))}` : ' without a reply';
          settle(new StepError(`${this.route.label} closed the connection${got}`, 'ECONNRESET'));
        }
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      this.waiting = attempt;
      attempt();
    });
  }

  /** Still usable: neither side has closed it. */
  get open(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One CRLF-ended line from `data` at `from` (a bare LF is accepted too, leniently). */
export function takeLine(data: Buffer, from = 0): { line: string; end: number } | undefined {
  const lf = data.indexOf(0x0a, from);
  if (lf < 0) return undefined;
  const line = data.subarray(from, lf > from && data[lf - 1] === 0x0d ? lf - 1 : lf).toString('utf8');
  return { line, end: lf + 1 };
}
