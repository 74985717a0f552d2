import type net from 'node:net';
import { openTcp } from '../../services/common/health';
import { StepError } from './errors';
import { CLIENT, type Wire } from './recorder';
import type { Route } from './route';

/**
 * Open a TCP connection to a routed lab endpoint, recording the connect on the wire.
 * Refused and timed-out connections become StepErrors a student can read.
 */
export async function connect(route: Route, wire: Wire, signal: AbortSignal, protocol: string): Promise<net.Socket> {
  let socket: net.Socket;
  try {
    socket = await openTcp(route, signal);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (signal.aborted) throw new StepError(`connecting to ${route.label} timed out`, 'ETIMEDOUT');
    if (code === 'ECONNREFUSED') throw new StepError(`connection refused by ${route.label}: nothing is listening there (is the service stopped?)`, code);
    throw new StepError(`cannot connect to ${route.label}: ${(err as Error).message}`, code);
  }
  recordConnect(wire, socket, { protocol, from: CLIENT, to: route.label, summary: `connect from port ${socket.localPort}` });
  return socket;
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
