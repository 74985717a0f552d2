import net from 'node:net';
import type { FTPContext, FTPResponse } from 'basic-ftp';
import { FTP_ACTIVE_PORTS } from '../../wire';

/**
 * Active mode for basic-ftp, which only speaks passive mode. In active mode the
 * client listens and tells the server where (EPRT, RFC 2428, or PORT, RFC 959); the
 * server connects back once it has the transfer command. basic-ftp looks for its data
 * socket the moment the server answers 150 "opening data connection", which may come
 * before the server's connection arrives, so the next reply handler is wrapped to wait
 * for the connection first.
 */

type Handler = (res: Error | FTPResponse, task: unknown) => void;
type Handle = (command: string | undefined, handler: Handler) => Promise<FTPResponse>;

/** `onConnect` sees the server's connection as it arrives, and hands back the socket to use for the data (a TLS one under PROT P). */
export function activeMode(command: 'EPRT' | 'PORT', onConnect: (socket: net.Socket, ftp: FTPContext) => net.Socket) {
  return async (ftp: FTPContext): Promise<FTPResponse> => {
    const local = ftp.socket.localAddress;
    if (!local) throw new Error('the control connection is closed');
    const listener = await listenInRange(local);
    const port = (listener.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    const release = (): void => void listener.close();
    const argument = command === 'EPRT' ? `|${net.isIPv6(local) ? 2 : 1}|${local}|${port}|` : `${local.replace(/\./g, ',')},${port >> 8},${port & 255}`;
    let res: FTPResponse;
    try {
      res = await ftp.request(`${command} ${argument}`);
    } catch (err) {
      release();
      throw err;
    }
    // basic-ftp checks that a data socket exists before it sends the transfer command:
    // an unconnected placeholder, replaced by the real one as it arrives.
    ftp.dataSocket = new net.Socket();
    const context = ftp as unknown as { handle: Handle };
    const original = context.handle.bind(ftp);
    context.handle = (cmd, handler) => {
      context.handle = original; // only the next transfer
      return original(cmd, (reply, task) => {
        if (reply instanceof Error || (reply.code !== 150 && reply.code !== 125)) return handler(reply, task);
        accepted.then((socket) => {
          release();
          ftp.dataSocket = onConnect(socket, ftp);
          handler(reply, task);
        });
      });
    };
    return res;
  };
}

/**
 * Listen on the first free port of the lab's active-mode range (so that a capture's
 * filter covers the data connection), or on any free port when all are taken.
 */
async function listenInRange(host: string): Promise<net.Server> {
  const listen = (port: number): Promise<net.Server | undefined> =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, host, () => resolve(server));
    });
  for (let port = FTP_ACTIVE_PORTS.from; port <= FTP_ACTIVE_PORTS.to; port++) {
    const server = await listen(port);
    if (server) return server;
  }
  const any = await listen(0);
  if (!any) throw new Error(`cannot listen for the data connection on ${host}`);
  return any;
}
