import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { pointAtCaller, within, type WaitOptions } from './wait';

export interface ConnectOptions extends WaitOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Connect from this address: another loopback address, such as 127.0.0.2, is "a third host". */
  localAddress?: string;
  /** Connect from this port (default: one the kernel picks). */
  localPort?: number;
}

/** How much of what arrived a failed wait shows. */
const SHOWN_BYTES = 400;

/**
 * A raw TCP client: write exactly the bytes a test wants (what well-behaved clients
 * refuse to send), read what comes back. Every read waits with a deadline; one that
 * runs out, or meets the close, names what it waited for and shows what did arrive.
 *
 * Reads consume: `readUntil()`, `readLine()` and `read()` go on from where the last
 * read stopped. `waitFor()` looks at everything received and consumes nothing. Strings
 * are written and read as latin1: one character per byte, any byte.
 *
 * Protocol helpers extend it (FTP and POP3's Wire, SMTP and HTTP's RawClient, DNS's
 * TcpClient): `Sub.connect(port)` gives a Sub.
 */
export class RawSocket {
  /** What a failed connection or wait calls the other end, e.g. `127.0.0.1:2121`. */
  readonly peer: string;
  /** This end's port, as the server logs it (kept: a closed socket forgets it). */
  readonly localPort: number;
  /** The socket's error, if it had one (a reset by the server shows here and as the close). */
  error?: Error;
  private chunks: Buffer[] = [];
  /** Octets consumed by reads. */
  private at = 0;
  private isClosed = false;
  private readonly wakers = new Set<() => void>();

  constructor(readonly socket: net.Socket) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.localPort = socket.localPort!;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.wake();
    });
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  /** Connect to `host:port` (127.0.0.1 by default) within the deadline. */
  static async connect<T extends RawSocket>(this: new (socket: net.Socket) => T, port: number, options: ConnectOptions = {}): Promise<T> {
    const host = options.host ?? '127.0.0.1';
    const socket = net.connect({ port, host, localAddress: options.localAddress, localPort: options.localPort });
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    try {
      await within(connected, `a connection to ${host}:${port}`, options);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return new this(socket);
  }

  /** Every octet received so far. */
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Everything received so far, as latin1 text. */
  get text(): string {
    return this.received.toString('latin1');
  }

  /** What arrived and no read has consumed yet. */
  get unread(): string {
    return this.received.subarray(this.at).toString('latin1');
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Close our sending side (a FIN), keep reading: the server still answers what it got. */
  end(data?: string | Buffer): void {
    if (data !== undefined) this.write(data);
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * The core read: once `take(unread)` finds what it is looking for, it returns the
   * value and how many octets that used up; they are consumed. `what` names it for a
   * failure ("a CRLF", "a DNS message").
   */
  read<T>(what: string, take: (unread: Buffer) => { value: T; length: number } | undefined, options: WaitOptions = {}): Promise<T> {
    return this.until(
      what,
      () => {
        const found = take(this.received.subarray(this.at));
        if (found === undefined) return undefined;
        this.at += found.length;
        return { value: found.value };
      },
      options,
    ).then((found) => found.value);
  }

  /** The text up to and including the first `end` (a string or a pattern) in what is unread. */
  readUntil(end: string | RegExp, options: WaitOptions = {}): Promise<string> {
    const what = typeof end === 'string' ? JSON.stringify(end) : `a match of ${end}`;
    return this.read(
      what,
      (unread) => {
        const text = unread.toString('latin1');
        const match = typeof end === 'string' ? { index: text.indexOf(end), length: end.length } : ((m) => m && { index: m.index, length: m[0].length })(end.exec(text));
        if (!match || match.index < 0) return undefined;
        const length = match.index + match.length;
        return { value: text.slice(0, length), length };
      },
      options,
    );
  }

  /** The next line, without its CRLF. */
  async readLine(options: WaitOptions = {}): Promise<string> {
    return (await this.readUntil('\r\n', options)).slice(0, -2);
  }

  /**
   * Resolves with everything received once it passes `test` (a pattern, or a function
   * of the text); consumes nothing.
   */
  waitFor(test: RegExp | ((text: string) => boolean), options: WaitOptions & { what?: string } = {}): Promise<string> {
    const check = typeof test === 'function' ? test : (text: string) => test.test(text);
    const what = options.what ?? (typeof test === 'function' ? `what arrived to pass ${test.toString()}` : `what arrived to match ${test}`);
    return this.until(what, () => (check(this.text) ? this.text : undefined), options);
  }

  /** Resolves once the connection is closed (by the server, or by us). */
  closed(options: WaitOptions = {}): Promise<void> {
    return this.until('the connection to close', () => (this.isClosed ? true : undefined), options).then(() => undefined);
  }

  /** Waits for the close, and returns (and consumes) what arrived that no read took. */
  async rest(options: WaitOptions = {}): Promise<string> {
    return (await this.restBytes(options)).toString('latin1');
  }

  /** rest(), as octets. */
  async restBytes(options: WaitOptions = {}): Promise<Buffer> {
    await this.closed(options);
    const out = this.received.subarray(this.at);
    this.at += out.length;
    return out;
  }

  /**
   * STARTTLS from the client's side (SMTP's STARTTLS, POP3's STLS, FTP's AUTH TLS): once
   * the server has said go ahead, a TLS handshake on this connection, within the
   * deadline. Resolves with a socket of this one's class (an SMTP RawClient gives an SMTP
   * RawClient) on the TLS side, which holds only what came inside TLS; this one reads
   * nothing more (what comes now is TLS records).
   */
  async startTls(options: tls.ConnectionOptions & WaitOptions = {}): Promise<this> {
    const { ms, signal: _signal, ...tlsOptions } = options;
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ ...tlsOptions, socket: this.socket });
    const handshake = new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    try {
      await within(handshake, `a TLS handshake with ${this.peer}`, { ms });
    } catch (err) {
      secure.destroy();
      throw err;
    }
    return new (this.constructor as new (socket: net.Socket) => this)(secure);
  }

  /** What a failed wait shows: what arrived, and what of it is unread. */
  describe(): string {
    const all = this.received;
    const unread = all.subarray(this.at).toString('latin1');
    const shown = unread.length > SHOWN_BYTES ? `…${JSON.stringify(unread.slice(-SHOWN_BYTES))}` : JSON.stringify(unread);
    return `received ${all.length} octets from ${this.peer}${this.isClosed ? ', then the close' : ''}; unread: ${shown}`;
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /**
   * Resolves with `check()` once it returns a value; checked now and on every chunk
   * and the close. Rejects when the connection closes first, or after the deadline.
   */
  private until<T>(what: string, check: () => T | undefined, options: WaitOptions): Promise<T> {
    const asked = new Error();
    let wake!: () => void;
    const found = new Promise<T>((resolve, reject) => {
      let settled = false; // a read's check consumes: it must not run again once it found its value
      wake = () => {
        if (settled) return;
        const value = check();
        if (value !== undefined) resolve(value);
        else if (this.isClosed) reject(pointAtCaller(new Error(`the connection closed while waiting for ${what}; ${this.describe()}`), asked));
        else return;
        settled = true;
      };
    });
    this.wakers.add(wake);
    wake();
    return within(found, `${what} from ${this.peer}`, { ms: options.ms, seen: () => this.describe() }).finally(() => this.wakers.delete(wake));
  }
}

export interface TcpPeer {
  server: net.Server;
  port: number;
  /** Every connection it accepted, in order. */
  connections: net.Socket[];
  /** Stops listening and ends the connections it accepted. */
  close(): Promise<void>;
}

/**
 * A TCP server of the test's own on `host`, port 0 (127.0.0.1 by default): something
 * that holds a port, a peer that accepts and says nothing, or one that plays a script
 * (`onConnection`). A socket error is the test's business, never an uncaught one.
 */
export async function listenTcp(onConnection: (socket: net.Socket) => void = () => {}, host = '127.0.0.1'): Promise<TcpPeer> {
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A UDP socket on 127.0.0.1 (port 0 unless given) that answers nothing: a DNS server that is down, or a port held. */
export async function bindUdp(port = 0): Promise<{ socket: dgram.Socket; port: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', resolve);
  });
  return { socket, port: socket.address().port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}
