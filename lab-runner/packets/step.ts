import type { StepConversation, StepPacketRow, StepPackets } from '../result';
import { endpointText, findConversations, packetRows, selectPackets, type Conversation, type FlowPacket, type FlowQuery, type TimeWindow } from './flows';
import { writePcapng, type CaptureInterface } from './pcapng';

/**
 * What one step's report carries from a run's capture (StepPackets in result.ts): the
 * packets of the step's own flows in its time window, as plain rows the ladder draws,
 * its conversations summed up, and the same packets as a pcapng file a student opens
 * in Wireshark. Pure: the capture (branch capture's job) and the placing of transcript
 * events on segments (`eventOf`) are done by the caller.
 */

/** A flow the step used, and how the ladder names its server (`www.lab.test:80`). */
export interface StepFlow extends FlowQuery {
  label?: string;
}

export interface StepPacketsOptions {
  /** Epoch ms the rows' `at` counts from: the step's start (its transcript's origin). Default: the window's start. */
  origin?: number;
  /** The transcript event (its index) whose bytes this packet carries, if any. */
  eventOf?: (packet: FlowPacket, conversation: Conversation) => number | undefined;
}

/**
 * @param all       every conversation of the run's capture (flows.ts `conversations`)
 * @param interfaces the capture's interfaces (PacketCapture.interfaces), for the step's pcapng
 * @param flows     the flows the step used (a connect event's local and remote ends, a DNS socket's)
 * @param window    the step's time, epoch ms
 */
export function stepPackets(all: readonly Conversation[], interfaces: readonly CaptureInterface[], flows: readonly StepFlow[], window: TimeWindow, options: StepPacketsOptions = {}): StepPackets {
  const selected = selectPackets(all, flows, window);
  const chosen = new Set(selected);
  // The step's conversations, in order of their first packet in the step.
  const owners = new Map<FlowPacket, { conversation: Conversation; label?: string }>();
  for (const flow of flows) {
    for (const conversation of findConversations(all, flow, window)) {
      for (const p of conversation.packets) if (chosen.has(p)) owners.set(p, { conversation, label: flow.label });
    }
  }
  const conversations: StepConversation[] = [];
  const seen = new Set<Conversation>();
  for (const p of selected) {
    const { conversation: c, label } = owners.get(p)!;
    if (seen.has(c)) continue;
    seen.add(c);
    const mine = c.packets.filter((q) => chosen.has(q));
    conversations.push({
      index: c.index,
      transport: c.transport,
      client: endpointText(c.client),
      server: endpointText(c.server),
      ...(label ? { serverLabel: label } : {}),
      handshake: c.handshake !== undefined,
      ...(c.reset ? { reset: c.reset.by } : {}),
      fin: (['client', 'server'] as const).filter((side) => c.fin[side] !== undefined),
      retransmissions: mine.filter((q) => q.retransmission).length,
    });
  }
  const origin = options.origin ?? window.from;
  const rows: StepPacketRow[] = packetRows(selected, origin).map((row, i) => {
    const p = selected[i]!;
    const { conversation } = owners.get(p)!;
    const event = options.eventOf?.(p, conversation);
    return { ...row, conversation: conversation.index, ...(event !== undefined ? { event } : {}) };
  });
  const pcapng = writePcapng(interfaces, selected.map((p) => p.decoded.packet)).toString('base64');
  return { conversations, rows, pcapng };
}
