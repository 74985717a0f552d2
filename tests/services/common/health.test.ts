import type dgram from 'node:dgram';
import { isUp } from '../../../services/common/health';
import { createLogger } from '../../../services/common/logger';
import { DnsServer } from '../../../services/dns/server';
import { built, LAB_DIR } from '../../helpers/paths';
import { run } from '../../helpers/process';
import { bindUdp, listenTcp } from '../../helpers/socket';

/**
 * "Is it up?", the one answer the container health check, the runner's `wait:` step
 * and the grader share: real sockets on 127.0.0.1, bound to port 0.
 */

const quiet = createLogger('dns', { sink: () => {} });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function udpServer(onMessage: (socket: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo) => void): Promise<number> {
  const udp = await bindUdp();
  udp.socket.on('message', (msg, from) => onMessage(udp.socket, msg, from));
  closers.push(() => udp.close());
  return udp.port;
}

test('the lab DNS is up: it answers the SOA query', async () => {
  const dns = DnsServer.fromLab(LAB_DIR, { log: quiet });
  const { port } = await dns.listen(0, '127.0.0.1');
  closers.push(() => dns.close());
  await expect(isUp('dns', { host: '127.0.0.1', port }, AbortSignal.timeout(2000))).resolves.toBeUndefined();
});

test('a DNS server that replies with something undecodable is still up: the scenarios say what is wrong', async () => {
  const port = await udpServer((socket, _msg, from) => socket.send(Buffer.from('not dns'), from.port, from.address));
  await expect(isUp('dns', { host: '127.0.0.1', port }, AbortSignal.timeout(2000))).resolves.toBeUndefined();
});

test('a DNS server that says nothing is not up, and the reason says so', async () => {
  const port = await udpServer(() => {});
  await expect(isUp('dns', { host: '127.0.0.1', port }, AbortSignal.timeout(200))).rejects.toMatchObject({ code: 'ETIMEDOUT', message: expect.stringContaining(`127.0.0.1:${port}`) });
});

test('a TCP server is up when a connection opens; a closed port is refused', async () => {
  const server = await listenTcp((socket) => socket.destroy());
  const { port } = server;
  await expect(isUp('tcp', { host: '127.0.0.1', port }, AbortSignal.timeout(2000))).resolves.toBeUndefined();
  await server.close();
  await expect(isUp('tcp', { host: '127.0.0.1', port }, AbortSignal.timeout(2000))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('the container health check (`main.js health dns PORT`) exits 0 when up, 1 with the reason when not', async () => {
  const dns = DnsServer.fromLab(LAB_DIR, { log: quiet });
  const { port } = await dns.listen(0, '127.0.0.1');
  const main = built('services/main.js');
  expect(await run(process.execPath, [main, 'health', 'dns', String(port)])).toMatchObject({ code: 0 });
  await dns.close();
  const down = await run(process.execPath, [main, 'health', 'tcp', String(port)]);
  expect(down).toMatchObject({ code: 1, stderr: expect.stringMatching(/^unhealthy: .*ECONNREFUSED/) });
});
