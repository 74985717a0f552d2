import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PacketCapture, portFilter, type CaptureOptions } from '../../../lab-runner/packets/capture';
import { decodePacket, type DecodedPacket } from '../../../lab-runner/packets/decode';
import { readCapture } from '../../../lab-runner/packets/pcapng';
import { startLab as startDns, type RunningServer as DnsServer } from '../../services/dns/clients';
import { startServer as startHttp, type RunningServer as HttpServer } from '../../services/http/harness';
import { Child, run, type RunResult } from '../../helpers/process';
import { listenTcp, RawSocket } from '../../helpers/socket';
import { within } from '../../helpers/wait';

/**
 * What the packet tests share: real captures made on loopback while real clients
 * talk, and tshark's reading of the same files, to compare ours with.
 */

/** Capturing on the machine's own lo needs root (CAP_NET_RAW); the test machine is root. */
export const rootOnly = process.getuid?.() === 0 ? describe : describe.skip;

export const tempDir = (): Promise<string> => mkdtemp(path.join(os.tmpdir(), 'wirelab-packets-'));

/** What tshark says, with its warning about running as root left out. */
export async function tshark(args: string[]): Promise<RunResult> {
  const ran = await run('tshark', args);
  return { ...ran, stderr: ran.stderr.replace(/^Running as user "root".*\n?/m, '') };
}

/** tshark -T fields: one record per frame, field name -> text ('' when absent, `a,b` when repeated). */
export async function tsharkRows(file: string, fields: readonly string[], extra: string[] = []): Promise<Record<string, string>[]> {
  const ran = await tshark(['-r', file, '-n', ...extra, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])]);
  if (ran.code !== 0) throw new Error(`tshark failed on ${file}: ${ran.stderr}`);
  return ran.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const values = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, values[i] ?? '']));
    });
}

/** What is wrong with a capture file in tshark's eyes: an exit code, a "cut short", any error. */
export async function tsharkProblems(file: string): Promise<string[]> {
  const ran = await tshark(['-r', file, '-q']);
  const problems = ran.stderr.split('\n').filter((l) => l.trim() !== '');
  return ran.code === 0 ? problems : [`exit ${ran.code}`, ...problems];
}

/** Capture on loopback, as root, while `traffic` runs (it may wait on the capture); synced and stopped after. */
export async function captureWhile(options: CaptureOptions, traffic: (capture: PacketCapture) => Promise<void>): Promise<PacketCapture> {
  const capture = await PacketCapture.start(options);
  try {
    await traffic(capture);
  } finally {
    await capture.stop();
  }
  return capture;
}

export interface Scratch {
  /** A temporary folder for capture files. */
  dir: string;
  /** A port nothing listens on. */
  refused: number;
  http: HttpServer;
  dns: DnsServer;
}

/**
 * For a test file: a scratch folder, a closed port, and (if asked) the lab's HTTP and
 * DNS servers on free ports; made before its tests, gone after. The fields are there
 * once the tests run.
 */
export function useScratch(servers: { http?: boolean; dns?: boolean } = {}): Scratch {
  const scratch = {} as Scratch;
  beforeAll(async () => {
    scratch.dir = await tempDir();
    scratch.refused = await closedPort();
    if (servers.http) scratch.http = await startHttp();
    if (servers.dns) scratch.dns = await startDns();
  });
  afterAll(async () => {
    await scratch.http?.stop();
    await scratch.dns?.server.close();
    await rm(scratch.dir, { recursive: true, force: true });
  });
  return scratch;
}

/**
 * A real retransmission, captured (to `file` if given): Python listens with a backlog of
 * 0 and never accepts; once one connection waits in its queue, Linux drops the next
 * SYN, and that client sends it again after its retransmission timeout (1 s, RFC 6298
 * section 2.1). The capture holds the first connection's handshake, then the second
 * client's SYN twice; `port` is the listener's.
 */
export async function synRetransmission(file?: string): Promise<{ capture: PacketCapture; port: number }> {
  const python = Child.start('python3', ['-c', 'import socket, sys\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\ns.listen(0)\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()'], { name: 'a python3 listener that never accepts', stdin: 'pipe' });
  const port = Number((await python.waitFor(/^(\d+)$/))[1]);
  const sockets: net.Socket[] = [];
  try {
    const capture = await captureWhile({ filter: portFilter([port]), ...(file ? { file } : {}) }, async (live) => {
      sockets.push((await RawSocket.connect(port)).socket);
      // Its SYN is dropped (the queue is full): no wait for its connection, only for the SYN sent again.
      sockets.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
      await live.waitFor((packets) => packets.filter((p) => p.tcp?.flagNames.join() === 'SYN').length >= 3, 10000, 'the second client to send its SYN again');
    });
    return { capture, port };
  } finally {
    for (const s of sockets) s.destroy();
    await python.stop();
  }
}

/** A refused connection from Node: the SYN and the RST; resolves once the RST is in. */
export const refusedConnection = (port: number): Promise<void> =>
  within(
    new Promise((resolve) => net.connect(port, '127.0.0.1').on('error', () => resolve())),
    `the connection to 127.0.0.1:${port} to be refused`,
  );

/** A port on 127.0.0.1 that nothing listens on: bound, then let go. */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const server = await listenTcp(undefined, host);
  await server.close();
  return server.port;
}

/** `nc -z`: a connection opened and closed at once (refused, on a closed port). */
export const ncProbe = (host: string, port: number): Promise<RunResult> => run('nc', ['-z', '-w', '5', host, String(port)]);

/**
 * A capture file written by the tool itself (dumpcap's pcapng, tcpdump's pcap), of
 * `count` packets: `traffic` is repeated until the tool has them and exits.
 */
export async function toolFile(command: string[], traffic: () => Promise<unknown>, deadlineMs = 20000): Promise<void> {
  const child = Child.start(command[0]!, command.slice(1), { name: command.join(' ') });
  const deadline = Date.now() + deadlineMs;
  while (child.running) {
    if (Date.now() > deadline) {
      await child.stop('SIGKILL');
      throw new Error(`${command.join(' ')} did not capture its packets within ${deadlineMs} ms: ${child.stderr}`);
    }
    await Promise.race([traffic(), child.exited]);
  }
  const { code } = await child.exit();
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}: ${child.stderr}`);
}

// --- Our decoding, written as tshark's fields ---

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;
const bool = (b: boolean): string => (b ? '1' : '0');
const epoch = (ns: bigint): string => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;

export const FIELDS = {
  frame: ['frame.len', 'frame.cap_len', 'frame.time_epoch'],
  eth: ['eth.dst', 'eth.src', 'eth.type'],
  sll: ['sll.pkttype', 'sll.src.eth', 'sll.etype', 'sll.ifindex'],
  null: ['null.family'],
  ip: ['ip.version', 'ip.hdr_len', 'ip.dsfield.dscp', 'ip.dsfield.ecn', 'ip.len', 'ip.id', 'ip.flags.df', 'ip.flags.mf', 'ip.frag_offset', 'ip.ttl', 'ip.proto', 'ip.checksum', 'ip.checksum.status', 'ip.src', 'ip.dst'],
  ipv6: ['ipv6.version', 'ipv6.tclass', 'ipv6.flow', 'ipv6.plen', 'ipv6.nxt', 'ipv6.hlim', 'ipv6.src', 'ipv6.dst', 'ipv6.hopopts.len_oct', 'ipv6.dstopts.len_oct'],
  tcp: [
    'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.hdr_len', 'tcp.flags', 'tcp.window_size_value', 'tcp.checksum', 'tcp.urgent_pointer', 'tcp.len',
    'tcp.option_kind', 'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr', 'tcp.payload',
  ],
  udp: ['udp.srcport', 'udp.dstport', 'udp.length', 'udp.checksum', 'udp.payload'],
} as const;

export const ALL_FIELDS = Object.values(FIELDS).flat();

/** tshark options for the comparison: check IPv4 header checksums (off by default), so ip.checksum.status means something. */
export const TSHARK_OPTIONS = ['-o', 'ip.check_checksum:TRUE'];

/** Our decoding of one packet, as tshark's fields would show it: every field of ALL_FIELDS, '' when absent. */
export function ourFields(d: DecodedPacket): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(ALL_FIELDS.map((f) => [f, '']));
  const set = (values: Record<string, string | number | undefined>): void => {
    for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = String(v);
  };
  set({ 'frame.len': d.packet.originalLength, 'frame.cap_len': d.packet.data.length, 'frame.time_epoch': epoch(d.packet.timestampNs) });
  const link = d.link!;
  if (link.linkType === 1) set({ 'eth.dst': link.destination, 'eth.src': link.source, 'eth.type': hex(link.type, 4) });
  if (link.linkType === 113 || link.linkType === 276) {
    set({ 'sll.pkttype': link.packetType, 'sll.src.eth': link.source, 'sll.etype': hex(link.type, 4), 'sll.ifindex': link.interfaceIndex });
  }
  if (link.linkType === 0 || link.linkType === 108) set({ 'null.family': link.type });
  const ip = d.ip;
  if (ip?.version === 4) {
    set({
      'ip.version': 4, 'ip.hdr_len': ip.headerLength, 'ip.dsfield.dscp': ip.dscp, 'ip.dsfield.ecn': ip.ecn, 'ip.len': ip.totalLength, 'ip.id': hex(ip.identification, 4),
      'ip.flags.df': bool(ip.dontFragment), 'ip.flags.mf': bool(ip.moreFragments), 'ip.frag_offset': ip.fragmentOffset, 'ip.ttl': ip.ttl, 'ip.proto': ip.protocol,
      'ip.checksum': hex(ip.checksum, 4), 'ip.checksum.status': ip.checksumOk ? 1 : 0, 'ip.src': ip.source, 'ip.dst': ip.destination,
    });
  }
  if (ip?.version === 6) {
    set({
      // Wireshark files the version nibble under ip.version for both.
      'ip.version': 6, 'ipv6.version': 6, 'ipv6.tclass': hex(ip.trafficClass, 8), 'ipv6.flow': hex(ip.flowLabel, 6), 'ipv6.plen': ip.payloadLength, 'ipv6.nxt': ip.nextHeader,
      'ipv6.hlim': ip.hopLimit, 'ipv6.src': ip.source, 'ipv6.dst': ip.destination,
      'ipv6.hopopts.len_oct': ip.extensions.filter((e) => e.type === 0).map((e) => e.length).join(',') || undefined,
      'ipv6.dstopts.len_oct': ip.extensions.filter((e) => e.type === 60).map((e) => e.length).join(',') || undefined,
    });
  }
  const t = d.tcp;
  if (t) {
    set({
      'tcp.srcport': t.sourcePort, 'tcp.dstport': t.destinationPort, 'tcp.seq_raw': t.seq, 'tcp.ack_raw': t.ack, 'tcp.hdr_len': t.headerLength, 'tcp.flags': hex(t.flags, 4),
      'tcp.window_size_value': t.window, 'tcp.checksum': hex(t.checksum, 4), 'tcp.urgent_pointer': t.urgentPointer, 'tcp.len': t.payload.length,
      'tcp.option_kind': t.options.map((o) => o.kind).join(',') || undefined, 'tcp.options.mss_val': t.mss, 'tcp.options.wscale.shift': t.windowScale,
      'tcp.options.timestamp.tsval': t.timestamp?.value, 'tcp.options.timestamp.tsecr': t.timestamp?.echo, 'tcp.payload': t.payload.toString('hex') || undefined,
    });
  }
  const u = d.udp;
  if (u) {
    set({ 'udp.srcport': u.sourcePort, 'udp.dstport': u.destinationPort, 'udp.length': u.length, 'udp.checksum': hex(u.checksum, 4), 'udp.payload': u.payload.toString('hex') || undefined });
  }
  return out;
}

/** Where our decoding and tshark's differ: `frame 3 tcp.flags: ours 0x0012, tshark 0x0010`. */
export function differences(ours: Record<string, string>[], theirs: Record<string, string>[]): string[] {
  const out: string[] = [];
  if (ours.length !== theirs.length) out.push(`${ours.length} packets decoded, tshark read ${theirs.length}`);
  ours.forEach((row, i) => {
    for (const [field, value] of Object.entries(row)) {
      const their = theirs[i]?.[field] ?? '';
      if (their !== value) out.push(`frame ${i + 1} ${field}: ours ${JSON.stringify(value)}, tshark ${JSON.stringify(their)}`);
    }
  });
  return out;
}

/** Decode every packet of the file with ours and with tshark: they must agree on every field. */
export async function compareWithTshark(file: string): Promise<DecodedPacket[]> {
  const decoded = readCapture(await readFile(file)).packets.map(decodePacket);
  expect(decoded.filter((d) => d.error).map((d) => d.error)).toEqual([]);
  const theirs = await tsharkRows(file, ALL_FIELDS, TSHARK_OPTIONS);
  expect(differences(decoded.map(ourFields), theirs)).toEqual([]);
  return decoded;
}
