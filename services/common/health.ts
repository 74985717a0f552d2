import net from 'node:net';
import { exchange, type DnsQuestion, type Endpoint } from './dnsClient';

/**
 * "Is it up?", answered once for all of wirelab: the container health check
 * (`node /app/dist/services/main.js health smtp 25`: the image has no shell and no
 * curl), the runner's `wait:` step, and the grader waiting for a student's server.
 *
 * A server is up when it does what its protocol does first, not merely when its port
 * takes a connection: the kernel completes the TCP handshake for a process that is
 * stopped, hung or out of file descriptors, and such a server cannot serve anyone.
 *   dns   a query is answered (any reply, even one that does not decode: whether it is
 *         a good answer is for the scenarios to say)
 *   http  `GET /` gets a status line (any status: a 502 from the proxy is an answer)
 *   smtp, ftp (220), pop3 (+OK), imap (* OK)   the greeting is read; then QUIT/LOGOUT
 *   ssh   the version line `SSH-2.0-...` (RFC 4253 4.2) is read
 *   tcp   a TCP connection opens (a student's server whose protocol is not known)
 */

/** What each line protocol's server says first when it is ready to serve. */
const GREETINGS = {
  smtp: { ready: /^220[ -]/, bye: 'QUIT\r\n' }, // RFC 5321 4.3.1
  ftp: { ready: /^220[ -]/, bye: 'QUIT\r\n' }, // RFC 959 5.4
  pop3: { ready: /^\+OK/, bye: 'QUIT\r\n' }, // RFC 1939 4
  imap: { ready: /^\* (?:OK|PREAUTH)\b/, bye: 'h LOGOUT\r\n' }, // RFC 9051 7.1.1
  ssh: { ready: /^SSH-2\.0-/, bye: '' }, // RFC 4253 4.2: other lines may come before it
} as const;

export type ProbeKind = 'tcp' | 'dns' | 'http' | keyof typeof GREETINGS;

export const PROBE_KINDS: readonly ProbeKind[] = ['tcp', 'dns', 'http', ...(Object.keys(GREETINGS) as (keyof typeof GREETINGS)[])];

export function isProbeKind(text: string | undefined): text is ProbeKind {
  return PROBE_KINDS.includes(text as ProbeKind);
}

/** The most a probe reads before it decides: a greeting or a status line is far shorter. */
const MAX_PROBE_BYTES = 4096;

/** The question a DNS probe asks: the lab zone's SOA, without recursion. */
export const PROBE_QUESTION: DnsQuestion = { name: 'lab.test', type: 'SOA', transport: 'udp', recursion: false };

/**
 * How a probe reaches the server. The defaults are plain sockets; the runner passes
 * its own, which record the attempt on the step's wire.
 */
export interface ProbeVia {
  ask?(server: Endpoint, question: DnsQuestion, signal: AbortSignal): Promise<unknown>;
  /** Open a connection; the probe closes it again. */
  connect?(server: Endpoint, signal: AbortSignal): Promise<net.Socket>;
}

/** Resolves when the server at `server` answers; rejects with why it does not (its `code`: ECONNREFUSED, ETIMEDOUT...). */
export async function isUp(kind: ProbeKind, server: Endpoint, signal: AbortSignal, via: ProbeVia = {}): Promise<void> {
  if (kind === 'dns') {
    try {
      await (via.ask ?? ((s, q, sig) => exchange(s, q, sig)))(server, PROBE_QUESTION, signal);
    } catch (err) {
      // A reply came, though not a good one: the server is up.
      if ((err as { code?: string }).code !== 'EPROTO') throw err;
    }
    return;
  }
  const socket = await (via.connect ?? openTcp)(server, signal);
  try {
    if (kind === 'tcp') return;
    if (kind === 'http') {
      socket.write(`GET / HTTP/1.1\r\nHost: ${server.host}\r\nConnection: close\r\n\r\n`);
      const line = await firstLine(socket, () => true, signal, server);
      if (!/^HTTP\/1\.[01] \d{3}\b/.test(line)) throw probeError(`${server.host}:${server.port} answered GET / with ${JSON.stringify(line.slice(0, 80))}, not an HTTP status line`, 'EPROTO');
      return;
    }
    const { ready, bye } = GREETINGS[kind];
    const line = await firstLine(socket, (l) => kind !== 'ssh' || l.startsWith('SSH-'), signal, server);
    if (!ready.test(line)) throw probeError(`${server.host}:${server.port} greeted with ${JSON.stringify(line.slice(0, 80))}, not a ${kind} server ready to serve`, 'EPROTO');
    if (bye) socket.write(bye); // a polite end, so the server logs a client that left, not one that vanished
  } finally {
    socket.end();
    socket.destroy();
  }
}

function probeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The first line from the server that `wanted` accepts (an SSH server may send other
 * lines before its version), without its line end; fails when the connection closes
 * first, or `signal` fires (ETIMEDOUT: the port took the connection, the server said nothing).
 */
function firstLine(socket: net.Socket, wanted: (line: string) => boolean, signal: AbortSignal, server: Endpoint): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err: Error | undefined, line?: string): void => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(line!);
    };
    const onAbort = (): void => finish(probeError(`${server.host}:${server.port} took the connection but said nothing in time`, 'ETIMEDOUT'));
    const onClose = (): void => finish(probeError(`${server.host}:${server.port} closed the connection before it answered`, 'ECONNRESET'));
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n')) {
        const line = text.slice(0, end).replace(/\r$/, '');
        text = text.slice(end + 1);
        if (wanted(line)) return finish(undefined, line);
      }
      if (text.length > MAX_PROBE_BYTES) finish(probeError(`${server.host}:${server.port} sent ${MAX_PROBE_BYTES} bytes without a line end`, 'EPROTO'));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', () => {}); // the close that follows says it
  });
}

/** The container health check: the service on 127.0.0.1:port, within `timeoutMs`. */
export function probe(kind: ProbeKind, port: number, timeoutMs = 2000): Promise<void> {
  return isUp(kind, { host: '127.0.0.1', port }, AbortSignal.timeout(timeoutMs));
}

/**
 * Open a TCP connection, or fail by the deadline: an Error with the socket's code
 * (ECONNREFUSED...), or ETIMEDOUT when `signal` fires first. What a probe does, and
 * what the runner's recorded connect (lab-runner/wire/tcp.ts) builds on.
 */
export function openTcp(server: Endpoint, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    const fail = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(Object.assign(new Error(`no connection to ${server.host}:${server.port} in time`), { code: 'ETIMEDOUT' }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.once('error', fail);
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', fail); // from now on, errors are the caller's to handle
      resolve(socket);
    });
  });
}
