import dgram from 'node:dgram';
import net from 'node:net';
import type { ReplyParser } from '../../lab-runner/wire';

/**
 * A client's side of a TCP conversation with a deadline on every wait, for the
 * fuzzer's health exchanges and for sending an input as it was found. Replies are read
 * with the runner's own parsers (lab-runner/executors/<proto>/protocol.ts).
 */
export class Conversation {
  private buffer: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes received on this connection so far, read or not. */
  receivedBytes = 0;
  private wake?: () => void;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.receivedBytes += chunk.length;
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
    socket.on('error', () => {}); // a reset is a close here; 'close' follows
  }

  /** Connect within `ms`, or reject naming the port. `from`: the local address to connect from (another loopback address). */
  static open(port: number, host = '127.0.0.1', ms = 5000, from?: string): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress: from });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no TCP connection to ${host}:${port} within ${ms} ms`));
      }, ms);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new Conversation(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${host}:${port}: ${err.message}`));
      });
    });
  }

  /** Write bytes; resolves once they are handed to the kernel (or the connection is gone). */
  write(bytes: Buffer | string): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** The next reply as `parse` cuts it, within `ms`; the error names what was awaited and what came. */
  reply<R>(parse: ReplyParser<R>, what: string, ms = 5000): Promise<R> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${what} within ${ms} ms; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))}`)), ms);
      const done = (err: Error | null, reply?: R): void => {
        clearTimeout(timer);
        this.wake = undefined;
        if (err) reject(err);
        else resolve(reply as R);
      };
      const attempt = (): void => {
        let parsed;
        try {
          parsed = parse(this.buffer, this.ended);
        } catch (err) {
          return done(new Error(`a bad ${what}: ${(err as Error).message}`));
        }
        if (parsed) {
          this.buffer = parsed.rest;
          return done(null, parsed.reply);
        }
        if (this.ended) done(new Error(`the server closed the connection before the ${what}; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 200))}`));
      };
      this.wake = attempt;
      attempt();
    });
  }

  /**
   * Wait until `count` bytes in all have arrived, the server has closed, or `ms` passed:
   * a pause that ends early when the server answers. Whatever came is kept for reply().
   */
  received(count: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = () => {
        if (this.receivedBytes >= count || this.ended) done();
      };
      this.wake();
    });
  }

  /** Send our FIN, then wait until the server has closed too (it has then read everything), or `ms` passed. Always ends with the socket destroyed. */
  async finish(ms = 5000): Promise<'closed' | 'timeout'> {
    this.socket.end();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.closed.then(() => 'closed' as const),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      }),
    ]);
    clearTimeout(timer);
    this.socket.destroy();
    return outcome;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * One datagram to `port` and the first datagram back, within `ms`. Sent again up to
 * `tries` times in all, as a DNS client does (RFC 1035 4.2.1): UDP may drop a datagram,
 * and a server whose receive buffer is full (a burst of fuzz) drops it for sure.
 */
export function udpExchange(port: number, message: Buffer, ms = 3000, tries = 3, host = '127.0.0.1'): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  const timers: NodeJS.Timeout[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    socket.once('message', resolve);
    socket.once('error', reject);
    for (let n = 0; n < tries; n++) timers.push(setTimeout(() => socket.send(message, port, host), (n * ms) / tries));
    timers.push(setTimeout(() => reject(new Error(`no UDP reply from ${host}:${port} within ${ms} ms (${tries} tries)`)), ms));
  }).finally(() => {
    for (const timer of timers) clearTimeout(timer);
    socket.close();
  });
}

/** Send datagrams from one socket (bound to `from`), in order, without waiting for replies. */
export async function udpSend(port: number, datagrams: readonly Buffer[], host = '127.0.0.1', from = '127.0.0.1'): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, from, resolve));
    for (const datagram of datagrams) {
      // A datagram over 65507 bytes cannot be sent over IPv4: send what fits.
      await new Promise<void>((resolve) => socket.send(datagram.subarray(0, 65507), port, host, () => resolve()));
    }
  } finally {
    socket.close();
  }
}
