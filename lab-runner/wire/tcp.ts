import type net from 'node:net';
import { openTcp } from '../../services/common/health';
import { StepError } from './errors';
import { CLIENT, type SocketAddress, type Wire } from './recorder';
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
    // The attempt is on the wire too (a SYN, answered by a RST or by nothing): where it went, for --capture.
    const failed = signal.aborted ? 'no answer to the connection request' : code === 'ECONNREFUSED' ? 'connection refused' : `connection failed (${code ?? 'error'})`;
    wire.record({ kind: 'note', protocol, transport: 'tcp', from: CLIENT, to: route.label, summary: failed, remote: { address: route.host, port: route.port } });
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
  wire.record({ kind: 'connect', transport: 'tcp', ...event, ...socketEnds(socket) });
}

/** A connected socket's two ends as the kernel numbers them (empty once it is closed). */
export function socketEnds(socket: net.Socket): { local?: SocketAddress; remote?: SocketAddress } {
  return socket.localAddress && socket.remoteAddress
    ? { local: { address: socket.localAddress, port: socket.localPort! }, remote: { address: socket.remoteAddress, port: socket.remotePort! } }
    : {};
}

/**
 * Where each message starts in the byte stream of its direction, for the transcript's
 * `offset`: counted as messages are sent and received, with the connection's ends.
 */
export class StreamOffsets {
  private sent = 0;
  private received = 0;
  readonly ends: { local?: SocketAddress; remote?: SocketAddress };

  constructor(socket: net.Socket) {
    this.ends = socketEnds(socket);
  }

  /** The fields of a send or recv event of `length` bytes, and the count moved on past them. */
  next(kind: 'send' | 'recv', length: number): { local?: SocketAddress; remote?: SocketAddress; offset: number } {
    const offset = kind === 'send' ? this.sent : this.received;
    if (kind === 'send') this.sent += length;
    else this.received += length;
    return { ...this.ends, offset };
  }
}
