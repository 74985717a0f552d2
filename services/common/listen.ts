import type { AddressInfo } from 'node:net';

/**
 * A port that cannot be bound, explained for a person: which port, which service,
 * and what to do about it, instead of a bare `EADDRINUSE`.
 */
export class PortInUseError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(readonly service: string, readonly host: string, readonly port: number, readonly protocol: 'tcp' | 'udp' = 'tcp') {
    super(
      `${service}: port ${port}/${protocol} on ${host} is already in use. ` +
        `Another program (or another wirelab) holds it: find it with \`ss -lntup 'sport = :${port}'\` and stop it, ` +
        `or start the lab on free ports with \`wirelab up --free-ports\`.`,
    );
    this.name = 'PortInUseError';
  }
}

export class PortDeniedError extends Error {
  readonly code = 'EACCES';
  constructor(readonly service: string, readonly host: string, readonly port: number) {
    super(`${service}: not allowed to bind port ${port} on ${host}; ports below 1024 need privileges. Pick a port above 1023.`);
    this.name = 'PortDeniedError';
  }
}

/** What net.Server and dgram.Socket have in common for binding. */
interface Bindable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node's own listener type
  once(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  address(): AddressInfo | string | null;
}

/**
 * Bind a net.Server or dgram.Socket and resolve with its address, turning the
 * two common failures into errors that name the port and the service.
 */
export function bind(
  service: string,
  target: Bindable,
  start: () => void,
  host: string,
  port: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      target.removeListener('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(service, host, port, protocol));
      else if (err.code === 'EACCES') reject(new PortDeniedError(service, host, port));
      else reject(err);
    };
    const onListening = (): void => {
      target.removeListener('error', onError);
      resolve(target.address() as AddressInfo);
    };
    target.once('error', onError);
    target.once('listening', onListening);
    start();
  });
}
