/**
 * Real DNS clients for the DNS service tests: UDP (dgram), TCP (a RawSocket that cuts
 * the stream into messages) and dig. No mocks, no sleeps: every wait is for an event (a
 * reply, a 'close'), with a deadline.
 */
import dgram from 'node:dgram';
import { decode, encode, type DecodedPacket, type Packet } from 'dns-packet';
import { createLogger } from '../../../services/common/logger';
import { frame, splitFrames } from '../../../services/dns/framing';
import { DnsServer, type DnsServerOptions } from '../../../services/dns/server';
import { LogCollector } from '../../helpers/logs';
import path from 'node:path';
import { startNsd, type Daemon } from '../../helpers/daemons';
import { LAB_DIR } from '../../helpers/paths';
import { run } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { within, type WaitOptions } from '../../helpers/wait';

export interface RunningServer {
  server: DnsServer;
  port: number;
  /** Every log line the server wrote. */
  logs: LogCollector;
}

export async function startLab(options: Omit<DnsServerOptions, 'zoneDir' | 'zoneFiles' | 'log'> = {}): Promise<RunningServer> {
  const logs = new LogCollector();
  const server = DnsServer.fromLab(LAB_DIR, { ...options, log: createLogger('dns', { sink: logs.sink, level: 'debug' }) });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, logs };
}

/**
 * The lab's DNS server and, as the reference, NSD (an authoritative server, on loopback,
 * with a copy of lab/zones/lab.test.zone): started before a file's tests, stopped after.
 */
export function labAndNsd(): { readonly lab: RunningServer; readonly nsd: Daemon } {
  const servers = {} as { lab: RunningServer; nsd: Daemon };
  beforeAll(async () => {
    servers.lab = await startLab();
    servers.nsd = await startNsd({ 'lab.test': path.join(LAB_DIR, 'zones', 'lab.test.zone') });
  });
  afterAll(async () => {
    await servers.lab?.server.close();
    await servers.nsd?.stop();
  });
  return servers;
}

export function query(name: string, type: string, extra: Partial<Packet> = {}): Packet {
  return { id: Math.floor(Math.random() * 0xffff), type: 'query', flags: 0, questions: [{ name, type: type as 'A', class: 'IN' }], ...extra };
}

/** An EDNS OPT record announcing `size` bytes. */
export function edns(size: number): Packet['additionals'] {
  return [{ name: '.', type: 'OPT', udpPayloadSize: size, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
}

/** A UDP socket that queues every datagram it receives. */
export class UdpClient {
  readonly received: Buffer[] = [];
  private readonly socket = dgram.createSocket('udp4');
  private readonly wakers = new Set<() => void>();
  private taken = 0;

  constructor(private readonly port: number) {
    this.socket.on('message', (message) => {
      this.received.push(message);
      for (const wake of [...this.wakers]) wake();
    });
  }

  send(message: Buffer | Packet): void {
    this.socket.send(Buffer.isBuffer(message) ? message : encode(message), this.port, '127.0.0.1');
  }

  /** The next datagram that has not been taken yet, within the deadline. */
  next(options: WaitOptions = {}): Promise<Buffer> {
    const index = this.taken++;
    let look!: () => void;
    const arrived = new Promise<Buffer>((resolve) => {
      look = () => {
        if (index < this.received.length) resolve(this.received[index]!);
      };
    });
    this.wakers.add(look);
    look();
    return within(arrived, `datagram #${index + 1} from 127.0.0.1:${this.port} (UDP)`, { ms: options.ms, seen: () => `${this.received.length} datagram(s) came` }).finally(() =>
      this.wakers.delete(look),
    );
  }

  async ask(packet: Packet): Promise<DecodedPacket> {
    this.send(packet);
    return decode(await this.next());
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export async function udpQuery(port: number, packet: Packet): Promise<DecodedPacket> {
  const client = new UdpClient(port);
  try {
    return await client.ask(packet);
  } finally {
    await client.close();
  }
}

/** A TCP connection that cuts replies out of the stream with the server's own framing (RFC 1035 4.2.2). */
export class TcpClient extends RawSocket {
  send(packet: Packet): void {
    this.write(frame(encode(packet)));
  }

  /** The next whole message (without its length prefix). */
  next(options: WaitOptions = {}): Promise<Buffer> {
    return this.read(
      'a DNS message (a length prefix and that many octets)',
      (unread) => {
        const { frames } = splitFrames(unread);
        const first = frames[0];
        return first && { value: first, length: first.length + 2 };
      },
      options,
    );
  }

  async ask(packet: Packet): Promise<DecodedPacket> {
    this.send(packet);
    return decode(await this.next());
  }

  close(): Promise<void> {
    this.destroy();
    return this.closed();
  }
}

export async function tcpQuery(port: number, packet: Packet): Promise<DecodedPacket> {
  const client = await TcpClient.connect(port);
  try {
    return await client.ask(packet);
  } finally {
    await client.close();
  }
}

/** Run dig against the test server; resolves with its output. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const result = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=2', ...args]);
  if (result.code !== 0) throw new Error(`dig ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** dig's header: `status: NOERROR` and the flags, e.g. ['qr', 'aa']. */
export function digHeader(output: string): { status: string; flags: string[]; answers: number } {
  const status = /status: (\w+)/.exec(output)?.[1] ?? '';
  const flagsLine = /;; flags: ([^;]*);.*ANSWER: (\d+)/.exec(output);
  return { status, flags: flagsLine ? flagsLine[1]!.trim().split(/\s+/) : [], answers: Number(flagsLine?.[2] ?? NaN) };
}

/** The records of one section of dig's output, e.g. 'ANSWER', as lines split on whitespace. */
export function digSection(output: string, section: 'ANSWER' | 'AUTHORITY' | 'ADDITIONAL'): string[][] {
  const match = new RegExp(`;; ${section} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(output);
  if (!match) return [];
  return match[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/));
}
