import net, { type AddressInfo } from 'node:net';
import { clientAddress as plainAddress } from './clf';
import { bind } from './listen';
import { connectionId, type Logger } from './logger';
import { endSocket } from './sessions';
import type { TlsStarter } from './tls';

/**
 * The listening side of a line protocol's server (POP3, FTP, IMAP): the listeners
 * (plain, and implicit TLS such as POP3S on 995), the connection limits, the open
 * sessions, and closing them all when the server stops. The protocol's server class
 * keeps what is its own (users, folders, options) and hands each accepted connection to
 * `open`, which makes the protocol's session and greets the client.
 */

/** How many connections a server takes: in all, and from one client address. */
export interface ConnectionLimits {
  /** Connections open at once; one more gets the protocol's "busy" reply and is closed. */
  maxConnections: number;
  /** Connections open at once from one address, so one client cannot take every place. */
  maxConnectionsPerAddress: number;
}

/** Why a connection was not taken: `too many connections` and the limit, for the client's answer and the log. */
export interface Refusal {
  reason: string;
  limit: number;
}

/** Counts open connections per client address; says no when a limit is reached. */
export class ConnectionLimiter {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Take a place for a connection from `address`, or say why not. */
  admit(address: string): Refusal | undefined {
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    const fromHere = this.perAddress.get(address) ?? 0;
    if (this.total >= maxConnections) return { reason: 'too many connections', limit: maxConnections };
    if (fromHere >= maxConnectionsPerAddress) return { reason: 'too many connections from your address', limit: maxConnectionsPerAddress };
    this.total++;
    this.perAddress.set(address, fromHere + 1);
    return undefined;
  }

  /** Give the place back (when the connection closes). */
  release(address: string): void {
    this.total--;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }
}

/** `::ffff:127.0.0.1` -> `127.0.0.1`: one client, one address, whichever way the socket reports it. */
export function clientAddress(socket: net.Socket): string {
  return plainAddress(socket.remoteAddress);
}

/** What a host needs of a session. */
export interface HostedSession {
  readonly finished: Promise<void>;
  /** Say goodbye and end; what is in progress may finish within `graceMs` first. */
  shutdown(graceMs: number): void;
}

export interface SessionHostOptions<S extends HostedSession> {
  /** The service's name, for errors that name it (`pop3: port 110/tcp ... in use`). */
  service: string;
  log: Logger;
  limits: ConnectionLimits & {
    /** On close(), how long a session's command in progress may finish before it is cut. Default: 0. */
    closeGraceMs?: number;
  };
  /** The protocol's answer to a connection over a limit (`-ERR [SYS/TEMP] ...`, `421 ...`), as bytes. */
  refuse(refusal: Refusal): Buffer;
  /** Make the session of an accepted connection and greet the client. `id` is the connection's (`c12`), also in `log`. */
  open(socket: net.Socket, log: Logger, id: string): S;
}

export class SessionHost<S extends HostedSession> {
  private readonly servers: net.Server[] = [];
  private readonly sessions = new Set<S>();
  private readonly limiter: ConnectionLimiter;
  private closed?: Promise<void>;

  constructor(private readonly options: SessionHostOptions<S>) {
    this.limiter = new ConnectionLimiter(options.limits);
  }

  /** Listen in clear (the protocol may still upgrade a connection with STARTTLS). Port 0 picks a free port. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return this.bind(port, host, undefined);
  }

  /** Listen with implicit TLS (RFC 8314): the handshake comes first, then the greeting, encrypted. */
  listenTls(port: number, host: string, start: TlsStarter): Promise<AddressInfo> {
    return this.bind(port, host, start);
  }

  /** The sessions open now. */
  get open(): ReadonlySet<S> {
    return this.sessions;
  }

  /**
   * Stop accepting, ask every session to end (each says goodbye its own way, after the
   * command in progress, within closeGraceMs), resolve when all are gone.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const stopped = this.servers.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      const open = [...this.sessions];
      for (const session of open) session.shutdown(this.options.limits.closeGraceMs ?? 0);
      await Promise.all([...stopped, ...open.map((s) => s.finished)]);
    })();
    return this.closed;
  }

  private async bind(port: number, host: string, tls: TlsStarter | undefined): Promise<AddressInfo> {
    // allowHalfOpen: a client may send its commands and then close its sending side
    // (`printf 'USER bob\r\n...QUIT\r\n' | nc -N`); it still gets every reply.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket, tls));
    const address = await bind(this.options.service, server, () => server.listen(port, host), host, port);
    server.on('error', (e) => this.options.log.error('server error', { error: e.message })); // after the bind: bind() explains its own errors
    this.servers.push(server);
    return address;
  }

  private accept(socket: net.Socket, tls: TlsStarter | undefined): void {
    // Replies go out as soon as they are written. With Nagle's algorithm (RFC 896) on, a
    // small write waits while an earlier one is unacknowledged, and the client delays
    // its acknowledgement (RFC 1122 4.2.3.2: up to 500 ms, 40 ms on Linux) when it has
    // nothing to send back: FTP's 226 after its 150, IMAP's tagged OK after the untagged
    // data, POP3's message after its +OK each waited about 40 ms. Every line server
    // (vsftpd, Dovecot, Postfix) sets TCP_NODELAY for this reason.
    socket.setNoDelay(true);
    const address = clientAddress(socket);
    const id = connectionId();
    const log = this.options.log.child({ conn: id, client: `${address}:${socket.remotePort}` });
    socket.on('error', (e) => log.debug('connection error', { error: e.message }));
    if (this.closed) {
      socket.destroy();
      return;
    }
    // Limits are checked on the TCP connection, before any TLS handshake is spent on it.
    const refused = this.limiter.admit(address);
    if (refused) {
      log.warn('connection refused', { ...refused });
      // An answer instead of a silent close: the client can tell "busy, try later". On an
      // implicit-TLS port the answer would need a handshake first: there, just close.
      if (tls) socket.destroy();
      else {
        socket.write(this.options.refuse(refused));
        endSocket(socket);
      }
      return;
    }
    // Counted down as the socket closes, before anything else runs: the address has room at once.
    socket.once('close', () => this.limiter.release(address));
    if (!tls) return this.start(socket, log, id);
    // Implicit TLS: the handshake first (a failure is logged with its reason), then the greeting.
    tls(socket, log).then(
      (secure) => (this.closed ? secure.destroy() : this.start(secure, log, id)),
      () => {},
    );
  }

  private start(socket: net.Socket, log: Logger, id: string): void {
    const session = this.options.open(socket, log, id);
    this.sessions.add(session);
    void session.finished.then(() => this.sessions.delete(session));
  }
}
