import net from 'node:net';
import { StepError } from '../types';
import { CLIENT, type Wire } from '../wire';
import type { Route } from '../../backends/network';

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
      wire.record({ kind: 'connect', protocol, transport: 'tcp', from: CLIENT, to: route.label, summary: `connect from port ${socket.localPort}` });
      resolve(socket);
    });
  });
}
