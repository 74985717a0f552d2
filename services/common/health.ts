import net from 'node:net';
import { exchange, type DnsQuestion, type Endpoint } from './dnsClient';

/**
 * "Is it up?", answered once for all of wirelab: the container health check
 * (`node /app/dist/services/main.js health tcp 80`: the image has no shell and no
 * curl), the runner's `wait:` step, and the grader waiting for a student's server.
 *
 * A DNS server is up when it replies to a query: any reply, even one that does not
 * decode, since whether it is a good answer is for the scenarios to say. Any other
 * server is up when a TCP connection to it opens.
 */

export type ProbeKind = 'tcp' | 'dns';

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
  (await (via.connect ?? openTcp)(server, signal)).destroy();
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
