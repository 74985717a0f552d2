import type dgram from 'node:dgram';
import { isUp } from '../../../services/common/health';
import { createLogger } from '../../../services/common/logger';
import { DnsServer } from '../../../services/dns/server';
import { built, LAB_DIR } from '../../helpers/paths';
import { run } from '../../helpers/process';
import { bindUdp, listenTcp } from '../../helpers/socket';
import { startLab } from '../../helpers/lab';

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

describe('a probe talks the protocol: a server whose port takes connections but that cannot serve is not up', () => {
  let lab: Awaited<ReturnType<typeof startLab>>;
  beforeAll(async () => {
    lab = await startLab({ only: ['dns', 'http', 'app', 'proxy', 'smtp', 'pop3', 'imap', 'ftp', 'sftp'] });
  });
  afterAll(() => lab?.stop());

  /** The port of a lab service, from its endpoint `127.0.0.1:PORT`. */
  const portOf = (service: string): number => {
    const status = lab.backend.status().find((s) => s.name === service)!;
    return Number(Object.values(status.endpoints)[0]!.split(':').pop());
  };

  test.each([
    ['http', 'http'],
    ['proxy', 'http'],
    ['app', 'http'],
    ['smtp', 'smtp'],
    ['pop3', 'pop3'],
    ['imap', 'imap'],
    ['ftp', 'ftp'],
    ['sftp', 'ssh'],
  ] as const)('the lab %s is up to `health %s`, as its container checks it', async (service, kind) => {
    const main = built('services/main.js');
    expect(await run(process.execPath, [main, 'health', kind, String(portOf(service))])).toMatchObject({ code: 0, stderr: '' });
  });

  test.each(['http', 'smtp', 'pop3', 'imap', 'ftp', 'ssh'] as const)('a port that accepts and says nothing (a stopped process) is up to tcp, not to %s', async (kind) => {
    const silent = await listenTcp();
    closers.push(() => silent.close());
    const server = { host: '127.0.0.1', port: silent.port };
    await expect(isUp('tcp', server, AbortSignal.timeout(2000))).resolves.toBeUndefined();
    await expect(isUp(kind, server, AbortSignal.timeout(300))).rejects.toMatchObject({ code: 'ETIMEDOUT', message: expect.stringContaining('took the connection but said nothing in time') });
  });

  test('a greeting that refuses (421 busy, -ERR) is not up; another protocol on the port is not up either', async () => {
    const busy = await listenTcp((socket) => socket.end('421 4.3.2 too busy\r\n'));
    closers.push(() => busy.close());
    await expect(isUp('smtp', { host: '127.0.0.1', port: busy.port }, AbortSignal.timeout(2000))).rejects.toMatchObject({ code: 'EPROTO', message: expect.stringContaining('"421 4.3.2 too busy"') });
    await expect(isUp('pop3', { host: '127.0.0.1', port: portOf('smtp') }, AbortSignal.timeout(2000))).rejects.toMatchObject({ code: 'EPROTO' });
    await expect(isUp('http', { host: '127.0.0.1', port: portOf('ftp') }, AbortSignal.timeout(2000))).rejects.toMatchObject({ code: 'EPROTO' });
  });

  test('`main.js health` names the kinds it knows', async () => {
    const result = await run(process.execPath, [built('services/main.js'), 'health', 'gopher', '70']);
    expect(result).toMatchObject({ code: 2, stderr: 'usage: health tcp|dns|http|smtp|ftp|pop3|imap|ssh PORT\n' });
  });
});
