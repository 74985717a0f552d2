import net, { type AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../common/logger';
import { sameHost, type HostPort } from './addresses';
import { toLocalStream, toNetworkStream } from './ascii';

/**
 * The data connection (RFC 959 3.2, 3.3): the second TCP connection that carries a
 * file or a listing, one per transfer; in stream mode its end is the end of the file.
 *
 *   passive (PASV/EPSV): the server listens on a port and tells the client which; the
 *       client connects. Works when the client is behind NAT or a firewall, which is
 *       why every client today uses it first.
 *   active (PORT/EPRT): the client listens and tells the server where; the server
 *       connects back. Blocked by most home routers and by Docker's port publishing.
 *
 * Either way the other end must be the client on the control connection, or the server
 * can be used against third hosts: the "FTP bounce attack" (RFC 2577 3). vsftpd's
 * defaults are the rules here: PORT and EPRT only to the client's own address
 * (port_promiscuous=NO), a passive connection only from it (pasv_promiscuous=NO).
 */

/** Passive ports to use, both ends included: the range a firewall or `docker run -p` opens. */
export interface PortRange {
  from: number;
  to: number;
}

/** The data connection could not be made: the transfer command gets 425. */
export class DataConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataConnectionError';
  }
}

export interface PassiveOptions {
  /** Where to listen: the control connection's local address, the one the client already reaches. */
  host: string;
  /** undefined: any free port the system picks (tests). */
  ports?: PortRange;
  /** Where in the range the next search starts; one per server, so sessions spread over the range. */
  cursor: { next: number };
  /** The control connection's client address: the only one a data connection is taken from. */
  client: string;
  /** Take a data connection from any address (vsftpd's pasv_promiscuous). */
  fromOtherHosts: boolean;
  /** Nobody connected within this time: the listener closes, the transfer gets 425. */
  timeoutMs: number;
  log: Logger;
}

/**
 * One passive listener: the port a PASV or EPSV opened. It takes exactly one data
 * connection, from the client's address, then stops listening; connections from any
 * other address are closed and logged, and it goes on waiting for the right one. A
 * session holds at most one: a new PASV closes the old one, so a client cannot pile up
 * open ports by sending PASV after PASV.
 */
export class PassiveListener {
  readonly kind = 'passive';
  readonly port: number;
  private socket?: net.Socket;
  private taken = false;
  private failure?: DataConnectionError;
  private waiter?: { resolve: (socket: net.Socket) => void; reject: (e: Error) => void };
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly server: net.Server,
    private readonly options: PassiveOptions,
  ) {
    this.port = (server.address() as AddressInfo).port;
    server.on('connection', (socket) => this.onConnection(socket));
    this.timer = setTimeout(() => this.fail(`nobody connected to passive port ${this.port} within ${options.timeoutMs} ms`), options.timeoutMs);
    this.timer.unref();
  }

  /** Listen on the next free port of the range (or any port without a range). */
  static async open(options: PassiveOptions): Promise<PassiveListener> {
    const { ports, cursor, host } = options;
    if (!ports) return new PassiveListener(await listenOn(host, 0), options);
    const size = ports.to - ports.from + 1;
    for (let i = 0; i < size; i++) {
      const index = (cursor.next + i) % size;
      try {
        const server = await listenOn(host, ports.from + index);
        cursor.next = (index + 1) % size;
        return new PassiveListener(server, options);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      }
    }
    throw new DataConnectionError(`every passive port (${ports.from}-${ports.to}) is in use; try again later`);
  }

  /** A data connection has arrived already (the transfer's preliminary reply is then 125). */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** The data connection: the one that arrived, or the next one (rejects on timeout or close). */
  accept(): Promise<net.Socket> {
    if (this.socket) {
      this.taken = true;
      return Promise.resolve(this.socket);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = {
        resolve: (socket) => {
          this.taken = true;
          resolve(socket);
        },
        reject,
      };
    });
  }

  /** Stop listening; a data connection nobody took is closed too. */
  close(): void {
    this.fail('the passive listener was closed');
    if (this.socket && !this.taken) this.socket.destroy();
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => {}); // a reset data connection is seen by the transfer, not as a crash
    const { client, fromOtherHosts, log } = this.options;
    if (!fromOtherHosts && !sameHost(socket.remoteAddress, client)) {
      // Someone else found the port: this is how a stranger would steal a download or
      // slip in an upload. Close it and keep waiting for the real client.
      log.warn('data connection refused', { from: socket.remoteAddress, port: this.port, expected: client });
      socket.destroy();
      return;
    }
    if (this.socket || this.failure) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    clearTimeout(this.timer);
    this.server.close(); // one data connection per PASV: the port is free again at once
    this.waiter?.resolve(socket);
    this.waiter = undefined;
  }

  private fail(reason: string): void {
    clearTimeout(this.timer);
    if (this.server.listening) this.server.close();
    if (this.socket || this.failure) return;
    this.failure = new DataConnectionError(reason);
    this.waiter?.reject(this.failure);
    this.waiter = undefined;
  }
}

function listenOn(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve(server);
    });
  });
}

/** Active mode: connect back to where PORT or EPRT said, from the address the client reached us on. */
export function connectActive(target: HostPort, localAddress: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, localAddress: localAddress || undefined });
    const fail = (message: string): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new DataConnectionError(message));
    };
    const onAbort = (): void => fail('aborted');
    const timer = setTimeout(() => fail(`${target.host} port ${target.port} did not answer within ${timeoutMs} ms`), timeoutMs);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (e) => fail(`cannot connect to ${target.host} port ${target.port}: ${e.message}`));
    socket.once('connect', () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

// ---------------------------------------------------------------------------
// Moving the bytes.

/** Why a transfer stopped before the end. */
export type Interruption = 'aborted' | 'connection' | 'timeout' | 'local';

export class TransferError extends Error {
  constructor(
    readonly reason: Interruption,
    message: string,
  ) {
    super(message);
    this.name = 'TransferError';
  }
}

export interface MoveOptions {
  /** TYPE A: convert line ends on the way. */
  ascii: boolean;
  /** ABOR, or the session ending. */
  signal: AbortSignal;
  /** A data connection on which nothing moves for this long is cut (a stalled transfer). */
  stallTimeoutMs: number;
}

/** RETR, LIST...: `source` to the client. Resolves with the octets sent. */
export function sendData(data: net.Socket, source: Readable, options: MoveOptions): Promise<number> {
  const start = data.bytesWritten;
  const steps = options.ascii ? [source, toNetworkStream(), data] : [source, data];
  return move(data, source, steps, options).then(() => data.bytesWritten - start);
}

/**
 * STOR, APPE: the client's bytes into `sink`. The end of the data is the client closing
 * the data connection (RFC 959 3.4.1, stream mode): a clean close is a complete file; a
 * reset, a timeout or ABOR is a broken one. (One case no server on Node can see: a reset
 * that arrives while sent bytes still wait, unread, in the system's buffer is reported
 * as a clean end once they are read; server.ts also watches the control connection.)
 */
export function receiveData(data: net.Socket, sink: Writable, options: MoveOptions): Promise<number> {
  const steps = options.ascii ? [data, toLocalStream(), sink] : [data, sink];
  return move(data, sink, steps, options).then(() => data.bytesRead);
}

async function move(data: net.Socket, file: Readable | Writable, steps: (Readable | Writable)[], options: MoveOptions): Promise<void> {
  let failed: 'data' | 'file' | undefined;
  const onDataError = (): void => void (failed ??= 'data');
  const onFileError = (): void => void (failed ??= 'file');
  data.once('error', onDataError);
  file.once('error', onFileError);
  data.setTimeout(options.stallTimeoutMs, () => {
    data.destroy(new TransferError('timeout', `nothing moved on the data connection for ${options.stallTimeoutMs} ms`));
  });
  try {
    // pipeline() wires errors and backpressure through every step, and destroys them all if one fails.
    await pipeline(steps as [Readable, ...Writable[]], { signal: options.signal });
  } catch (e) {
    if (options.signal.aborted) throw new TransferError('aborted', `aborted: ${String(options.signal.reason)}`);
    if (e instanceof TransferError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (failed === 'file') throw new TransferError('local', message);
    throw new TransferError('connection', message);
  } finally {
    data.setTimeout(0);
    data.off('error', onDataError);
    file.off('error', onFileError);
  }
}
