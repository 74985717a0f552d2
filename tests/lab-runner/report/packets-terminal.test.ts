/**
 * `--packets` in the terminal: a real run's real packets (tests/lab-runner/report/
 * captured.ts) printed under the messages they carry, with their flags, relative
 * sequence and acknowledgement numbers and lengths as the capture has them; a real SYN
 * retransmission marked; and `wirelab run --packets` without a capture says so.
 */
import pc from 'picocolors';
import { conversations } from '../../../lab-runner/packets/flows';
import { stepCapture } from '../../../lab-runner/packets/steps';
import type { StepPacketRow, StepResult } from '../../../lab-runner/result';
import { maskStep } from '../../../lab-runner/report/mask';
import { NO_PACKETS, terminalListener } from '../../../lab-runner/report/terminal';
import { formatTranscript } from '../../../lab-runner/report/transcript';
import { parseScenario } from '../../../lab-runner/scenario/load';
import type { WireEvent } from '../../../lab-runner/wire';
import { wirelab } from '../../helpers/process';
import { rootOnly, synRetransmission } from '../packets/helpers';
import { capturedRun, type CapturedRun } from './captured';

const plain = pc.createColors(false);
/** A packet's line: `┆    3.2 ms  client ⇢ www.lab.test  SYN seq=0`. */
const PACKET_LINE = /^\s+┆\s+[\d.]+ ms {2}client ([⇢⇠]) (\S+) {2}(.*)$/;

/** What the trace prints for a step, as the terminal reporter writes it with --packets. */
function trace(step: StepResult): string[] {
  let out = '';
  const scenario = parseScenario('title: t\nsteps:\n  - name: x\n    dns: { query: www.lab.test }\n', 'x.yaml');
  terminalListener({ colors: plain, write: (t) => (out += t), packets: true }).stepEnd!(scenario, step);
  return out.split('\n');
}

/** The text a row must print: its flags, numbers and length as the capture has them. */
const expected = (r: StepPacketRow): string =>
  r.transport === 'udp' ? `UDP len=${r.length}` : `${r.flags.join(', ')} seq=${r.seq}${r.flags.includes('ACK') ? ` ack=${r.ack}` : ''}${r.length ? ` len=${r.length}` : ''}`;

rootOnly('the TCP layer in the terminal, from a real capture', () => {
  let run: CapturedRun;
  beforeAll(async () => {
    run = await capturedRun();
  }, 60000);

  test('every packet has its line, in capture order, with its flags, seq, ack and length, and its direction', () => {
    const steps = run.result.scenarios[0]!.steps;
    expect(steps.map((s) => s.status)).toEqual(['passed', 'passed', 'passed']);
    for (const step of steps.map(maskStep)) {
      const rows = step.packets!.rows;
      const lines = trace(step).map((l) => PACKET_LINE.exec(l)).filter((m) => m !== null);
      expect(lines.length).toBe(rows.length);
      expect(lines.map((m) => m[3])).toEqual(rows.map(expected));
      expect(lines.map((m) => m[1])).toEqual(rows.map((r) => (r.from === 'client' ? '⇢' : '⇠')));
    }
    // The HTTP step: a handshake, the request and the response as one segment each, the FINs.
    const http = steps[1]!.packets!.rows.filter((r) => r.transport === 'tcp');
    expect(http.slice(0, 3).map(expected)).toEqual(['SYN seq=0', 'SYN, ACK seq=0 ack=1', 'ACK seq=1 ack=1']);
    const request = steps[1]!.transcript.findIndex((e) => e.kind === 'send' && e.protocol === 'http');
    expect(http.filter((r) => r.event === request).map(expected)).toEqual([`PSH, ACK seq=1 ack=1 len=${steps[1]!.transcript[request]!.size}`]);
    expect(http.filter((r) => r.flags.includes('FIN')).map((r) => r.from).sort()).toEqual(['client', 'server']);
  });

  test('each data segment is printed under the message it carries; each conversation has its line first', () => {
    const step = maskStep(run.result.scenarios[0]!.steps[2]!); // POP3: many small messages each way
    const lines = trace(step);
    const rows = step.packets!.rows;
    // Where each message's line is: its summary, after the one before.
    let cursor = 0;
    const at = step.transcript.map((e) => {
      if (e.kind !== 'send' && e.kind !== 'recv') return -1;
      cursor = lines.findIndex((l, i) => i >= cursor && l.includes(`  ${e.summary}`) && !PACKET_LINE.test(l));
      return cursor;
    });
    const packetLines = lines.flatMap((l, i) => (PACKET_LINE.test(l) ? [i] : []));
    const carried = rows.flatMap((r, k) => (r.event !== undefined ? [[r, packetLines[k]!] as const] : []));
    expect(carried.length).toBeGreaterThanOrEqual(10);
    for (const [row, line] of carried) {
      const next = at.find((i, k) => k > row.event! && i > 0) ?? lines.length;
      expect([row.event, at[row.event!]! < line && line < next]).toEqual([row.event, true]);
    }
    // The masked password is not on the screen, its message is.
    expect(lines.some((l) => l.includes('PASS ****'))).toBe(true);
    expect(lines.join('\n')).not.toContain('PASS alice');
    const conversationLines = lines.filter((l) => /^\s+┆ (TCP|UDP) /.test(l));
    expect(conversationLines.length).toBe(step.packets!.conversations.length);
    expect(conversationLines.find((l) => l.includes('(mail.lab.test:110)'))).toMatch(/: handshake; FIN from (server and client|client and server)$/);
    expect(conversationLines.find((l) => l.includes('(ns.lab.test:53)'))).toMatch(/^\s+┆ UDP 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ \(ns\.lab\.test:53\): no connection: datagrams$/);
  });

  test('a step without packets says how to get them', () => {
    const step = { ...run.result.scenarios[0]!.steps[0]!, packets: undefined };
    expect(trace(step)).toContain(`      ${NO_PACKETS}`);
  });
});

rootOnly('a retransmission, marked', () => {
  test('a SYN sent again after its timeout is printed as a retransmission', async () => {
    const { capture, port } = await synRetransmission();
    const all = conversations(capture.packets);
    const second = all[1]!;
    // The runner's transcript of a connect that never completed: the far end only (the kernel never said which port it used).
    const connect: WireEvent = { at: 0, kind: 'connect', from: 'client', to: 'www.lab.test:80', protocol: 'tcp', transport: 'tcp', summary: 'connect', remote: { address: '127.0.0.1', port } };
    // The step began as that SYN left: the first client's connection (a frame before, maybe the same millisecond) was an earlier step's.
    const window = { from: second.first, to: second.last, afterFrame: second.packets[0]!.decoded.packet.number - 1 };
    const { packets } = stepCapture(all, [connect], window, second.first, capture.interfaces);
    expect(packets.conversations).toEqual([expect.objectContaining({ handshake: false, retransmissions: 1, server: `127.0.0.1:${port}` })]);
    const lines = formatTranscript([], pc.createColors(true), { packets }).split('\n');
    expect(lines.map((l) => l.replace(/\x1b\[\d+m/g, ''))).toEqual([
      expect.stringMatching(/┆ TCP 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ \(www\.lab\.test:80\): no complete handshake; 1 retransmission$/),
      expect.stringMatching(/┆ +[\d.]+ ms {2}client ⇢ www\.lab\.test {2}SYN seq=0$/),
      expect.stringMatching(/┆ +\d+\.\d ms {2}client ⇢ www\.lab\.test {2}retransmission: SYN seq=0$/),
    ]);
    // In red on a colour terminal.
    expect(lines[2]).toContain(pc.createColors(true).red('retransmission: SYN seq=0'));
  }, 20000);
});

test('wirelab run --packets, with no capture in the result, prints the exchange and says to run with --capture', async () => {
  const { code, stdout } = await wirelab(['run', '--free-ports', '--packets', 'scenarios/resolve-then-fetch.yaml']);
  expect(code).toBe(0);
  expect(stdout).toMatch(/→ ns\.lab\.test:53 {2}A\? www\.lab\.test/);
  expect(stdout.split('\n').filter((l) => l.trim() === NO_PACKETS).length).toBeGreaterThanOrEqual(2);
}, 60000);
