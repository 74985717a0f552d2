import { eventBytes, type WireEvent } from '../wire';
import type { StepPacketRow, StepPackets } from '../result';
import type { Colors } from './colors';
import { MAX_LADDER_PACKETS, conversationEnding, conversationLabel, ladderItems, packetLabel } from './ladder';

/**
 * A transcript as text: one arrow line per message, then its decoded view (or, with
 * `raw`, a hex dump of the bytes as they crossed the wire). A TLS handshake is a line
 * of its own (`client ⇄ server`) with the connection laid out below it; a message sent
 * inside TLS is marked 🔒: encrypted on the wire, shown as the plaintext the client had.
 * With `packets` (a step's capture, `--packets`), its TCP layer too: a line per
 * conversation, then each packet under the message it carries, as the ladder diagram
 * draws them (ladder.ts).
 */

export function formatTranscript(events: WireEvent[], c: Colors, options: { raw?: boolean; indent?: string; maxLines?: number; packets?: StepPackets } = {}): string {
  const pad = options.indent ?? '';
  const out: string[] = [];
  for (const item of ladderItems(events, options.packets)) {
    if (item.kind === 'conversation') {
      out.push(`${pad}    ${c.dim('┆')} ${c.bold(conversationLabel(item.conversation))}${c.dim(`: ${conversationEnding(item.conversation)}`)}`);
      continue;
    }
    if (item.kind === 'packet') {
      out.push(packetLine(item.row, item.host, c, pad));
      continue;
    }
    const e = item.event;
    const message = e.kind === 'send' || e.kind === 'recv';
    const failed = e.kind === 'tls' && !e.tls?.version;
    const arrow = e.kind === 'send' ? c.cyan('→') : e.kind === 'recv' ? c.magenta('←') : e.kind === 'tls' ? (failed ? c.red('⇄') : c.green('⇄')) : c.dim('·');
    const [left, right] = e.kind === 'recv' || (e.kind === 'close' && e.to === 'client') ? [e.to, e.from] : [e.from, e.to];
    const meta = c.dim(`${e.at.toFixed(1).padStart(7)} ms  ${e.protocol}${e.transport ? '/' + e.transport : ''}${e.size !== undefined ? `  ${e.size} B` : ''}`);
    const lock = e.encrypted ? ` ${c.green('🔒')}` : '';
    const summary = message ? c.bold(e.summary) : e.kind === 'tls' ? (failed ? c.red(e.summary) : c.bold(e.summary)) : c.dim(e.summary);
    out.push(`${pad}${meta}${lock}  ${left} ${arrow} ${right}  ${summary}`);
    if (!message && e.kind !== 'tls') continue;
    const body = e.kind === 'tls' ? (e.text ?? '') : options.raw ? hexdump(eventBytes(e)) : (e.text ?? hexdump(eventBytes(e)));
    const lines = visible(body).split('\n');
    const max = options.maxLines ?? Infinity;
    for (const line of lines.slice(0, max)) out.push(`${pad}    ${c.dim('│')} ${line}`);
    if (lines.length > max) out.push(`${pad}    ${c.dim(`│ ... ${lines.length - max} more lines (the JSON report has them all)`)}`);
  }
  if (options.packets && options.packets.rows.length > MAX_LADDER_PACKETS) {
    out.push(`${pad}    ${c.dim(`┆ ... ${options.packets.rows.length - MAX_LADDER_PACKETS} more packets (the pcapng file has them all)`)}`);
  }
  return out.join('\n');
}

/**
 * One packet under the message it carries: `┆   0.3 ms  client ⇢ www.lab.test  SYN seq=0`,
 * with the arrow pointing the way it went; a retransmission in red.
 */
function packetLine(row: StepPacketRow, host: string, c: Colors, pad: string): string {
  const arrow = row.from === 'client' ? '⇢' : '⇠';
  const label = packetLabel(row);
  return `${pad}    ${c.dim('┆')} ${c.dim(`${row.at.toFixed(1).padStart(7)} ms`)}  client ${arrow} ${host}  ${row.retransmission ? c.red(label) : label}`;
}

/** Control characters made visible: a student should see that HTTP lines end in \r\n. */
function visible(text: string): string {
  return text
    .replace(/\r\n/g, '\\r\\n\n')
    .replace(/\r/g, '\\r')
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/\n$/, '');
}

/** `0000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  GET / HTTP/1.1..` */
export function hexdump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(4, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  ${ascii}`);
  }
  return lines.join('\n');
}
