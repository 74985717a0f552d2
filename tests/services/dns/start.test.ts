/**
 * Starting and stopping the DNS service: a broken zone file stops the start with its
 * file and line; a port in use is named; UDP and TCP share one port.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, silentSink } from '../../../services/common/logger';
import { PortInUseError } from '../../../services/common/listen';
import { DnsServer } from '../../../services/dns/server';
import { ZoneFileError } from '../../../services/dns/zonefile';
import { LAB_DIR } from '../../helpers/paths';
import { bindUdp, listenTcp } from '../../helpers/socket';
import { query, tcpQuery, udpQuery } from './clients';

const log = createLogger('dns', { sink: silentSink });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-dns-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GOOD = ['$TTL 60', '@ SOA ns hostmaster 1 2 3 4 5', '  NS ns', 'ns A 10.0.0.53', 'www A 10.0.0.80', ''].join('\n');

test('a zone file error: listen() rejects with the file and the line', async () => {
  const zones = path.join(dir, 'broken', 'zones');
  await mkdir(zones, { recursive: true });
  await writeFile(path.join(zones, 'good.test.zone'), GOOD);
  await writeFile(path.join(zones, 'broken.test.zone'), [...GOOD.split('\n').slice(0, 5), '@ MX mail', ''].join('\n'));
  const server = DnsServer.fromLab(path.join(dir, 'broken'), { log });
  const err: unknown = await server.listen(0).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ZoneFileError);
  const zoneError = err as ZoneFileError;
  expect(zoneError.file.endsWith(path.join('zones', 'broken.test.zone'))).toBe(true);
  expect(zoneError.line).toBe(6);
  expect(zoneError.message).toBe(`${zoneError.file}:6: MX needs a preference and an exchange, got "mail"`);
  await server.close();
});

test('zoneFiles: the origin comes from the file name; UDP and TCP answer on the same port', async () => {
  const file = path.join(dir, 'files.test.zone');
  await writeFile(file, GOOD);
  const server = new DnsServer({ zoneFiles: [file], log });
  const address = await server.listen(0, '127.0.0.1');
  try {
    expect(address.address).toBe('127.0.0.1');
    const udp = await udpQuery(address.port, query('www.files.test', 'A'));
    const tcp = await tcpQuery(address.port, query('www.files.test', 'A'));
    expect([udp.answers![0]!.name, tcp.answers![0]!.name]).toEqual(['www.files.test', 'www.files.test']);
  } finally {
    await server.close();
  }
});

test('a UDP port in use: PortInUseError naming dns and the port', async () => {
  const holder = await bindUdp();
  const port = holder.port;
  const server = new DnsServer({ zoneDir: path.join(LAB_DIR, 'zones'), log });
  try {
    const err: unknown = await server.listen(port, '127.0.0.1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect(err).toMatchObject({ service: 'dns', port, protocol: 'udp' });
  } finally {
    await holder.close();
    await server.close();
  }
});

test('a TCP port in use: PortInUseError for tcp, and the UDP socket is let go', async () => {
  const holder = await listenTcp();
  const port = holder.port;
  const server = new DnsServer({ zoneDir: path.join(LAB_DIR, 'zones'), log });
  try {
    const err: unknown = await server.listen(port, '127.0.0.1').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'PortInUseError', service: 'dns', port, protocol: 'tcp' });
    // The UDP side was closed again: the port can be bound by someone else.
    await (await bindUdp(port)).close();
  } finally {
    await holder.close();
  }
});

test('close() before listen() and twice is harmless', async () => {
  const server = new DnsServer({ zoneDir: path.join(LAB_DIR, 'zones'), log });
  await server.close();
  await server.listen(0);
  await server.close();
  await server.close();
});
