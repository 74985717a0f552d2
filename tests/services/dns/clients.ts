/**
 * Real DNS clients for the DNS service tests: UDP (dgram), TCP (net) and dig. No mocks,
 * no sleeps: every wait is for an event (a reply, a 'close').
 */
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { decode, encode, type DecodedPacket, type Packet } from 'dns-packet';
import { createLogger } from '../../../services/common/logger';
import { frame, splitFrames } from '../../../services/dns/framing';
import { DnsServer, type DnsServerOptions } from '../../../services/dns/server';

export const LAB = path.join(__dirname, '..', '..', '..', 'lab');

export interface RunningServer {
  server: DnsServer;
  port: number;
  /** Every log line the server wrote. */
  lines: string[];
}

export async function startLab(options: Omit<DnsServerOptions, 'zoneDir' | 'zoneFiles' | 'log'> = {}): Promise<RunningServer> {
  const lines: string[] = [];
  const server = DnsServer.fromLab(LAB, { ...options, log: createLogger('dns', { sink: (line) => lines.push(line), level: 'debug' }) });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, lines };
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
  private waiting: Array<(message: Buffer) => void> = [];
  private taken = 0;

  constructor(private readonly port: number) {
    this.socket.on('message', (message) => {
      this.received.push(message);
      this.waiting.shift()?.(message);
    });
  }

  send(message: Buffer | Packet): void {
    this.socket.send(Buffer.isBuffer(message) ? message : encode(message), this.port, '127.0.0.1');
  }

  /** The next datagram that has not been taken yet. */
  next(): Promise<Buffer> {
    const index = this.taken++;
    if (index < this.received.length) return Promise.resolve(this.received[index]!);
    return new Promise((resolve) => this.waiting.push(resolve));
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

/** A TCP connection that cuts replies out of the stream with the server's own framing. */
export class TcpClient {
  readonly socket: net.Socket;
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  private pending: Buffer = Buffer.alloc(0);
  private readonly replies: Buffer[] = [];
  private waiting: Array<(message: Buffer) => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {}); // a reset by the server shows as 'close'
    socket.on('data', (chunk: Buffer) => {
      const { frames, rest } = splitFrames(Buffer.concat([this.pending, chunk]));
      this.pending = rest;
      for (const f of frames) {
        const waiter = this.waiting.shift();
        if (waiter) waiter(f);
        else this.replies.push(f);
      }
    });
  }

  static connect(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new TcpClient(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(packet: Packet): void {
    this.write(frame(encode(packet)));
  }

  next(): Promise<Buffer> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async ask(packet: Packet): Promise<DecodedPacket> {
    this.send(packet);
    return decode(await this.next());
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
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
export function dig(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=2', ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`dig ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
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
