import type { StepConversation, StepPacketRow, StepPackets } from '../result';
import { CLIENT, type WireEvent } from '../wire/recorder';
import { FLAG } from './tcp';
import { endpointText, normalizeAddress, packetRows, packetsCarrying, type Conversation, type Endpoint, type FlowPacket, type Side, type TimeWindow } from './flows';
import { writePcapng, type CaptureInterface } from './pcapng';

/**
 * A step's packets: of everything the capture saw, the conversations of the flows the
 * step's own clients used (the ends of their sockets, from the transcript), within the
 * step's time window; and each message of the transcript placed on the segments that
 * carried its bytes.
 *
 * The capture's timestamps and the transcript's are on one clock: the kernel stamps
 * packets with the wall clock, and the runner's events are performance.timeOrigin +
 * performance.now(), the same wall clock read another way (lab-runner/wire/recorder.ts).
 */

/** How much earlier than the step's start a packet may be stamped and still count as the step's (the two clocks' readings differ by well under this). */
export const CLOCK_MARGIN_MS = 5;

/** The two ends a transcript event names: `local` is the runner's socket, `remote` the far end. */
interface Flow {
  transport?: 'tcp' | 'udp';
  /** Absent for a connect that failed (refused: the kernel never said which port it used). */
  local?: Endpoint;
  remote: Endpoint;
  /** The label of the far end in the transcript: `www.lab.test:80`. */
  label: string;
}

/** 0.0.0.0 or :: : a socket bound to every address (a UDP client's), which matches any. */
const unspecified = (address: string): boolean => address === '0.0.0.0' || address === '::';

/** Does a socket's end (as the runner saw it) name this endpoint of a capture? */
function isEnd(socketEnd: Endpoint, captured: Endpoint): boolean {
  return socketEnd.port === captured.port && (unspecified(socketEnd.address) || normalizeAddress(socketEnd.address) === normalizeAddress(captured.address));
}

/** The flows a transcript names, each once. */
export function flowsOf(transcript: readonly WireEvent[]): Flow[] {
  const flows = new Map<string, Flow>();
  for (const e of transcript) {
    if (!e.remote) continue;
    const label = e.from === CLIENT ? e.to : e.from; // the far end's name, whoever opened the connection
    const key = `${e.transport}|${e.local ? endpointText(e.local) : ''}|${endpointText(e.remote)}`;
    if (!flows.has(key)) flows.set(key, { transport: e.transport, local: e.local, remote: e.remote, label });
  }
  return [...flows.values()];
}

/**
 * Is this conversation the flow's? Both ends match, either way round (an active FTP
 * data connection is opened by the server). A failed connect names only the far end:
 * then the conversation the client opened to it, starting in the window.
 */
function belongs(c: Conversation, flow: Flow, window: StepWindow): boolean {
  if (flow.transport && flow.transport !== c.transport) return false;
  if (!flow.local) return isEnd(flow.remote, c.server) && inWindow(c.packets[0]!, window);
  return (isEnd(flow.local, c.client) && isEnd(flow.remote, c.server)) || (isEnd(flow.local, c.server) && isEnd(flow.remote, c.client));
}

/**
 * A step's window: its time, and the frames after the last one an earlier step could
 * have (the capture was synced as that step ended): a step that starts within the clock
 * margin of the last one's SYN does not take it.
 */
export interface StepWindow extends TimeWindow {
  afterFrame: number;
}

const inWindow = (p: FlowPacket, w: StepWindow): boolean => p.decoded.packet.number > w.afterFrame && p.decoded.packet.ms >= w.from && p.decoded.packet.ms <= w.to;

/** Which side of the conversation a socket end is. */
const sideOf = (c: Conversation, end: Endpoint): Side | undefined => (isEnd(end, c.client) ? 'client' : isEnd(end, c.server) ? 'server' : undefined);

/** What a step's expectations read of its packets (`tcp.handshake`, `packets`, `payload`). */
export interface PacketChecks {
  tcp: {
    /** A complete three-way handshake was seen in the step. */
    handshake: boolean;
    /** TCP connections opened in the step (their SYN seen): 1 for two requests over one kept-alive connection, 2 without. */
    connections: number;
    /** A RST was seen. */
    reset: boolean;
    /** Segments that repeated what their sender had already sent. */
    retransmissions: number;
  };
  /** The step's packets: a row each, its flags as one text (`SYN`, `SYN, ACK`), its payload as text. */
  packets: { frame: number; transport: 'tcp' | 'udp'; from: Side; flags: string; seq: number; ack: number; length: number; window: number; retransmission: boolean; info: string; payload: string }[];
  /** Every byte of data the step's packets carried, as text (latin1), in capture order: where a password in clear shows. */
  payload: string;
}

export interface StepCapture {
  packets: StepPackets;
  checks: PacketChecks;
}

/**
 * The packets of one step: `all` the run's conversations so far, the step's transcript,
 * its window and `origin` (epoch ms its transcript's `at` counts from).
 */
export function stepCapture(all: readonly Conversation[], transcript: readonly WireEvent[], window: StepWindow, origin: number, interfaces: readonly CaptureInterface[]): StepCapture {
  const flows = flowsOf(transcript);
  const mine = all.filter((c) => c.packets.some((p) => inWindow(p, window)) && flows.some((f) => belongs(c, f, window)));
  const labelOf = (c: Conversation): string | undefined => flows.find((f) => belongs(c, f, window))?.label;

  // The transcript's messages on their segments: by byte offset over TCP, by the bytes themselves over UDP.
  const eventOf = new Map<number, number>();
  transcript.forEach((e, i) => {
    if ((e.kind !== 'send' && e.kind !== 'recv') || !e.local || !e.remote || !e.data) return;
    const [senderEnd] = e.kind === 'send' ? [e.local] : [e.remote];
    for (const c of mine) {
      const from = sideOf(c, senderEnd);
      if (!from || !belongs(c, { transport: e.transport, local: e.local, remote: e.remote, label: '' }, window)) continue;
      const carried = c.transport === 'tcp' ? (e.offset === undefined ? [] : packetsCarrying(c, from, { offset: e.offset, length: e.size ?? 0 })) : packetsCarrying(c, from, { bytes: Buffer.from(e.data, 'base64') });
      for (const p of carried) if (!eventOf.has(p.decoded.packet.number)) eventOf.set(p.decoded.packet.number, i);
    }
  });

  const chosen = mine.flatMap((c) => c.packets.filter((p) => inWindow(p, window)).map((p) => ({ c, p }))).sort((a, b) => a.p.decoded.packet.number - b.p.decoded.packet.number);
  const frames = new Set(chosen.map(({ p }) => p.decoded.packet.number));
  const rows: StepPacketRow[] = chosen.map(({ c, p }) => {
    const [row] = packetRows([p], origin);
    const event = eventOf.get(p.decoded.packet.number);
    return { ...row!, conversation: c.index, ...(event !== undefined ? { event } : {}) };
  });
  const conversations: StepConversation[] = mine.map((c) => {
    const label = labelOf(c);
    return {
      index: c.index,
      transport: c.transport,
      client: endpointText(c.client),
      server: endpointText(c.server),
      ...(label && label !== endpointText(c.server) ? { serverLabel: label } : {}),
      // What happened in this step: a kept-alive connection's handshake was an earlier step's.
      handshake: c.handshake !== undefined && frames.has(c.handshake.syn) && frames.has(c.handshake.ack),
      ...(c.reset && frames.has(c.reset.frame) ? { reset: c.reset.by } : {}),
      fin: (['client', 'server'] as const).filter((side) => c.fin[side] !== undefined && frames.has(c.fin[side]!)),
      retransmissions: c.packets.filter((p) => p.retransmission && frames.has(p.decoded.packet.number)).length,
    };
  });
  const pcapng = writePcapng(interfaces, chosen.map(({ p }) => p.decoded.packet)).toString('base64');

  const payloadOf = (p: FlowPacket): string => (p.decoded.tcp ?? p.decoded.udp)!.payload.toString('latin1');
  const checks: PacketChecks = {
    tcp: {
      handshake: conversations.some((c) => c.handshake),
      connections: chosen.filter(({ p }) => p.decoded.tcp && (p.decoded.tcp.flags & (FLAG.SYN | FLAG.ACK)) === FLAG.SYN && !p.retransmission).length,
      reset: conversations.some((c) => c.reset !== undefined),
      retransmissions: conversations.reduce((n, c) => n + c.retransmissions, 0),
    },
    packets: chosen.map(({ p }, i) => {
      const row = rows[i]!;
      return { frame: row.frame, transport: row.transport, from: row.from, flags: row.flags.join(', '), seq: row.seq, ack: row.ack, length: row.length, window: row.window, retransmission: row.retransmission, info: row.info, payload: payloadOf(p) };
    }),
    payload: chosen.filter(({ p }) => !p.retransmission).map(({ p }) => payloadOf(p)).join(''),
  };
  return { packets: { conversations, rows, pcapng }, checks };
}
