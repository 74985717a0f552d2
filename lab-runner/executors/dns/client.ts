import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';
import { CLIENT, type Wire } from '../wire';
import { StepError } from '../types';
import { formatMessage, summarize, type Decoded } from './format';

/**
 * A small DNS client: one question, over UDP or TCP, with every message recorded on
 * the wire. The runner resolves lab names with it too, so a lookup shows in the
 * transcript like any other exchange.
 */

export interface Endpoint {
  host: string;
  port: number;
}

export interface DnsQuery {
  name: string;
  type: RecordType;
  transport: 'udp' | 'tcp';
  /** The RD bit. An authoritative lab server ignores it; dig sets it by default. */
  recursion: boolean;
  /** Advertise EDNS(0) with this UDP payload size (RFC 6891). */
  edns?: number;
}

export interface DnsExchange {
  query: Decoded;
  response: Decoded;
  /** Bytes of the response message (without the TCP length prefix). */
  size: number;
}

export async function exchange(
  server: Endpoint,
  serverLabel: string,
  query: DnsQuery,
  wire: Wire,
  signal: AbortSignal,
): Promise<DnsExchange> {
  const packet: dnsPacket.Packet = {
    type: 'query',
    id: randomInt(1, 65536),
    flags: query.recursion ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ type: query.type, name: query.name, class: 'IN' }],
    ...(query.edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: query.edns, flags: 0 } as dnsPacket.Answer] } : {}),
  };
  const bytes = dnsPacket.encode(packet);
  const decodedQuery = dnsPacket.decode(bytes) as Decoded;
  const common = { protocol: 'dns', transport: query.transport } as const;
  wire.record({ ...common, kind: 'send', from: CLIENT, to: serverLabel, summary: summarize(decodedQuery), text: formatMessage(decodedQuery), bytes });
  const reply = query.transport === 'udp' ? await overUdp(server, bytes, signal) : await overTcp(server, bytes, signal);
  let response: Decoded;
  try {
    response = dnsPacket.decode(reply) as Decoded;
  } catch (err) {
    wire.record({ ...common, kind: 'recv', from: serverLabel, to: CLIENT, summary: 'undecodable reply', bytes: reply });
    throw new StepError(`the reply from ${serverLabel} is not a DNS message: ${(err as Error).message}`);
  }
  wire.record({ ...common, kind: 'recv', from: serverLabel, to: CLIENT, summary: summarize(response), text: formatMessage(response), bytes: reply });
  if (response.id !== packet.id) throw new StepError(`reply ID ${response.id} does not match query ID ${packet.id}`);
  return { query: decodedQuery, response, size: reply.length };
}

function overUdp(server: Endpoint, bytes: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (err: Error | null, reply?: Buffer): void => {
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const onAbort = (): void => done(new StepError(`no DNS reply from ${server.host}:${server.port} over UDP in time`, 'ETIMEDOUT'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.on('error', (err) => done(err));
    // A reply from anyone but the server we asked is ignored, as a real resolver does.
    socket.on('message', (msg, from) => {
      if (from.port === server.port) done(null, msg);
    });
    socket.send(bytes, server.port, server.host);
  });
}

function overTcp(server: Endpoint, bytes: Buffer, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    let received = Buffer.alloc(0);
    const done = (err: Error | null, reply?: Buffer): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const onAbort = (): void => done(new StepError(`no DNS reply from ${server.host}:${server.port} over TCP in time`, 'ETIMEDOUT'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.on('error', (err) => done(err));
    socket.on('connect', () => {
      // RFC 1035 4.2.2: over TCP each message is preceded by its length in two bytes.
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(bytes.length);
      socket.write(Buffer.concat([prefix, bytes]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        done(null, received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('end', () => done(new StepError(`${server.host}:${server.port} closed the TCP connection without a full reply`)));
  });
}
