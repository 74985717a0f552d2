/**
 * The capture-file reader and writer against the tools: files written by dumpcap
 * (pcapng), tcpdump (pcap, micro- and nanoseconds) and editcap, of real refused
 * connections on loopback, read by ours and by tshark; our own pcapng files opened by
 * tshark; big-endian files; files cut short.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { portFilter } from '../../../lab-runner/packets/capture';
import { CaptureFormatError, CaptureReader, readCapture, writePcapng, type CapturedPacket, type CaptureInterface } from '../../../lab-runner/packets/pcapng';
import { run } from '../../helpers/process';
import { captureWhile, compareWithTshark, refusedConnection, rootOnly, toolFile, tshark, tsharkProblems, tsharkRows, useScratch } from './helpers';

const lab = useScratch();

/** One refused connection (a SYN, a RST): the traffic the tools' own files hold. */
const knock = (): Promise<void> => refusedConnection(lab.refused);

/** tshark's frame times and lengths, to hold our reader's against. */
const frames = (file: string): Promise<Record<string, string>[]> => tsharkRows(file, ['frame.time_epoch', 'frame.len', 'frame.cap_len']);
const ourFrames = (packets: readonly CapturedPacket[]): Record<string, string>[] =>
  packets.map((p) => ({
    'frame.time_epoch': `${p.timestampNs / 1_000_000_000n}.${(p.timestampNs % 1_000_000_000n).toString().padStart(9, '0')}`,
    'frame.len': String(p.originalLength),
    'frame.cap_len': String(p.data.length),
  }));

rootOnly('files the tools wrote, read by ours and by tshark alike', () => {
  test.each([
    ['dumpcap: pcapng, nanoseconds (if_tsresol 9), an Interface Statistics Block at the end', 'dumpcap.pcapng', (f: string) => ['dumpcap', '-i', 'lo', '-f', `tcp port ${lab.refused}`, '-c', '4', '-w', f], 'pcapng'],
    ['tcpdump: pcap, microseconds', 'tcpdump-micro.pcap', (f: string) => ['tcpdump', '-i', 'lo', '-c', '4', '-w', f, `tcp port ${lab.refused}`], 'pcap'],
    ['tcpdump: pcap, nanoseconds', 'tcpdump-nano.pcap', (f: string) => ['tcpdump', '-i', 'lo', '--time-stamp-precision=nano', '-c', '4', '-w', f, `tcp port ${lab.refused}`], 'pcap'],
  ])('%s', async (_what, name, command, format) => {
    const file = path.join(lab.dir, name);
    await toolFile(command(file), knock);
    const read = readCapture(await readFile(file));
    expect(read.format).toBe(format);
    expect(read.packets.length).toBe(4);
    expect(ourFrames(read.packets)).toEqual(await frames(file));
    await compareWithTshark(file);
  });

  test('editcap: pcapng whose interface block has no options, so microseconds, the default resolution', async () => {
    const micro = path.join(lab.dir, 'for-editcap.pcap');
    const file = path.join(lab.dir, 'editcap.pcapng');
    await toolFile(['tcpdump', '-i', 'lo', '-c', '2', '-w', micro, `tcp port ${lab.refused}`], knock);
    expect((await run('editcap', ['-F', 'pcapng', micro, file])).code).toBe(0);
    const read = readCapture(await readFile(file));
    expect(read.interfaces).toEqual([expect.objectContaining({ linkType: 1, unitsPerSecond: 1_000_000n })]);
    expect(ourFrames(read.packets)).toEqual(await frames(file));
    // The same packets as the pcap they came from.
    expect(read.packets.map((p) => p.data)).toEqual(readCapture(await readFile(micro)).packets.map((p) => p.data));
  });
});

rootOnly('pcapng written by us', () => {
  let file: string;
  let packets: CapturedPacket[];
  let interfaces: readonly CaptureInterface[];

  beforeAll(async () => {
    file = path.join(lab.dir, 'ours.pcapng');
    const capture = await captureWhile({ filter: portFilter([lab.refused]), file }, async () => {
      for (let i = 0; i < 3; i++) await knock();
    });
    packets = capture.packets.map((d) => d.packet);
    interfaces = capture.interfaces;
  });

  test('the capture file opens in tshark without a complaint, with the packets we kept', async () => {
    expect(await tsharkProblems(file)).toEqual([]);
    expect(packets.length).toBe(6);
    expect(ourFrames(readCapture(await readFile(file)).packets)).toEqual(await frames(file));
    expect(ourFrames(packets)).toEqual(await frames(file));
    await compareWithTshark(file);
  });

  test('a step cut into its own file: the interface, the chosen packets, nothing else', async () => {
    const cut = path.join(lab.dir, 'cut.pcapng');
    const chosen = [packets[2]!, packets[3]!];
    await writeFile(cut, writePcapng(interfaces, chosen));
    expect(await tsharkProblems(cut)).toEqual([]);
    expect(ourFrames(chosen)).toEqual(await frames(cut));
    const back = readCapture(await readFile(cut));
    expect(back.packets.map((p) => [p.number, p.timestampNs, p.data])).toEqual(chosen.map((p, i) => [i + 1, p.timestampNs, p.data]));
  });

  test('bytes that come one at a time (as from a pipe) give the same packets', async () => {
    const bytes = await readFile(file);
    const reader = new CaptureReader();
    const got: CapturedPacket[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...reader.push(bytes.subarray(i, i + 1)));
    reader.end();
    expect(got).toEqual(readCapture(bytes).packets);
  });

  test('a file cut short: ours says so and where, as tshark does', async () => {
    const bytes = await readFile(file);
    const short = path.join(lab.dir, 'short.pcapng');
    await writeFile(short, bytes.subarray(0, bytes.length - 10));
    expect(() => readCapture(bytes.subarray(0, bytes.length - 10))).toThrow(/cut short: \d+ byte\(s\) of an unfinished block \(at byte \d+\)/);
    expect((await tshark(['-r', short])).stderr).toMatch(/cut short/);
  });

  test('big-endian files (a SPARC or PowerPC machine writes those) read the same, here and in tshark', async () => {
    const bigPcapng = path.join(lab.dir, 'big.pcapng');
    const bigPcap = path.join(lab.dir, 'big.pcap');
    await writeFile(bigPcapng, bigEndianPcapng(interfaces[0]!, packets));
    await writeFile(bigPcap, bigEndianPcap(interfaces[0]!, packets));
    for (const big of [bigPcapng, bigPcap]) {
      expect(await tsharkProblems(big)).toEqual([]);
      const read = readCapture(await readFile(big));
      expect(read.packets.map((p) => [p.timestampNs, p.data])).toEqual(packets.map((p) => [p.timestampNs, p.data]));
      await compareWithTshark(big);
    }
  });
});

describe('not capture files', () => {
  test('text is lab.refused with what it starts with; tshark refuses it too', async () => {
    const text = path.join(lab.dir, 'notes.txt');
    await writeFile(text, 'GET / HTTP/1.1\r\n\r\n');
    expect(() => readCapture(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toThrow(CaptureFormatError);
    expect(() => readCapture(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toThrow(/not a capture file: it starts with 0x47455420/);
    expect((await tshark(['-r', text])).code).not.toBe(0);
  });

  test('an empty file, and one too short to say what it is', () => {
    expect(() => readCapture(Buffer.alloc(0))).toThrow(/an empty capture file/);
    expect(() => readCapture(Buffer.from([0x0a, 0x0d]))).toThrow(/2 byte\(s\): too short for a capture file/);
  });
});

// --- Big-endian writers, for the test only: the same blocks with every number the other way round ---

function beBlock(type: number, body: Buffer): Buffer {
  const padded = Buffer.alloc((body.length + 3) & ~3);
  body.copy(padded);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(type, 0);
  head.writeUInt32BE(padded.length + 12, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(padded.length + 12, 0);
  return Buffer.concat([head, padded, tail]);
}

function bigEndianPcapng(iface: CaptureInterface, packets: readonly CapturedPacket[]): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32BE(0x1a2b3c4d, 0);
  shb.writeUInt16BE(1, 4);
  shb.writeBigInt64BE(-1n, 8);
  // Link type, reserved, snap length; option if_tsresol (code 9, length 1) = 9, padded to 4; opt_endofopt (4 zero bytes).
  const idb = Buffer.alloc(20);
  idb.writeUInt16BE(iface.linkType, 0);
  idb.writeUInt32BE(iface.snapLength, 4);
  idb.writeUInt16BE(9, 8);
  idb.writeUInt16BE(1, 10);
  idb[12] = 9;
  const epbs = packets.map((p) => {
    const fixed = Buffer.alloc(20);
    fixed.writeUInt32BE(0, 0);
    fixed.writeUInt32BE(Number(p.timestampNs >> 32n), 4);
    fixed.writeUInt32BE(Number(p.timestampNs & 0xffffffffn), 8);
    fixed.writeUInt32BE(p.data.length, 12);
    fixed.writeUInt32BE(p.originalLength, 16);
    return beBlock(6, Buffer.concat([fixed, p.data]));
  });
  return Buffer.concat([beBlock(0x0a0d0d0a, shb), beBlock(1, idb), ...epbs]);
}

function bigEndianPcap(iface: CaptureInterface, packets: readonly CapturedPacket[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32BE(0xa1b23c4d, 0); // nanosecond timestamps
  header.writeUInt16BE(2, 4);
  header.writeUInt16BE(4, 6);
  header.writeUInt32BE(iface.snapLength, 16);
  header.writeUInt32BE(iface.linkType, 20);
  const records = packets.map((p) => {
    const record = Buffer.alloc(16);
    record.writeUInt32BE(Number(p.timestampNs / 1_000_000_000n), 0);
    record.writeUInt32BE(Number(p.timestampNs % 1_000_000_000n), 4);
    record.writeUInt32BE(p.data.length, 8);
    record.writeUInt32BE(p.originalLength, 12);
    return Buffer.concat([record, p.data]);
  });
  return Buffer.concat([header, ...records]);
}
