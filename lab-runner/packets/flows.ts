import type { DecodedPacket } from './decode';
import { FLAG, OPTION_KIND } from './tcp';

/**
 * Packets grouped into conversations: a TCP connection from its SYN to its FIN or
 * RST, or a UDP exchange (a DNS query and its answer). Both directions of a
 * conversation share its two endpoints, swapped.
 *
 * For TCP this also does what Wireshark does to make a connection readable:
 * - sequence numbers relative to each side's first one (the SYN's is random, RFC
 *   9293 section 3.4.1, so "Seq=1" reads better than "Seq=3141592653");
 * - the three-way handshake recognised: SYN, SYN-ACK, ACK (section 3.5);
 * - how it ended: FIN from each side (section 3.6), or a RST;
 * - retransmissions marked: a segment carrying bytes (or a SYN or FIN) whose
 *   sequence space was already sent, like Wireshark's tcp.analysis.retransmission in
 *   the simple cases (no "out-of-order" or "spurious" guesses).
 */

export interface Endpoint {
  address: string;
  port: number;
}

export type Side = 'client' | 'server';

export interface FlowPacket {
  decoded: DecodedPacket;
  /** Who sent it. */
  from: Side;
  /** TCP: relative sequence and acknowledgment numbers (0 when the ACK flag is off), as Wireshark shows them. */
  seq: number;
  ack: number;
  /** TCP: the relative sequence number the sender will use next (seq + data + 1 for SYN or FIN), Wireshark's tcp.nxtseq. */
  nextSeq: number;
  /** Bytes of data (TCP) or payload (UDP). */
  length: number;
  /**
   * TCP: the receive window the sender offers, in bytes: the window field shifted by
   * the scale the sender announced in its SYN, once both SYNs said they scale (RFC 7323
   * section 2.2); the field as it is in SYNs, and when the handshake was not seen.
   * Wireshark's tcp.window_size.
   */
  window: number;
  /** TCP: this segment repeats sequence space its sender had already sent. */
  retransmission: boolean;
}

export interface Conversation {
  /** 0, 1, 2... per transport, in order of first packet: Wireshark's tcp.stream and udp.stream. */
  index: number;
  transport: 'tcp' | 'udp';
  /** Who opened it (the SYN's sender, or the first datagram's) and who answered. */
  client: Endpoint;
  server: Endpoint;
  packets: FlowPacket[];
  /** TCP: frame numbers of the handshake, once all three were seen. */
  handshake?: { syn: number; synAck: number; ack: number };
  /** TCP: who sent a FIN (each side closes its own direction), and the RST if one was sent. */
  fin: Partial<Record<Side, number>>;
  reset?: { by: Side; frame: number };
  /** Times of its first and last packet, epoch ms. */
  first: number;
  last: number;
}

/** `127.0.0.1:8080`, `[::1]:8080`. */
export function endpointText(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/**
 * An address as a socket reports it, written the way a capture does: Node reports
 * IPv4 on a dual-stack socket as `::ffff:127.0.0.1` (RFC 4291 section 2.5.5.2).
 */
export function normalizeAddress(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address.toLowerCase();
}

const same = (a: Endpoint, b: Endpoint): boolean => a.port === b.port && normalizeAddress(a.address) === normalizeAddress(b.address);

/** Per direction of a TCP connection: its first sequence number, the highest next one seen, its SYN's window scale. */
interface Direction {
  base?: number;
  nextSeq?: number;
  /** Its SYN was seen, with this window scale option (undefined: the SYN had none). */
  syn?: { windowScale?: number };
}

interface TcpState {
  conversation: Conversation;
  dirs: Record<Side, Direction>;
}

const u32 = (n: number): number => n >>> 0;
/** a is after b in sequence space, which wraps at 2^32 (RFC 9293 section 3.4: comparisons are modulo 2^32). */
const after = (a: number, b: number): boolean => ((a - b) | 0) > 0;

export function conversations(packets: readonly DecodedPacket[]): Conversation[] {
  const result: Conversation[] = [];
  const tcp = new Map<string, TcpState>();
  const udp = new Map<string, Conversation>();
  const counts = { tcp: 0, udp: 0 };

  const open = (transport: 'tcp' | 'udp', client: Endpoint, server: Endpoint, ms: number): Conversation => {
    const conversation: Conversation = { index: counts[transport]++, transport, client, server, packets: [], fin: {}, first: ms, last: ms };
    result.push(conversation);
    return conversation;
  };

  for (const decoded of packets) {
    const { ip, tcp: segment, udp: datagram } = decoded;
    if (!ip || !(segment || datagram)) continue;
    const header = (segment ?? datagram)!;
    const source = { address: ip.source, port: header.sourcePort };
    const destination = { address: ip.destination, port: header.destinationPort };
    const key = [endpointText(source), endpointText(destination)].sort().join(' ');
    const ms = decoded.packet.ms;

    if (datagram) {
      let conversation = udp.get(key);
      if (!conversation) udp.set(key, (conversation = open('udp', source, destination, ms)));
      conversation.last = ms;
      const from: Side = same(source, conversation.client) ? 'client' : 'server';
      conversation.packets.push({ decoded, from, seq: 0, ack: 0, nextSeq: 0, length: datagram.payload.length, window: 0, retransmission: false });
      continue;
    }

    const s = segment!;
    const syn = (s.flags & FLAG.SYN) !== 0;
    const isAck = (s.flags & FLAG.ACK) !== 0;
    let state = tcp.get(key);
    // A new SYN on the same ports after the old connection ended, or with another
    // initial sequence number, is a new connection (Wireshark: "TCP port numbers reused").
    if (state && syn && !isAck) {
      const c = state.conversation;
      const sender = same(source, c.client) ? 'client' : 'server';
      const ended = c.reset !== undefined || (c.fin.client !== undefined && c.fin.server !== undefined);
      const base = state.dirs[sender].base;
      if (ended || (base !== undefined && base !== s.seq)) state = undefined;
    }
    if (!state) {
      // The client is whoever sent the SYN; a SYN-ACK's receiver; else the first sender seen.
      const [client, server] = syn && isAck ? [destination, source] : [source, destination];
      state = { conversation: open('tcp', client, server, ms), dirs: { client: {}, server: {} } };
      tcp.set(key, state);
    }
    const c = state.conversation;
    c.last = ms;
    const from: Side = same(source, c.client) ? 'client' : 'server';
    const to: Side = from === 'client' ? 'server' : 'client';
    const mine = state.dirs[from];
    const theirs = state.dirs[to];
    // The first sequence number of a side: its SYN's; if the SYN was missed, one before
    // the first seen, so that the first byte is 1 (what Wireshark does).
    if (mine.base === undefined) mine.base = syn ? s.seq : u32(s.seq - 1);
    if (isAck && theirs.base === undefined) theirs.base = u32(s.ack - 1);
    const length = s.payload.length;
    const fin = (s.flags & FLAG.FIN) !== 0;
    const rst = (s.flags & FLAG.RST) !== 0;
    const end = u32(s.seq + length + (syn ? 1 : 0) + (fin ? 1 : 0));
    // A keep-alive repeats the last byte on purpose (RFC 9293 section 3.8.4): not a retransmission.
    const keepAlive = length <= 1 && !syn && !fin && !rst && mine.nextSeq !== undefined && s.seq === u32(mine.nextSeq - 1);
    const retransmission = (length > 0 || syn || fin) && !keepAlive && mine.nextSeq !== undefined && after(mine.nextSeq, s.seq);
    if (mine.nextSeq === undefined || after(end, mine.nextSeq)) mine.nextSeq = end;
    if (syn) mine.syn = { windowScale: s.windowScale };
    // Scaling counts only once both SYNs offered it; a SYN's own window is never scaled.
    const scaled = !syn && mine.syn?.windowScale !== undefined && theirs.syn?.windowScale !== undefined;
    c.packets.push({
      decoded,
      from,
      seq: u32(s.seq - mine.base),
      ack: isAck ? u32(s.ack - theirs.base!) : 0,
      nextSeq: u32(end - mine.base),
      length,
      window: scaled ? s.window * 2 ** mine.syn!.windowScale! : s.window,
      retransmission,
    });
    if (fin && c.fin[from] === undefined) c.fin[from] = decoded.packet.number;
    if (rst && !c.reset) c.reset = { by: from, frame: decoded.packet.number };
    if (!c.handshake) c.handshake = handshake(c);
  }
  return result;
}

/** SYN from the client, SYN-ACK from the server, then the client's ACK of it (RFC 9293 section 3.5). */
function handshake(c: Conversation): Conversation['handshake'] {
  const flagsOf = (p: FlowPacket): number => p.decoded.tcp!.flags & (FLAG.SYN | FLAG.ACK | FLAG.RST | FLAG.FIN);
  const syn = c.packets.find((p) => p.from === 'client' && flagsOf(p) === FLAG.SYN);
  const synAck = c.packets.find((p) => p.from === 'server' && flagsOf(p) === (FLAG.SYN | FLAG.ACK));
  if (!syn || !synAck) return undefined;
  const ack = c.packets.find((p) => p.from === 'client' && p.decoded.packet.number > synAck.decoded.packet.number && flagsOf(p) === FLAG.ACK && p.ack === synAck.nextSeq);
  return ack ? { syn: syn.decoded.packet.number, synAck: synAck.decoded.packet.number, ack: ack.decoded.packet.number } : undefined;
}

/** Epoch milliseconds, both ends included. */
export interface TimeWindow {
  from: number;
  to: number;
}

/**
 * The packets that carried some application bytes: a transcript's message placed on
 * its segments.
 * - TCP: `offset` and `length` say which bytes of the sender's stream (0 is the
 *   first byte after the handshake, relative sequence number 1); every segment
 *   holding any of them, retransmissions included.
 * - UDP: the datagrams from that side whose payload is exactly `bytes` (a DNS client
 *   that asks again sends the same bytes twice).
 */
export function packetsCarrying(c: Conversation, from: Side, what: { offset: number; length: number } | { bytes: Buffer }): FlowPacket[] {
  const mine = c.packets.filter((p) => p.from === from && p.length > 0);
  if ('bytes' in what) return mine.filter((p) => (p.decoded.udp ?? p.decoded.tcp)!.payload.equals(what.bytes));
  const start = 1 + what.offset;
  const end = start + what.length;
  const dataStart = (p: FlowPacket): number => p.seq + (p.decoded.tcp!.flags & FLAG.SYN ? 1 : 0);
  return mine.filter((p) => dataStart(p) < end && dataStart(p) + p.length > start);
}

/**
 * One line for a packet, the way Wireshark's Info column puts it:
 * `41234 → 8080 [SYN] Seq=0 Win=65495 Len=0 MSS=65495 SACK_PERM TSval=1 TSecr=0 WS=1024`,
 * `[TCP Retransmission] 41234 → 8080 [SYN] ...`, `41234 → 53 Len=30`.
 */
export function packetInfo(p: FlowPacket): string {
  const { tcp, udp } = p.decoded;
  if (udp) return `${udp.sourcePort} → ${udp.destinationPort} Len=${udp.payload.length}`;
  if (!tcp) return '';
  const parts = [`${tcp.sourcePort} → ${tcp.destinationPort} [${tcp.flagNames.join(', ')}] Seq=${p.seq}`];
  if (tcp.flags & FLAG.ACK) parts.push(`Ack=${p.ack}`);
  parts.push(`Win=${p.window}`, `Len=${p.length}`);
  if (tcp.flags & FLAG.URG) parts.push(`Urg=${tcp.urgentPointer}`);
  // The options, in the order they came.
  for (const option of tcp.options) {
    if (option.kind === OPTION_KIND.MSS) parts.push(`MSS=${tcp.mss}`);
    else if (option.kind === OPTION_KIND.SACK_PERMITTED) parts.push('SACK_PERM');
    else if (option.kind === OPTION_KIND.TIMESTAMPS) parts.push(`TSval=${tcp.timestamp!.value}`, `TSecr=${tcp.timestamp!.echo}`);
    else if (option.kind === OPTION_KIND.WINDOW_SCALE) parts.push(`WS=${2 ** tcp.windowScale!}`);
  }
  return `${p.retransmission ? '[TCP Retransmission] ' : ''}${parts.join(' ')}`;
}

/**
 * A packet as plain data, for a report (JSON) or a ladder diagram (which runs in a
 * browser too: no Buffers here).
 */
export interface PacketRow {
  /** Its frame number in the capture file. */
  frame: number;
  /** Milliseconds since `origin` (a step's start: the transcript's `at`). */
  at: number;
  transport: 'tcp' | 'udp';
  from: Side;
  /** TCP flags by name, [] for UDP. */
  flags: string[];
  seq: number;
  ack: number;
  length: number;
  window: number;
  retransmission: boolean;
  info: string;
}

export function packetRows(packets: readonly FlowPacket[], origin: number): PacketRow[] {
  return packets.map((p) => ({
    frame: p.decoded.packet.number,
    at: Math.round((p.decoded.packet.ms - origin) * 1000) / 1000,
    transport: p.decoded.tcp ? 'tcp' : 'udp',
    from: p.from,
    flags: p.decoded.tcp ? [...p.decoded.tcp.flagNames] : [],
    seq: p.seq,
    ack: p.ack,
    length: p.length,
    window: p.window,
    retransmission: p.retransmission,
    info: packetInfo(p),
  }));
}
