import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';

/**
 * A small DNS client: one question, over UDP or TCP. The runner's `dns:` executor and
 * the services that look names up (the SMTP relay asks for MX records) share it; an
 * `observe` hook lets the runner record every message on its wire.
 */

export type DecodedMessage = DecodedPacket & { rcode?: string; opcode?: string };

export interface Endpoint {
  host: string;
  port: number;
}

export interface DnsQuestion {
  name: string;
  type: RecordType;
  transport: 'udp' | 'tcp';
  /** The RD bit. An authoritative lab server ignores it; dig sets it by default. */
  recursion: boolean;
  /** Advertise EDNS(0) with this UDP payload size (RFC 6891). */
  edns?: number;
}

/** The two ends of the socket that carried a message, as the kernel numbers them: what a packet capture shows. */
export interface SocketEnds {
  local: { address: string; port: number };
  remote: { address: string; port: number };
}

/**
 * Called with each message as it leaves (`send`) or arrives (`recv`), decoded when it
 * decodes, with the ends of the socket that carried it.
 */
export type DnsObserver = (direction: 'send' | 'recv', bytes: Buffer, decoded: DecodedMessage | undefined, ends?: SocketEnds) => void;

export class DnsClientError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'DnsClientError';
  }
}

export interface DnsExchange {
  query: DecodedMessage;
  response: DecodedMessage;
  /** Bytes of the response message (without the TCP length prefix). */
  size: number;
}

export async function exchange(server: Endpoint, question: DnsQuestion, signal: AbortSignal, observe?: DnsObserver): Promise<DnsExchange> {
  const packet: dnsPacket.Packet = {
    type: 'query',
    id: randomInt(1, 65536),
    flags: question.recursion ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ type: question.type, name: question.name, class: 'IN' }],
    ...(question.edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: question.edns, flags: 0 } as dnsPacket.Answer] } : {}),
  };
  const bytes = dnsPacket.encode(packet);
  const query = dnsPacket.decode(bytes) as DecodedMessage;
  // The query is observed once its socket is bound (UDP) or connected (TCP): then its ends are known.
  // A query that never left (refused, timed out) is observed all the same, without ends.
  let ends: SocketEnds | undefined;
  let sent = false;
  const sending = (socketEnds: SocketEnds | undefined): void => {
    if (sent) return;
    sent = true;
    ends = socketEnds;
    observe?.('send', bytes, query, ends);
  };
  let reply: Buffer;
  try {
    reply = question.transport === 'udp' ? await overUdp(server, bytes, signal, sending) : await overTcp(server, bytes, signal, sending);
  } finally {
    sending(undefined);
  }
  let response: DecodedMessage;
  try {
    response = dnsPacket.decode(reply) as DecodedMessage;
  } catch (err) {
    observe?.('recv', reply, undefined, ends);
    throw new DnsClientError(`the reply from ${server.host}:${server.port} is not a DNS message: ${(err as Error).message}`, 'EPROTO');
  }
  observe?.('recv', reply, response, ends);
  if (response.id !== packet.id) throw new DnsClientError(`reply ID ${response.id} does not match query ID ${packet.id}`, 'EPROTO');
  return { query, response, size: reply.length };
}

/**
 * Ask as a resolver does: UDP first, and again over TCP when the answer came back
 * truncated (RFC 1035 4.2.1, RFC 7766).
 */
export async function lookup(server: Endpoint, name: string, type: RecordType, signal: AbortSignal, observe?: DnsObserver): Promise<DecodedMessage> {
  const udp = await exchange(server, { name, type, transport: 'udp', recursion: true }, signal, observe);
  if (!udp.response.flag_tc) return udp.response;
  return (await exchange(server, { name, type, transport: 'tcp', recursion: true }, signal, observe)).response;
}

function overUdp(server: Endpoint, bytes: Buffer, signal: AbortSignal, sending: (ends: SocketEnds | undefined) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (err: Error | null, reply?: Buffer): void => {
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const onAbort = (): void => done(new DnsClientError(`no DNS reply from ${server.host}:${server.port} over UDP in time`, 'ETIMEDOUT'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.on('error', (err) => done(err));
    // A reply from anyone but the server we asked is ignored, as a real resolver does.
    socket.on('message', (msg, from) => {
      if (from.port === server.port) done(null, msg);
    });
    // Bound first, so that the query's own port is known as it leaves. (Its address is
    // the wildcard, 0.0.0.0: the kernel picks the real one per datagram.)
    socket.bind(0, () => {
      if (signal.aborted) return;
      const local = socket.address();
      sending({ local: { address: local.address, port: local.port }, remote: { address: server.host, port: server.port } });
      socket.send(bytes, server.port, server.host);
    });
  });
}

function overTcp(server: Endpoint, bytes: Buffer, signal: AbortSignal, sending: (ends: SocketEnds | undefined) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    let received = Buffer.alloc(0);
    const done = (err: Error | null, reply?: Buffer): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const onAbort = (): void => done(new DnsClientError(`no DNS reply from ${server.host}:${server.port} over TCP in time`, 'ETIMEDOUT'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.on('error', (err: NodeJS.ErrnoException) => done(new DnsClientError(`cannot reach ${server.host}:${server.port}: ${err.message}`, err.code ?? 'ECONN')));
    socket.on('connect', () => {
      // RFC 1035 4.2.2: over TCP each message is preceded by its length in two bytes.
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(bytes.length);
      sending(
        socket.localAddress && socket.remoteAddress
          ? { local: { address: socket.localAddress, port: socket.localPort! }, remote: { address: socket.remoteAddress, port: socket.remotePort! } }
          : undefined,
      );
      socket.write(Buffer.concat([prefix, bytes]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        done(null, received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('end', () => done(new DnsClientError(`${server.host}:${server.port} closed the TCP connection without a full reply`, 'EPROTO')));
  });
}
