import net from 'node:net';
import { exchange } from './dnsClient';

/**
 * The container health check (`node /app/dist/services/main.js health tcp 80`): the
 * image has no shell and no curl, so node itself asks the service on 127.0.0.1.
 * DNS is healthy when it answers a query; the others when a TCP connection opens.
 */
export async function probe(kind: 'tcp' | 'dns', port: number, timeoutMs = 2000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  if (kind === 'dns') {
    await exchange({ host: '127.0.0.1', port }, { name: 'lab.test', type: 'SOA', transport: 'udp', recursion: false }, signal);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    signal.addEventListener('abort', () => fail(new Error(`no connection to 127.0.0.1:${port} in ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}
