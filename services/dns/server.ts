import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { decode, encode, type OptAnswer, type Packet } from 'dns-packet';
import { bind, PortInUseError } from '../common/listen';
import { BoundedCache } from '../common/cache';
import { connectionId, createLogger, type Fields, type Logger } from '../common/logger';
import { endSocket } from '../common/sessions';
import { defaultLabDir } from '../common/paths';
import { HEADER_SIZE, RCODE, rcodeName, rcodeOf } from './codes';
import { frame, splitFrames } from './framing';
import { loadZones } from './loadZones';
import { className, echoQuestion, questionAsSent } from './question';
import { LAB_PREFIX, renumber } from './renumber';
import { truncate, udpPayloadLimit } from './truncate';
import { DEFAULT_EDNS_PAYLOAD, answer, headerOnlyReply } from './zone';
import type { Zone } from './zonefile';

/**
 * The lab's authoritative DNS server: answers for the names in its zone files, over
 * UDP and TCP on the same port (RFC 1035 4.2, RFC 7766), and refuses everything else.
 *
 * The answers themselves come from answer() in zone.ts; this file is the transport:
 * reading datagrams and TCP streams, size limits, and never crashing on bad input.
 */

export interface DnsServerOptions {
  /** Zone files to serve. Default: every *.zone file of `zoneDir`. */
  zoneFiles?: string[];
  /** A folder of zone files (`lab.test.zone` serves lab.test). Default: `zones/` of the lab folder (defaultLabDir()), unless zoneFiles is given. */
  zoneDir?: string;
  /** The TTL of records that give none, for zone files without $TTL. Default: none (such a record is an error). */
  defaultTtl?: number;
  /** Default: createLogger('dns'). */
  log?: Logger;
  /**
   * The largest UDP answer, in bytes, when the client's EDNS OPT record allows more than
   * 512 (RFC 6891 6.2.5). Default 1232: fits in one IPv6 packet without fragmentation.
   */
  maxUdpPayload?: number;
  /**
   * A TCP connection that sends nothing for this long is closed (RFC 7766 6.2.3). This
   * also ends a connection whose length prefix promises bytes that never come. Default 5000.
   */
  tcpIdleTimeoutMs?: number;
  /** The lab network's first three octets: zones written for 172.28.0.0/24 are moved there. Default: 172.28.0 (no change). */
  labPrefix?: string;
  /** Open TCP connections at most; a connection over the limit is closed at once and logged. Default 100. */
  maxTcpConnections?: number;
  /** The longest query accepted over TCP, in bytes; a bigger length prefix closes the connection. Default 16384. */
  maxTcpMessage?: number;
  /** Answers kept, to be sent again for the same question without working it out anew; 0 keeps none. Default 10000. */
  maxCachedAnswers?: number;
}

export const DNS_SERVER_DEFAULTS = {
  maxUdpPayload: DEFAULT_EDNS_PAYLOAD,
  tcpIdleTimeoutMs: 5000,
  maxTcpConnections: 100,
  maxTcpMessage: 16 * 1024,
  maxCachedAnswers: 10_000,
};

/** A DNS message over TCP can be 65535 bytes long (RFC 1035 4.2.2): no truncation there. */
const MAX_TCP_REPLY = 0xffff;
/** With port 0, how often to try to find a port free for both UDP and TCP. */
const BIND_ATTEMPTS = 5;

/** Who sent a message, for the log: `client=127.0.0.1:53011 transport=udp`, and `conn=c7` over TCP. */
interface Peer {
  client: string;
  transport: 'udp' | 'tcp';
  conn?: string;
}

export class DnsServer {
  private readonly log: Logger;
  private readonly limits: typeof DNS_SERVER_DEFAULTS;
  private zones: Zone[] = [];
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly connections = new Set<net.Socket>();
  /**
   * Answers already worked out, by the query's bytes after its ID (flags, question, EDNS)
   * and the transport (which decides truncation): the same query gets the same answer,
   * with its own ID, until the zones change. Only answers are kept, never errors.
   */
  private readonly answers: BoundedCache<string, { wire: Buffer; fields: Fields }>;

  constructor(private readonly options: DnsServerOptions = {}) {
    this.log = options.log ?? createLogger('dns');
    this.limits = {
      maxUdpPayload: options.maxUdpPayload ?? DNS_SERVER_DEFAULTS.maxUdpPayload,
      tcpIdleTimeoutMs: options.tcpIdleTimeoutMs ?? DNS_SERVER_DEFAULTS.tcpIdleTimeoutMs,
      maxTcpConnections: options.maxTcpConnections ?? DNS_SERVER_DEFAULTS.maxTcpConnections,
      maxTcpMessage: options.maxTcpMessage ?? DNS_SERVER_DEFAULTS.maxTcpMessage,
      maxCachedAnswers: options.maxCachedAnswers ?? DNS_SERVER_DEFAULTS.maxCachedAnswers,
    };
    this.answers = new BoundedCache(this.limits.maxCachedAnswers);
  }

  /** A server for the zones of a lab folder: `${labDir}/zones/*.zone`. */
  static fromLab(labDir: string, options: Omit<DnsServerOptions, 'zoneDir' | 'zoneFiles'> = {}): DnsServer {
    return new DnsServer({ ...options, zoneDir: path.join(labDir, 'zones') });
  }

  /**
   * Load the zones, then bind UDP and TCP on the same port. Rejects with a
   * ZoneFileError (file and line) if a zone file is wrong: the server does not start
   * with half its data. Resolves with the bound address (port 0 picks a free port).
   */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.udp) throw new Error('dns: already listening');
    const { zoneFiles, zoneDir } = this.options;
    const zones = await loadZones({
      zoneFiles,
      zoneDir: zoneDir ?? (zoneFiles ? undefined : path.join(defaultLabDir(), 'zones')),
      defaultTtl: this.options.defaultTtl,
    });
    this.zones = zones.map((z) => renumber(z, LAB_PREFIX, this.options.labPrefix ?? LAB_PREFIX));
    this.answers.clear(); // answers of other zones are no answers now
    for (const zone of this.zones) this.log.info('zone loaded', { zone: zone.origin, records: zone.records.length, file: zone.file });

    const address = await this.bindUdpAndTcp(port, host);
    this.log.info('listening', { host: address.address, port: address.port, transport: 'udp+tcp' });
    return address;
  }

  /** Stop both listeners and close open TCP connections. */
  async close(): Promise<void> {
    const { udp, tcp } = this;
    this.udp = undefined;
    this.tcp = undefined;
    // A TCP client gets the answer being written, then FIN (a query still arriving is cut after HANGUP_GRACE_MS).
    for (const socket of this.connections) endSocket(socket);
    await Promise.all([
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  /**
   * DNS uses one port number for both transports. With port 0, UDP picks a free port
   * and TCP takes the same number; if TCP finds it taken, try again with a new one.
   */
  private async bindUdpAndTcp(port: number, host: string): Promise<AddressInfo> {
    for (let attempt = 1; ; attempt++) {
      const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      const address = await bind('dns', udp, () => udp.bind(port, host), host, port, 'udp').catch((err: unknown) => {
        udp.close();
        throw err;
      });
      const tcp = net.createServer((socket) => this.onTcpConnection(socket));
      try {
        await bind('dns', tcp, () => tcp.listen(address.port, host), host, address.port, 'tcp');
      } catch (err) {
        udp.close();
        if (port === 0 && err instanceof PortInUseError && attempt < BIND_ATTEMPTS) continue;
        throw err;
      }
      udp.on('message', (message, remote) => this.onUdpMessage(message, remote));
      udp.on('error', (err) => this.log.error('udp socket error', { error: err.message }));
      tcp.on('error', (err) => this.log.error('tcp server error', { error: err.message }));
      this.udp = udp;
      this.tcp = tcp;
      return address;
    }
  }

  // -------------------------------------------------------------------------
  // UDP: one datagram, one query, one reply (RFC 1035 4.2.1)

  private onUdpMessage(message: Buffer, remote: dgram.RemoteInfo): void {
    const client = `${remote.address}:${remote.port}`;
    const reply = this.respond(message, { client, transport: 'udp' });
    if (!reply) return;
    this.udp?.send(reply, remote.port, remote.address, (err) => {
      if (err) this.log.warn('reply not sent', { client, error: err.message });
    });
  }

  // -------------------------------------------------------------------------
  // TCP: each message has a 2-byte length in front, and one connection can carry
  // several queries, answered in order (RFC 1035 4.2.2, RFC 7766 6.2.1).

  private onTcpConnection(socket: net.Socket): void {
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    const fields: Peer = { client, transport: 'tcp', conn: connectionId() };
    if (this.connections.size >= this.limits.maxTcpConnections) {
      this.log.warn('connection refused', { ...fields, reason: 'too many TCP connections', limit: this.limits.maxTcpConnections });
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', (err) => this.log.debug('connection error', { ...fields, error: err.message }));

    let pending: Buffer = Buffer.alloc(0);
    // RFC 7766 6.2.3: close idle connections, so a client cannot hold one forever; the
    // same timer ends a connection whose length prefix promises more than ever arrives.
    socket.setTimeout(this.limits.tcpIdleTimeoutMs);
    socket.on('timeout', () => {
      if (pending.length > 0) this.log.warn('connection closed', { ...fields, reason: 'incomplete message', bytes: pending.length });
      else this.log.debug('connection closed', { ...fields, reason: 'idle' });
      socket.destroy();
    });

    socket.on('data', (chunk: Buffer) => {
      pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      const { frames, rest, oversized } = splitFrames(pending, this.limits.maxTcpMessage);
      pending = rest;
      for (const message of frames) {
        const reply = this.respond(message, fields);
        // A client that sends faster than it reads: stop reading until it catches up.
        if (reply && !socket.write(frame(reply))) socket.pause();
      }
      if (oversized) {
        this.log.warn('connection closed', { ...fields, reason: 'length prefix over maxTcpMessage', length: rest.readUInt16BE(0), limit: this.limits.maxTcpMessage });
        socket.destroy();
      }
    });
    socket.on('drain', () => socket.resume());
  }

  // -------------------------------------------------------------------------
  // The one reply path, for both transports: bytes in, bytes out (or nothing).

  private respond(message: Buffer, peer: Peer): Buffer | undefined {
    if (message.length < HEADER_SIZE) {
      // Not even a header: no ID to answer to, so nothing to send.
      this.log.warn('dropped', { ...peer, reason: 'shorter than a DNS header', bytes: message.length });
      return undefined;
    }
    if (message[2]! & 0x80) {
      // QR is set: this is a response, not a query. Answering it could start a loop.
      this.log.warn('dropped', { ...peer, reason: 'a response, not a query', bytes: message.length });
      return undefined;
    }

    const key = peer.transport + message.toString('latin1', 2);
    const known = this.answers.get(key);
    if (known) {
      const wire = Buffer.from(known.wire);
      message.copy(wire, 0, 0, 2); // the ID of this query (RFC 1035 4.1.1)
      this.log.info('query', { client: peer.client, transport: peer.transport, ...known.fields, conn: peer.conn });
      return wire;
    }

    let query: Packet;
    let asSent: Buffer | undefined;
    try {
      query = decode(message);
      // The counts in the header say where the message ends (RFC 1035 4.1.1). Bytes after
      // the last section are not part of any record: the message is malformed, and BIND
      // answers it FORMERR ("trailing garbage"), as this server does.
      const after = message.length - decode.bytes;
      if (after > 0) throw new Error(`${after} byte(s) after the last section`);
      // The reply repeats the question, and a resolver accepts it only if it matches what
      // it sent (RFC 1035 7.3, RFC 5452 3). Check that the question survives decoding:
      // bytes that are not UTF-8 text or a dot inside a label would not (question.ts).
      asSent = questionAsSent(query, message);
      if (!asSent) throw new Error('the question would not be echoed exactly as sent');
    } catch (err) {
      this.log.warn('malformed', { ...peer, bytes: message.length, error: errorMessage(err), rcode: 'FORMERR' });
      return encode(headerOnlyReply(message, RCODE.FORMERR));
    }

    try {
      const response = answer(query, this.zones, { udpPayloadSize: this.limits.maxUdpPayload });
      const limit = peer.transport === 'udp' ? udpPayloadLimit(query, this.limits.maxUdpPayload) : MAX_TCP_REPLY;
      let wire = encode(response);
      const truncated = wire.length > limit;
      const sent = truncated ? truncate(response) : response;
      if (truncated) wire = encode(sent);
      // The question goes back byte for byte, a class dns-packet cannot encode included.
      if (sent.questions?.length) wire = echoQuestion(wire, asSent);
      const question = query.questions?.[0];
      const fields: Fields = {
        name: question?.name,
        type: question?.type,
        class: question?.class === 'IN' ? undefined : className(question?.class),
        rcode: rcodeName(rcodeOfResponse(sent)),
        answers: sent.answers?.length ?? 0,
        truncated: truncated || undefined,
      };
      this.log.info('query', { client: peer.client, transport: peer.transport, ...fields, conn: peer.conn });
      this.answers.set(key, { wire: Buffer.from(wire), fields });
      return wire;
    } catch (err) {
      // A bug here must not take the server down: tell the client, log it, go on.
      this.log.error('internal error', { ...peer, error: errorMessage(err), rcode: 'SERVFAIL' });
      return encode(headerOnlyReply(message, RCODE.SERVFAIL));
    }
  }
}

/** The full rcode: 4 bits in the header, plus 8 more in the OPT record with EDNS (RFC 6891 6.1.3). */
function rcodeOfResponse(response: Packet): number {
  const opt = response.additionals?.find((r): r is OptAnswer => r.type === 'OPT');
  return ((opt?.extendedRcode ?? 0) << 4) | rcodeOf(response.flags ?? 0);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
