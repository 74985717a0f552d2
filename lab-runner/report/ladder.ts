import type { StepConversation, StepPacketRow, StepPackets, TargetInfo } from '../result';
import type { WireEvent } from '../wire';
import { esc, fit, ms } from './markup';

/**
 * The ladder diagram of a transcript, as SVG markup: a pure function from events to
 * text, with no Node and no DOM, so the HTML report (html.ts) and the web console (in
 * a browser bundle) draw the same diagram. Its look is LADDER_CSS in style.ts.
 * Everything from a transcript is escaped: a server's reply is data, never markup.
 */

/** More messages than this and the diagram stops; the raw transcript still has them all. */
export const MAX_LADDER_EVENTS = 400;

interface Column {
  host: string;
  ports: string[];
  x: number;
}

/** `ns.lab.test:53` -> host `ns.lab.test`, port `53`; `client` has no port. */
export function splitEndpoint(endpoint: string): { host: string; port?: string } {
  const m = /^(.+):(\d+)$/.exec(endpoint);
  return m ? { host: m[1]!, port: m[2]! } : { host: endpoint };
}

/** The hosts a transcript talks between, the client first, then in order of appearance (`more`: hosts only packets went to). */
export function ladderHosts(events: WireEvent[], more: readonly string[] = []): string[] {
  const hosts: string[] = [];
  for (const e of events) for (const end of [e.from, e.to]) {
    const { host } = splitEndpoint(end);
    if (!hosts.includes(host)) hosts.push(host);
  }
  for (const host of more) if (!hosts.includes(host)) hosts.push(host);
  const client = hosts.indexOf('client');
  if (client > 0) hosts.unshift(...hosts.splice(client, 1));
  return hosts;
}

/** The width a diagram tries to stay within, in pixels: the page's content width. */
const LADDER_WIDTH = 1080;
const CHAR = 7.25; // width of a 12px monospace character
const MARK_CHAR = 6.7; // width of an 11px monospace character
const GUTTER = 64; // the time column on the left
const PLAIN_TOP = 58; // below the host boxes
const TARGET_TOP = 74; // below host boxes with a target's line
const ROW = 30;
const MARK_ROW = 22;
const PACKET_ROW = 20;
const CONVERSATION_ROW = 24;
const PACKET_CHAR = 6.05; // width of a 10px monospace character

export interface LadderOptions {
  /**
   * Hosts whose server was replaced (`--target`, a student's server being graded): lab
   * host -> where the server really was (`www.lab.test` -> `127.0.0.1:9000`). The column
   * keeps its lab name and is marked as the target, with that address.
   */
  targets?: Record<string, string>;
}

/**
 * The columns of a transcript to mark as targets: each replaced service's lab host, and
 * where its server really was: the far end of the step's own connection to it when the
 * step made one (what the kernel saw), else the address the run was given.
 */
export function targetColumns(events: WireEvent[], targets: readonly TargetInfo[] = []): Record<string, string> {
  const marks: Record<string, string> = {};
  for (const t of targets) {
    const reached = events.find((e) => e.kind === 'connect' && e.to === t.label && e.remote)?.remote;
    marks[splitEndpoint(t.label).host] = reached ? `${reached.address}:${reached.port}` : t.address;
  }
  return marks;
}

/** More packets than this and the TCP layer stops; the step's pcapng has them all. */
export const MAX_LADDER_PACKETS = 400;

/**
 * What a ladder draws, top to bottom: the transcript's events and, when the TCP layer
 * is open, each conversation's first line and its packets, each packet right under
 * the message it carries (`row.event`), the others (handshake, ACKs, FIN, RST) where
 * their time puts them. Shared by the SVG here and the terminal's `--packets` trace.
 */
export type LadderItem =
  | { kind: 'event'; event: WireEvent; index: number }
  | { kind: 'conversation'; conversation: StepConversation; host: string }
  | { kind: 'packet'; row: StepPacketRow; conversation?: StepConversation; host: string };

/** A row's conversation: its index counts per transport, as Wireshark's tcp.stream and udp.stream do. */
export function conversationOf(packets: StepPackets, row: StepPacketRow): StepConversation | undefined {
  return packets.conversations.find((c) => c.index === row.conversation && c.transport === row.transport);
}

/**
 * The column a conversation's server is drawn in: its lab name; else the far end of a
 * message one of its packets carries, or of the connect event made on it; else its address.
 */
export function conversationHost(c: StepConversation, packets: StepPackets, events: readonly WireEvent[]): string {
  if (c.serverLabel) return splitEndpoint(c.serverLabel).host;
  const far = (e: WireEvent): string => splitEndpoint(e.from === 'client' ? e.to : e.from).host;
  const carried = packets.rows.find((r) => r.transport === c.transport && r.conversation === c.index && r.event !== undefined && events[r.event]);
  if (carried) return far(events[carried.event!]!);
  const connect = events.find((e) => e.kind === 'connect' && e.local && e.remote && c.client.endsWith(`:${e.local.port}`) && c.server.endsWith(`:${e.remote.port}`));
  return connect ? far(connect) : splitEndpoint(c.server).host;
}

export function ladderItems(events: readonly WireEvent[], packets?: StepPackets): LadderItem[] {
  const items: LadderItem[] = [];
  let next = 0;
  const flush = (until: (e: WireEvent, k: number) => boolean): void => {
    for (; next < events.length && until(events[next]!, next); next++) items.push({ kind: 'event', event: events[next]!, index: next });
  };
  const started = new Set<StepConversation>();
  const hosts = new Map<StepConversation, string>();
  for (const row of packets?.rows.slice(0, MAX_LADDER_PACKETS) ?? []) {
    // A segment goes under the message it carries; the others where their time puts them.
    if (row.event !== undefined) flush((_e, k) => k <= row.event!);
    else flush((e) => e.at <= row.at);
    const conversation = conversationOf(packets!, row);
    let host = 'server';
    if (conversation) {
      if (!hosts.has(conversation)) hosts.set(conversation, conversationHost(conversation, packets!, events));
      host = hosts.get(conversation)!;
      if (!started.has(conversation)) {
        started.add(conversation);
        items.push({ kind: 'conversation', conversation, host });
      }
    }
    items.push({ kind: 'packet', row, conversation, host });
  }
  flush(() => true);
  return items;
}

/** A packet in a few words: `SYN, ACK seq=0 ack=1`, `PSH, ACK seq=1 ack=1 len=78`, `UDP len=30`. */
export function packetLabel(row: StepPacketRow): string {
  const again = row.retransmission ? 'retransmission: ' : '';
  if (row.transport === 'udp') return `${again}UDP len=${row.length}`;
  return `${again}${row.flags.join(', ')} seq=${row.seq}${row.flags.includes('ACK') ? ` ack=${row.ack}` : ''}${row.length ? ` len=${row.length}` : ''}`;
}

/** A conversation's first line: `TCP 127.0.0.1:41234 → 127.0.0.1:8080 (www.lab.test:80)`. */
export function conversationLabel(c: StepConversation): string {
  return `${c.transport.toUpperCase()} ${c.client} → ${c.server}${c.serverLabel ? ` (${c.serverLabel})` : ''}`;
}

/** How a conversation went: `handshake; FIN from client and server; 1 retransmission`, `no complete handshake; reset by server`. */
export function conversationEnding(c: StepConversation): string {
  if (c.transport === 'udp') return 'no connection: datagrams';
  const parts = [c.handshake ? 'handshake' : 'no complete handshake'];
  if (c.reset) parts.push(`reset by ${c.reset}`);
  if (c.fin.length) parts.push(`FIN from ${c.fin.join(' and ')}`);
  if (c.retransmissions) parts.push(`${c.retransmissions} retransmission${c.retransmissions === 1 ? '' : 's'}`);
  return parts.join('; ');
}

/**
 * A transcript as an SVG ladder diagram: one column per host (the client first), a
 * lifeline down from each, an arrow per message in time order, a small mark for a
 * connect, a close or a note. A TLS handshake is a band of its own between the two
 * ends it secures (green, or red when it failed or the certificate was refused), and a
 * message sent inside TLS carries a padlock: encrypted on the wire. Each message is a `<g data-event="ID-eN">`, so a page
 * can show the event's bytes when it is clicked; `id` prefixes those ids.
 *
 * With `packets` (the step's capture) the diagram is drawn with its TCP layer open:
 * under the messages, thin arrows for each packet (`<g class="packet">`), a line per
 * conversation before its first packet, retransmissions in red.
 */
export function ladderSvg(all: WireEvent[], id: string, options: LadderOptions & { packets?: StepPackets } = {}): string {
  const events = all.slice(0, MAX_LADDER_EVENTS);
  const items = ladderItems(events, options.packets);
  const packetHosts = items.flatMap((i) => (i.kind === 'conversation' ? ['client', i.host] : []));
  const order = ladderHosts(events, packetHosts);
  const targets = options.targets ?? {};
  // A target's box has a third line: "target: 127.0.0.1:9000".
  const TOP = order.some((h) => targets[h]) ? TARGET_TOP : PLAIN_TOP;
  const isMessage = (e: WireEvent): boolean => e.kind === 'send' || e.kind === 'recv';
  const labels = [...events.filter(isMessage).map((e) => e.summary), ...items.flatMap((i) => (i.kind === 'packet' ? [packetLabel(i.row)] : []))];
  const longest = Math.max(12, ...labels.map((l) => l.length));
  // Wide enough for the labels, narrow enough that the hosts fit the page (a label that does not fit is cut; its tooltip has it all).
  const fitsPage = order.length > 1 ? (LADDER_WIDTH - GUTTER - 32 - 160) / (order.length - 1) : Infinity;
  // A target's box is wide enough for its "target: 127.0.0.1:9000" line.
  const markWidth = Math.max(0, ...order.filter((h) => targets[h]).map((h) => `target: ${targets[h]}`.length * MARK_CHAR + 16));
  const spacing = Math.round(Math.max(170, markWidth + 16, Math.min(340, longest * CHAR + 36, fitsPage)));
  const boxWidth = Math.min(spacing - 16, Math.max(110, markWidth, ...order.map((h) => h.length * CHAR + 24)));
  const columns: Column[] = order.map((host, i) => ({ host, ports: [], x: GUTTER + boxWidth / 2 + 8 + i * spacing }));
  const column = (endpoint: string): Column => {
    const { host, port } = splitEndpoint(endpoint);
    const c = columns.find((col) => col.host === host)!;
    if (port && !c.ports.includes(port)) c.ports.push(port);
    return c;
  };

  const width = Math.round((columns.at(-1)?.x ?? GUTTER) + boxWidth / 2 + 24);
  const rows: string[] = [];
  let y = TOP + 2;
  for (const item of items) {
    if (item.kind === 'conversation') {
      y += CONVERSATION_ROW;
      const c = item.conversation;
      if (c.serverLabel) column(c.serverLabel); // its port under the host's name, for a host only packets went to
      const x = column('client').x;
      const room = width - x - 16;
      rows.push(`<g class="conversation" data-conversation="${c.transport}-${c.index}"><title>${esc(`${conversationLabel(c)}\n${conversationEnding(c)}`)}</title>
<text x="${x + 8}" y="${y + 2}" class="conv start">${esc(fit(`${conversationLabel(c)} · ${conversationEnding(c)}`, Math.floor(room / 6.2)))}</text></g>`);
      continue;
    }
    if (item.kind === 'packet') {
      y += PACKET_ROW;
      const r = item.row;
      const client = column('client');
      const server = columns.find((col) => col.host === item.host)!;
      const [from, to] = r.from === 'client' ? [client, server] : [server, client];
      const label = packetLabel(r);
      rows.push(`<g class="packet p-${r.transport}${r.retransmission ? ' retrans' : ''}" data-frame="${r.frame}" data-transport="${r.transport}" data-conversation="${r.conversation}" data-from="${r.from}" data-flags="${esc(r.flags.join(','))}" data-seq="${r.seq}" data-ack="${r.ack}" data-len="${r.length}"${r.event !== undefined ? ` data-carries="${id}-e${r.event + 1}"` : ''}><title>${esc(`${ms(r.at)}  frame ${r.frame}  ${r.info}`)}</title>
<text x="${GUTTER - 8}" y="${y + 3}" class="time pkt-time">${ms(r.at)}</text>
${packetArrow(from.x, to.x, y, label)}</g>`);
      continue;
    }
    const e = item.event;
    const from = column(e.from);
    const to = column(e.to);
    const eventId = `${id}-e${item.index + 1}`;
    const tip = `${ms(e.at)}  ${e.from} → ${e.to}  ${e.protocol}${e.transport ? '/' + e.transport : ''}${e.size !== undefined ? `  ${e.size} B` : ''}\n${e.kind}: ${e.summary}`;
    if (e.kind === 'tls') {
      y += ROW;
      const ok = Boolean(e.tls?.version) && e.tls?.authorized !== false;
      rows.push(`<g class="message handshake${ok ? '' : ' refused'}" data-event="${eventId}" data-from="${esc(from.host)}" data-to="${esc(to.host)}" tabindex="0"><title>${esc(tip)}</title>
<text x="${GUTTER - 8}" y="${y + 4}" class="time">${ms(e.at)}</text>
${handshakeBand(from.x, to.x, y, handshakeLabel(e))}</g>`);
    } else if (isMessage(e)) {
      y += ROW;
      rows.push(`<g class="message m-${e.kind}${e.encrypted ? ' enc' : ''}" data-event="${eventId}" data-from="${esc(from.host)}" data-to="${esc(to.host)}" tabindex="0"><title>${esc(tip)}${e.encrypted ? '\n(encrypted on the wire: shown as the client sent or read it inside TLS)' : ''}</title>
<text x="${GUTTER - 8}" y="${y + 4}" class="time">${ms(e.at)}</text>
${arrow(from.x, to.x, y, e.kind, e.summary, e.encrypted)}</g>`);
    } else {
      y += MARK_ROW;
      rows.push(`<g class="marker k-${e.kind}" data-event="${eventId}"><title>${esc(tip)}</title>
<text x="${GUTTER - 8}" y="${y + 4}" class="time">${ms(e.at)}</text>
${marker(from.x, to.x, y, e.kind, e.summary, width)}</g>`);
    }
  }
  const height = y + 24;
  const heads = columns
    .map(
      (c) => {
        const target = targets[c.host];
        const mark = target
          ? `<title>${esc(`${c.host} is the target: the server at ${target} stood in for the lab's own`)}</title>
<text x="${c.x}" y="58" class="target-mark">${esc(fit(`target: ${target}`, Math.floor((boxWidth - 10) / MARK_CHAR)))}</text>`
          : '';
        return `<g class="host${target ? ' target' : ''}" data-host="${esc(c.host)}"${target ? ` data-target="${esc(target)}"` : ''}>
<line x1="${c.x}" y1="${TOP - 8}" x2="${c.x}" y2="${height - 6}" class="lifeline"/>
<rect x="${c.x - boxWidth / 2}" y="6" width="${boxWidth}" height="${TOP - 14}" rx="7" class="hostbox${c.host === 'client' ? ' client' : ''}${target ? ' target' : ''}"/>
<text x="${c.x}" y="26" class="hostname">${esc(fit(c.host, Math.floor((boxWidth - 12) / CHAR)))}</text>
<text x="${c.x}" y="42" class="ports">${esc(fit(c.ports.length ? c.ports.map((p) => ':' + p).join(' ') : c.host === 'client' ? 'you' : '', Math.floor((boxWidth - 10) / 6.6)))}</text>
${mark}</g>`;
      },
    )
    .join('\n');
  const packetCount = options.packets?.rows.length ?? 0;
  const notes = [
    all.length > events.length ? `${all.length - events.length} more events in the raw transcript` : '',
    packetCount > MAX_LADDER_PACKETS ? `${packetCount - MAX_LADDER_PACKETS} more packets in the pcapng file` : '',
  ].filter(Boolean);
  const more = notes.length ? `<text x="${GUTTER}" y="${height - 4}" class="note">… ${esc(notes.join('; '))}</text>` : '';
  const drawn = items.filter((i) => i.kind === 'packet').length;
  const what = `${events.filter(isMessage).length} messages${options.packets ? ` and ${drawn} packets` : ''} between ${order.length} hosts`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="ladder-svg${options.packets ? ' with-packets' : ''}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="ladder diagram: ${what}">
${heads}
${rows.join('\n')}
${more}
</svg>`;
}

/** A packet: a thin arrow, its flags and numbers above it. */
function packetArrow(x1: number, x2: number, y: number, label: string): string {
  const dir = x2 >= x1 ? 1 : -1;
  const tipX = x2 - dir * 2;
  const text = fit(label, Math.floor((Math.abs(x2 - x1) - 10) / PACKET_CHAR));
  return `<line x1="${x1}" y1="${y}" x2="${tipX - dir * 6}" y2="${y}" class="l-pkt"/>
<path d="M${tipX},${y} L${tipX - dir * 7},${y - 3.5} L${tipX - dir * 7},${y + 3.5} Z" class="h-pkt"/>
<text x="${(x1 + x2) / 2}" y="${y - 4}" class="pkt-label">${esc(text)}</text>`;
}

function arrow(x1: number, x2: number, y: number, kind: string, summary: string, encrypted = false): string {
  const cls = kind === 'recv' ? 'recv' : 'send';
  if (x1 === x2) {
    // A host talking to itself (two ports of one host): a small loop to the right.
    const label = fit(summary, 40);
    return `<path d="M${x1},${y - 8} h28 v16 h-22" class="l-${cls}" fill="none"/><path d="M${x1 + 1},${y + 8} l8,-4 v8 z" class="h-${cls}"/>
${encrypted ? padlock(x1 + 40, y - 1) : ''}<text x="${x1 + (encrypted ? 50 : 36)}" y="${y + 4}" class="label start">${esc(label)}</text>`;
  }
  const dir = x2 > x1 ? 1 : -1;
  const tipX = x2 - dir * 2;
  // Inside TLS the label makes room for the padlock before it.
  const label = fit(summary, Math.floor((Math.abs(x2 - x1) - 14 - (encrypted ? 16 : 0)) / CHAR));
  const middle = (x1 + x2) / 2 + (encrypted ? 8 : 0);
  return `<line x1="${x1}" y1="${y}" x2="${tipX - dir * 8}" y2="${y}" class="l-${cls}"/>
<path d="M${tipX},${y} L${tipX - dir * 10},${y - 5} L${tipX - dir * 10},${y + 5} Z" class="h-${cls}"/>
${encrypted ? padlock(middle - (label.length * CHAR) / 2 - 10, y - 12) : ''}<text x="${middle}" y="${y - 7}" class="label">${esc(label)}</text>`;
}

/** A small padlock centred on (x, y): what went inside TLS. */
function padlock(x: number, y: number): string {
  return `<g class="padlock" transform="translate(${x.toFixed(1)} ${y.toFixed(1)})"><path d="M-2.6,-1 v-2.2 a2.6,2.6 0 0 1 5.2,0 v2.2" fill="none"/><rect x="-4.2" y="-1" width="8.4" height="6.4" rx="1.2"/></g>`;
}

/** A handshake's band label: the version and cipher agreed, and what went wrong if anything did. */
function handshakeLabel(e: WireEvent): string {
  const h = e.tls;
  if (!h) return e.summary;
  if (!h.version) return `TLS failed: ${h.error}`;
  if (!h.authorized) return `${h.version} · untrusted: ${h.error}`;
  return `TLS handshake: ${h.version} ${h.cipher ?? ''}${h.resumed ? ' · resumed' : ''}`;
}

/** The handshake between two lifelines: a band across them, a padlock, the label. */
function handshakeBand(x1: number, x2: number, y: number, label: string): string {
  const [lo, hi] = x1 <= x2 ? [x1 - 6, x2 + 6] : [x2 - 6, x1 + 6];
  const width = Math.max(hi - lo, 120);
  const text = fit(label, Math.floor((width - 30) / CHAR));
  return `<rect x="${lo}" y="${y - 10}" width="${width}" height="20" rx="10" class="tls-band"/>
${padlock(lo + 14, y - 2)}<text x="${lo + 26}" y="${y + 4}" class="label tls-label start">${esc(text)}</text>`;
}

/** connect, close, note: a small mark on the lifelines, not an arrow. */
function marker(x1: number, x2: number, y: number, kind: string, summary: string, width: number): string {
  const word = kind === 'note' || summary.startsWith(kind) ? '' : `${kind}${summary ? ': ' : ''}`;
  if (kind === 'note' || x1 === x2) {
    // A note reads from its lifeline towards the middle of the diagram.
    const right = x1 < width / 2;
    const room = right ? width - x1 - 16 : x1 - GUTTER - 16;
    return `<rect x="${x1 - 4}" y="${y - 4}" width="8" height="8" transform="rotate(45 ${x1} ${y})" class="mark"/>
<text x="${right ? x1 + 10 : x1 - 10}" y="${y + 4}" class="small ${right ? 'start' : 'end'}">${esc(fit(word + summary, Math.floor(room / 6.4)))}</text>`;
  }
  const symbol = kind === 'close' ? `<path d="M${x2 - 4},${y - 4} l8,8 m0,-8 l-8,8" class="mark-x"/>` : `<circle cx="${x2}" cy="${y}" r="4" class="mark"/>`;
  return `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" class="l-mark"/><circle cx="${x1}" cy="${y}" r="2.5" class="mark"/>${symbol}
<text x="${(x1 + x2) / 2}" y="${y - 5}" class="small">${esc(fit(word + summary, Math.floor((Math.abs(x2 - x1) - 10) / 6.2)))}</text>`;
}
