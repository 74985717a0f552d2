import net from 'node:net';
import { StepError } from './errors';
import { CLIENT, type Wire } from './recorder';
import type { Route } from './route';

/**
 * Open a TCP connection to a routed lab endpoint, recording the connect on the wire.
 * Refused and timed-out connections become StepErrors a student can read.
 */
export function connect(route: Route, wire: Wire, signal: AbortSignal, protocol: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(route.port, route.host);
    const fail = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new StepError(`connecting to ${route.label} timed out`, 'ETIMEDOUT'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      fail(
        err.code === 'ECONNREFUSED'
          ? new StepError(`connection refused by ${route.label}: nothing is listening there (is the service stopped?)`, 'ECONNREFUSED')
          : new StepError(`cannot connect to ${route.label}: ${err.message}`, err.code),
      );
    });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      recordConnect(wire, socket, { protocol, from: CLIENT, to: route.label, summary: `connect from port ${socket.localPort}` });
      resolve(socket);
    });
  });
}

/**
 * A connect event for a socket that has just connected, with both of its ends as the
 * kernel sees them (the real addresses and ports, not the lab names): what a packet
 * capture of the step shows, so a capture's flows can be matched to the steps.
 */
export function recordConnect(wire: Wire, socket: net.Socket, event: { protocol: string; from: string; to: string; summary: string }): void {
  const ends =
    socket.localAddress && socket.remoteAddress
      ? { local: { address: socket.localAddress, port: socket.localPort! }, remote: { address: socket.remoteAddress, port: socket.remotePort! } }
      : {};
  wire.record({ kind: 'connect', transport: 'tcp', ...event, ...ends });
}
