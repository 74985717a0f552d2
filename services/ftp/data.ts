import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { errorText } from '../common/lineSession';
import { endAndWait } from '../common/sessions';
import { duration } from '../common/options';
import type { Fields, Logger } from '../common/logger';
import { sameHost, type HostPort } from './addresses';
import { toLocalStream, toNetworkStream } from './ascii';
import { Code } from './codes';
import { fileErrorReply, type Upload } from './files';
import { reply, type Reply } from './reply';

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

// ---------------------------------------------------------------------------
// One session's data connections: what the next transfer will use, and the transfer.

/** Where a transfer's data goes or comes from; the data channel opens the connection and moves it. */
export type TransferSpec = {
  /** For the 150 (or 125) reply: what is sent, `notes.txt (84 bytes)`. */
  what: string;
  /** For the 150 (or 125) reply: the type the data travels in. */
  mode: 'ASCII' | 'BINARY';
  /** TYPE A: convert line ends on the way (never for listings: they are CR LF already). */
  ascii: boolean;
} & ({ source: Readable } | { upload: Upload });

/** What the data channel needs of its control connection. */
export interface ControlLink {
  /** Send a reply on the control connection now (the preliminary 150 or 125). */
  send(r: Reply): Promise<void>;
  /** Extra fields for the command's log line. */
  note(fields: Fields): void;
  /** The control connection may be silent while data flows: no idle timeout meanwhile. */
  pauseIdleTimer(): void;
  resumeIdleTimer(): void;
  /** Has the client closed the control connection (or its sending side)? Then an upload may be cut short. */
  closing(): boolean;
}

export interface DataChannelOptions {
  /** The control connection's client address and the address it reached us on. */
  client: string;
  local: string;
  ports?: PortRange;
  cursor: { next: number };
  /** The IPv4 address a 227 (PASV) reply advertises; default the control connection's local address. */
  pasvAddress?: string;
  activeToOtherHosts: boolean;
  passiveFromOtherHosts: boolean;
  /** To be connected, to connect, and the longest a transfer may stall. */
  timeoutMs: number;
  log: Logger;
  /** The server's certificate and key, for data connections under PROT P. */
  tls?: tls.TlsOptions;
}

/** What the next transfer will use: a passive listener, or where to connect to. */
type DataPlan = PassiveListener | { kind: 'active'; target: HostPort };

/**
 * A session's data side (RFC 959 3.2, 5.2): PASV/EPSV/PORT/EPRT set up the next
 * transfer; a transfer command uses that setup up, whatever happens, so the next one
 * needs a new PASV/EPSV/PORT/EPRT. ABOR (RFC 959 4.1.3) stops a transfer in progress.
 */
export class DataChannel {
  private plan?: DataPlan;
  /** Set while a transfer runs: ABOR (or the end of the session) stops it. */
  private transferring?: AbortController;
  /** ABOR stopped a transfer; the ABOR command's own reply says so. */
  private aborted = false;
  private closed = false;
  /** PROT P: each data connection is a TLS connection, the server in the TLS server's role (RFC 4217 7). */
  private protectedData = false;

  constructor(
    private readonly options: DataChannelOptions,
    private readonly control: ControlLink,
  ) {}

  /** The address a 227 reply advertises. */
  get pasvAddress(): string {
    return this.options.pasvAddress ?? this.options.local;
  }

  /** Is a transfer running now? */
  get busy(): boolean {
    return this.transferring !== undefined;
  }

  /** Open a passive listener, closing any previous one (at most one per session). */
  async openPassive(): Promise<PassiveListener> {
    this.close();
    const { local, ports, cursor, client, passiveFromOtherHosts, timeoutMs, log } = this.options;
    const listener = await PassiveListener.open({ host: local, ports, cursor, client, fromOtherHosts: passiveFromOtherHosts, timeoutMs, log });
    if (this.closed) {
      listener.close();
      throw new DataConnectionError('the control connection closed');
    }
    this.plan = listener;
    return listener;
  }

  /** May the server connect to this host for PORT/EPRT? Logs a refusal. */
  activeAllowed(target: HostPort, verb: string, user?: string): boolean {
    if (this.options.activeToOtherHosts || sameHost(target.host, this.options.client)) return true;
    // The FTP bounce attack (RFC 2577 3): "connect to that other host and send it this file".
    this.options.log.warn(`illegal ${verb}`, { to: `${target.host}:${target.port}`, expected: this.options.client, user });
    return false;
  }

  /** Use active mode for the next transfer (closing any passive listener). */
  setActive(target: HostPort): void {
    this.close();
    this.plan = { kind: 'active', target };
  }

  /** Forget the setup, if any (closing a passive listener). True if there was one. */
  close(): boolean {
    const had = this.plan !== undefined;
    if (this.plan?.kind === 'passive') this.plan.close();
    this.plan = undefined;
    return had;
  }

  /** PROT P (true) or PROT C (false). */
  protect(on: boolean): void {
    if (on && !this.options.tls) throw new Error('ftp: PROT P without a certificate');
    this.protectedData = on;
  }

  /** Stop a running transfer (it answers 426); `why` is said in that reply. */
  abort(why: string): void {
    this.transferring?.abort(why);
  }

  /** ABOR heard while a transfer runs: stop it; the ABOR command then reports it. */
  abortByClient(): void {
    if (!this.transferring) return;
    this.transferring.abort('ABOR');
    this.aborted = true;
  }

  /** Whether ABOR stopped a transfer just now (the ABOR then reports it). */
  takeAborted(): boolean {
    const aborted = this.aborted;
    this.aborted = false;
    return aborted;
  }

  /** The session is over: stop everything, and take no new setup. */
  shutdown(why: string): void {
    this.closed = true;
    this.abort(why);
    this.close();
  }

  /** A summary line for STAT. */
  describe(): string {
    const d = this.plan;
    const setup = !d ? 'no data connection set up' : d.kind === 'passive' ? `passive, port ${d.port}` : `active, to ${d.target.host}:${d.target.port}`;
    return `${setup}; PROT ${this.protectedData ? 'P (TLS)' : 'C (clear)'}`;
  }

  /**
   * One transfer: the data connection (accepted or connected), the preliminary reply,
   * the bytes, then the final reply (226, 425, 426, 451...).
   */
  async transfer(spec: TransferSpec): Promise<Reply> {
    const plan = this.plan;
    this.plan = undefined;
    const discard = async (): Promise<void> => {
      if ('source' in spec) spec.source.destroy();
      else await spec.upload.discard();
    };
    if (!plan) {
      await discard();
      return reply(Code.CANT_OPEN_DATA, 'Use PASV, EPSV, PORT or EPRT first.');
    }
    const abort = new AbortController();
    this.transferring = abort;
    this.aborted = false;
    const { timeoutMs } = this.options;
    this.control.pauseIdleTimer();
    let data: net.Socket | undefined;
    try {
      const alreadyOpen = plan.kind === 'passive' && plan.connected;
      try {
        if (plan.kind === 'passive') {
          abort.signal.addEventListener('abort', () => plan.close(), { once: true });
          data = await plan.accept();
        } else {
          data = await connectActive(plan.target, this.options.local, timeoutMs, abort.signal);
        }
      } catch (e) {
        await discard();
        if (abort.signal.aborted) return reply(Code.TRANSFER_ABORTED, 'Transfer aborted before the data connection opened.');
        this.control.note({ data: errorText(e) });
        return reply(Code.CANT_OPEN_DATA, `Can't open data connection: ${errorText(e)}.`);
      }
      // PROT P: the client starts a TLS handshake on the data connection, now or after the 150.
      const secured = this.protectedData ? secureData(data, this.options.tls!, timeoutMs) : undefined;
      // 125 when the client had connected already (passive), 150 "about to open" otherwise.
      await this.control.send(
        alreadyOpen
          ? reply(Code.DATA_ALREADY_OPEN, `Data connection already open; ${spec.mode} mode transfer starting for ${spec.what}.`)
          : reply(Code.OPENING_DATA, `Opening ${spec.mode} mode data connection for ${spec.what}.`),
      );
      if (secured) {
        try {
          data = await secured;
        } catch (e) {
          await discard();
          this.options.log.warn('tls handshake failed', { on: 'data connection', error: errorText(e) });
          return reply(Code.CANT_OPEN_DATA, `Can't open data connection: the TLS handshake failed (${errorText(e)}).`);
        }
      }
      const options = { ascii: spec.ascii, signal: abort.signal, stallTimeoutMs: timeoutMs };
      try {
        const bytes = 'source' in spec ? await sendData(data, spec.source, options) : await receiveData(data, spec.upload.stream(), options);
        this.control.note({ bytes });
      } catch (e) {
        await discard();
        const reason = e instanceof TransferError ? e.reason : 'local';
        this.control.note({ interrupted: reason });
        if (reason === 'aborted') {
          const why = String(abort.signal.reason);
          return reply(Code.TRANSFER_ABORTED, why === 'ABOR' ? 'Transfer aborted by ABOR; data connection closed.' : `Transfer aborted: ${why}.`);
        }
        if (reason === 'timeout') return reply(Code.TRANSFER_ABORTED, `Data connection timed out: nothing moved for ${duration(timeoutMs)}.`);
        if (reason === 'connection') return reply(Code.TRANSFER_ABORTED, 'Connection closed; transfer aborted.');
        this.options.log.error('transfer failed', { error: errorText(e) });
        return fileErrorReply(e, 'STOR') ?? reply(Code.LOCAL_ERROR, 'Requested action aborted: local error in processing.');
      }
      if ('upload' in spec) {
        // The control connection is closing: the client died, so the data may be cut short.
        if (this.control.closing()) {
          await spec.upload.discard();
          return reply(Code.TRANSFER_ABORTED, 'Control connection closed; upload discarded.');
        }
        try {
          await spec.upload.commit(); // now, and only now, the file has its real name
        } catch (e) {
          const known = fileErrorReply(e, 'STOR');
          if (!known) this.options.log.error('upload rename failed', { error: errorText(e) });
          return known ?? reply(Code.LOCAL_ERROR, 'Requested action aborted: local error in processing.');
        }
      }
      // Inside TLS, the data connection ends with close_notify both ways before it closes.
      if (data instanceof tls.TLSSocket) await endAndWait(data);
      return reply(Code.TRANSFER_COMPLETE, 'Transfer complete.');
    } finally {
      data?.destroy();
      if (plan.kind === 'passive') plan.close();
      this.transferring = undefined;
      this.control.resumeIdleTimer();
    }
  }
}

/** Wait for the client's TLS handshake on a data connection; the server is the TLS server either way. */
function secureData(socket: net.Socket, options: tls.TlsOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new tls.TLSSocket(socket, { ...options, isServer: true });
    const timer = setTimeout(() => fail(new Error(`no handshake in ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      secure.destroy();
      reject(e);
    };
    secure.once('error', fail);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', fail);
      secure.on('error', () => {}); // later errors end the transfer through the stream
      // One turn of the event loop first: TLS 1.3 sends its session tickets after the
      // handshake, and a short listing ended in the same turn would put its close_notify
      // before them (Python's ftplib then fails its unwrap() with "shutdown while in init").
      setImmediate(() => resolve(secure));
    });
  });
}
