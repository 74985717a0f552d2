import type net from 'node:net';

/**
 * Ending connections the same way in every hand-written service: what was written
 * goes out, then the connection closes; a client that stops reading cannot keep it open.
 */

/** After a server decides to close, how long a client that does not read may keep the socket. */
export const HANGUP_GRACE_MS = 2000;

/** FIN once the bytes are out, then close; cut the connection if the client does not read. */
export function endSocket(socket: net.Socket, graceMs = HANGUP_GRACE_MS): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end(() => socket.destroy());
}

/**
 * End a connection and wait until it has closed (or `graceMs` passed, then cut it). For a
 * TLS connection this is what lets the last encrypted bytes and the close_notify reach the
 * client, and the client's close_notify come back, before the socket goes (Python's
 * ssl unwrap() insists on it).
 */
export function endAndWait(socket: net.Socket, graceMs = HANGUP_GRACE_MS): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    endSocket(socket, graceMs);
  });
}

/**
 * A server's close(): stop accepting, ask every open session to end (`hangUp` says
 * goodbye in the protocol's words), and resolve when the listener and all sessions are done.
 */
export async function closeSessions<S extends { finished: Promise<void> }>(server: net.Server, sessions: Iterable<S>, hangUp: (session: S) => void): Promise<void> {
  const stopped = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined;
  const open = [...sessions];
  for (const session of open) hangUp(session);
  await Promise.all([stopped, ...open.map((s) => s.finished)]);
}

/** `retr 1` -> { verb: 'RETR', arg: '1' }: line protocols are `VERB SP argument` (RFC 959 5.3, RFC 1939 3). */
export interface Command {
  /** The verb, upper-cased: verbs are case-insensitive. */
  verb: string;
  /** Everything after the first space, as sent ('' when none): a password or path may hold spaces. */
  arg: string;
}

export function parseCommand(line: string): Command {
  const space = line.indexOf(' ');
  if (space === -1) return { verb: line.toUpperCase(), arg: '' };
  return { verb: line.slice(0, space).toUpperCase(), arg: line.slice(space + 1) };
}

/**
 * Write, and when the client reads slower than we write (a big RETR), wait until the
 * bytes drain (or the connection closes) before the next command is handled.
 */
export async function writeWithBackpressure(socket: net.Socket, bytes: string | Buffer): Promise<void> {
  if (socket.write(bytes)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/**
 * A node:http server's graceful close, shared by the HTTP services (www, shop, app):
 * stop accepting, close idle keep-alive connections, tell requests in flight that
 * their connection ends (`Connection: close`), and after `graceMs` cut whatever is
 * still open, so a slow request cannot hold up a restart.
 */
export async function closeHttpServer(server: import('node:http').Server, inFlight: Iterable<import('node:http').ServerResponse>, graceMs: number): Promise<void> {
  const stopped = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  server.closeIdleConnections();
  const grace = setTimeout(() => server.closeAllConnections(), graceMs);
  grace.unref(); // never keep the process alive just for this
  try {
    await stopped;
  } finally {
    clearTimeout(grace);
  }
}
