import type { StepPackets, StepResult } from '../../lab-runner/result';
import { packetsCarrying, type Conversation, type FlowPacket, type Side, type TimeWindow } from '../../lab-runner/packets/flows';
import type { CaptureInterface } from '../../lab-runner/packets/pcapng';
import { stepPackets, type StepFlow } from '../../lab-runner/packets/step';
import { eventBytes, type WireEvent } from '../../lab-runner/wire';

/**
 * A step's packets from a real capture, for the tests of the reports and the console
 * until `wirelab run --capture` fills StepResult.packets itself (branch capture): the
 * step's flows read from its transcript (a connect event's two ends; the UDP exchanges
 * with the servers named), each transcript message placed on the segments that carry
 * its bytes (flows.ts packetsCarrying), then lab-runner/packets/step.ts stepPackets().
 * A stand-in for the capture branch's matching, kept small: nothing here makes a packet.
 */

export interface UdpServer {
  /** The port the server really listened on, and its lab name (`ns.lab.test:53`). */
  port: number;
  label: string;
}

export function packetsOfStep(all: readonly Conversation[], interfaces: readonly CaptureInterface[], step: StepResult, window: TimeWindow, origin: number, udp: readonly UdpServer[] = []): StepPackets {
  const events = step.transcript;
  const flows: StepFlow[] = [];
  const owner = new Map<FlowPacket, number>();
  for (const [k, e] of events.entries()) {
    if (e.kind !== 'connect' || !e.local || !e.remote) continue;
    flows.push({ transport: 'tcp', local: e.local, remote: e.remote, label: e.to });
    const c = all.find((x) => x.transport === 'tcp' && x.client.port === e.local!.port && x.server.port === e.remote!.port && x.packets.some((p) => p.decoded.packet.ms >= window.from && p.decoded.packet.ms <= window.to));
    if (c) placeTcp(c, events, k, owner);
  }
  for (const server of udp) {
    for (const c of all) {
      if (c.transport !== 'udp' || c.server.port !== server.port || !c.packets.some((p) => p.decoded.packet.ms >= window.from && p.decoded.packet.ms <= window.to)) continue;
      // The step's own exchange only: one that carries its messages (a health probe's query is another).
      let carries = false;
      for (const [k, e] of events.entries()) {
        if (e.transport !== 'udp' || !e.data || (e.kind !== 'send' && e.kind !== 'recv')) continue;
        for (const p of packetsCarrying(c, e.kind === 'send' ? 'client' : 'server', { bytes: eventBytes(e) })) {
          carries = true;
          if (!owner.has(p)) owner.set(p, k);
        }
      }
      if (carries) flows.push({ transport: 'udp', local: c.client, remote: c.server, label: server.label });
    }
  }
  return stepPackets(all, interfaces, flows, window, { origin, eventOf: (p) => owner.get(p) });
}

/** The messages after a connect event, to the same server, on the bytes of that connection's two streams. */
function placeTcp(c: Conversation, events: readonly WireEvent[], connect: number, owner: Map<FlowPacket, number>): void {
  const server = events[connect]!.to;
  const offset: Record<Side, number> = { client: 0, server: 0 };
  for (let k = connect + 1; k < events.length; k++) {
    const e = events[k]!;
    if (e.kind === 'connect' && e.to === server) break; // a new connection to the same server
    if ((e.kind !== 'send' && e.kind !== 'recv') || e.transport === 'udp' || !e.size) continue;
    const side: Side | undefined = e.kind === 'send' && e.to === server ? 'client' : e.kind === 'recv' && e.from === server ? 'server' : undefined;
    if (!side) continue;
    for (const p of packetsCarrying(c, side, { offset: offset[side], length: e.size })) if (!owner.has(p)) owner.set(p, k);
    offset[side] += e.size;
  }
}
