/**
 * Properties of the packet readers (fast-check, fixed seed): a capture file written by
 * us reads back as the packets written, however its bytes arrive; any bytes at all, as
 * a capture file or as a header at any layer, give a result or the reader's declared
 * error (CaptureFormatError, DecodeError), never another exception.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { DecodeError } from '../../../lab-runner/packets/bytes';
import { decodePacket } from '../../../lab-runner/packets/decode';
import { decodeIpv4, internetChecksum } from '../../../lab-runner/packets/ipv4';
import { decodeIpv6 } from '../../../lab-runner/packets/ipv6';
import { decodeLink, LINKTYPE } from '../../../lab-runner/packets/link';
import { CaptureFormatError, CaptureReader, enhancedPacketBlock, interfaceDescriptionBlock, readCapture, sectionHeaderBlock, writePcapng, type CapturedPacket } from '../../../lab-runner/packets/pcapng';
import { decodeTcp } from '../../../lab-runner/packets/tcp';
import { decodeUdp } from '../../../lab-runner/packets/udp';
import { chunksOf, cuts, holds, PROPERTY_SEED, thrown, type ValueOf } from '../../helpers/properties';
import { compareWithTshark, tempDir } from './helpers';

const LINK_TYPES = Object.values(LINKTYPE);
const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

const iface = fc.record({ linkType: fc.constantFrom(...LINK_TYPES), snapLength: fc.integer({ min: 0, max: 262144 }), name: fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/), { nil: undefined }) });
const capture = fc.array(iface, { minLength: 1, maxLength: 3 }).chain((interfaces) =>
  fc.tuple(
    fc.constant(interfaces),
    fc.array(fc.record({ interfaceId: fc.nat({ max: interfaces.length - 1 }), timestampNs: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), data: bytes(200), extra: fc.nat({ max: 1000 }) }), { maxLength: 8 }),
  ),
);

describe('capture files (pcapng)', () => {
  test('what we write reads back as the same interfaces and packets, whatever chunks the file arrives in', () => {
    holds(
      fc.property(capture, cuts(), ([interfaces, drawn], at) => {
        const packets = drawn.map((p, i): CapturedPacket => ({ number: i + 1, interfaceId: p.interfaceId, linkType: interfaces[p.interfaceId]!.linkType, timestampNs: p.timestampNs, ms: Number(p.timestampNs / 1000n) / 1000, originalLength: p.data.length + p.extra, data: p.data }));
        const file = writePcapng(interfaces.map((f) => ({ ...f, unitsPerSecond: 1_000_000_000n, offsetSeconds: 0n })), packets);
        const whole = readCapture(file);
        expect(whole.packets).toEqual(packets);
        expect(whole.interfaces.map((f) => ({ linkType: f.linkType, snapLength: f.snapLength, name: f.name }))).toEqual(interfaces);
        const reader = new CaptureReader();
        const pieces = chunksOf(file, at).flatMap((chunk) => reader.push(chunk));
        reader.end();
        expect(pieces).toEqual(packets);
      }),
      300,
    );
  });

  /** The ways a file goes wrong: cut short, bytes changed, blocks of any content with valid framing. */
  const broken = fc.oneof(
    bytes(300),
    fc.tuple(capture, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat()).map(([[interfaces, drawn], edits, cut]) => {
      const file = Buffer.from(writePcapng(interfaces.map((f) => ({ ...f, unitsPerSecond: 1n, offsetSeconds: 0n })), drawn.map((p, i) => ({ number: i + 1, interfaceId: p.interfaceId, linkType: 1, timestampNs: p.timestampNs, ms: 0, originalLength: p.data.length, data: p.data }))));
      for (const [at, value] of edits) file[at % file.length] = value;
      return file.subarray(0, cut % (file.length + 1));
    }),
    // Well-framed blocks of any type with any body: the readers of each block type meet short and odd bodies.
    fc.array(fc.tuple(fc.constantFrom(1, 3, 4, 5, 6, 0x0a0d0d0a, 0xbad), bytes(40)), { maxLength: 4 }).map((blocks) =>
      Buffer.concat([
        sectionHeaderBlock(),
        ...blocks.map(([type, body]) => {
          const padded = Buffer.alloc(Math.ceil(body.length / 4) * 4);
          body.copy(padded);
          const block = Buffer.alloc(12 + padded.length);
          block.writeUInt32LE(type, 0);
          block.writeUInt32LE(block.length, 4);
          padded.copy(block, 8);
          block.writeUInt32LE(block.length, block.length - 4);
          return block;
        }),
      ]),
    ),
    fc.tuple(iface, bytes(40)).map(([f, tail]) => Buffer.concat([sectionHeaderBlock(), interfaceDescriptionBlock(f), enhancedPacketBlock({ interfaceId: 0, timestampNs: 1n, originalLength: 1, data: Buffer.from([1]) }).subarray(0, 8), tail])),
  );

  test('any bytes as a capture file: packets, or a CaptureFormatError that says where; nothing else', () => {
    holds(
      fc.property(broken, (file) => {
        const err = thrown(() => readCapture(file));
        if (err !== undefined) expect(err).toBeInstanceOf(CaptureFormatError);
      }),
      1000,
    );
  });
});

test('found by the property above: a block too short for its fixed fields is a CaptureFormatError that names it, not a RangeError', () => {
  const emptyBlock = (type: number): Buffer => Buffer.from([type, 0, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0]);
  for (const [type, name] of [[1, 'an Interface Description Block'], [6, 'an Enhanced Packet Block'], [3, 'a Simple Packet Block']] as const) {
    expect(() => readCapture(Buffer.concat([sectionHeaderBlock(), emptyBlock(type)]))).toThrow(new RegExp(`^${name} of 0 byte\\(s\\): its fixed fields take \\d+ \\(at byte \\d+\\)$`));
  }
});

describe('header decoders', () => {
  test('any bytes at any layer: a header whose payload lies within them, or a DecodeError; a whole packet never throws', () => {
    holds(
      fc.property(bytes(120), fc.constantFrom(...LINK_TYPES, 0xbad), (data, linkType) => {
        for (const decode of [(b: Buffer) => decodeLink(linkType, b), decodeIpv4, decodeIpv6, decodeTcp, decodeUdp]) {
          let payload: Buffer | undefined;
          const err = thrown(() => (payload = decode(data).payload));
          if (err !== undefined) expect(err).toBeInstanceOf(DecodeError);
          else expect(payload!.length).toBeLessThanOrEqual(data.length);
        }
        const decoded = decodePacket({ number: 1, interfaceId: 0, linkType, timestampNs: 0n, ms: 0, originalLength: data.length, data });
        expect(decoded.packet.data).toBe(data);
      }),
      2000,
    );
  });

  /** An IPv4 packet around any payload, with header fields drawn at random but its lengths consistent. */
  test('a well-framed IPv4 packet carrying any TCP or UDP bytes decodes down to its transport header or stops with a reason', () => {
    holds(
      fc.property(fc.constantFrom(6, 17, 1, 58), bytes(80), fc.nat({ max: 10 }), (protocol, payload, optionWords) => {
        const header = Buffer.alloc(20 + optionWords * 4);
        header[0] = 0x40 | (5 + optionWords);
        header.writeUInt16BE(header.length + payload.length, 2);
        header[9] = protocol;
        const frame = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x00]), header, payload]);
        const decoded = decodePacket({ number: 1, interfaceId: 0, linkType: LINKTYPE.ETHERNET, timestampNs: 0n, ms: 0, originalLength: frame.length, data: frame });
        expect(decoded.ip).toMatchObject({ version: 4, protocol, payload });
        if (decoded.error) expect(decoded.error).toMatch(/^(TCP|UDP): /);
        else if (protocol === 6) expect(decoded.tcp).toBeDefined();
        else if (protocol === 17) expect(decoded.udp).toBeDefined();
      }),
      500,
    );
  });
});

// ---------------------------------------------------------------------------
// Agreement with a reference: packets drawn at random (well framed, every header field
// at random, checksums right or wrong, TCP options of every kind), written to one
// capture file, decoded by ours and by tshark: every field must read the same.

const u = (bytes: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** (8 * bytes) - 1 });
/** High ports: no tshark dissector claims them, so the payload stays a payload. */
const port = fc.integer({ min: 49152, max: 65535 });
const tcpOption = fc.oneof(
  fc.constant([1]), // NOP
  u(2).map((mss) => [2, 4, mss >> 8, mss & 255]),
  fc.integer({ min: 0, max: 14 }).map((shift) => [3, 3, shift]),
  fc.constant([4, 2]), // SACK permitted
  fc.tuple(u(4), u(4)).map(([value, echo]) => [8, 10, ...[24, 16, 8, 0].map((b) => (value >>> b) & 255), ...[24, 16, 8, 0].map((b) => (echo >>> b) & 255)]),
);
const transport = fc.oneof(
  // Each option kind once, as a real stack sends them (tshark lists every copy of a repeated one, ours keeps the last).
  fc.record({ kind: fc.constant('tcp' as const), src: port, dst: port, seq: u(4), ack: u(4), flags: u(1), window: u(2), checksum: u(2), urgent: u(2), options: fc.uniqueArray(tcpOption, { maxLength: 4, selector: (o) => o[0] }), payload: bytes(40) }),
  fc.record({ kind: fc.constant('udp' as const), src: port, dst: port, checksum: u(2), payload: bytes(40) }),
);

function transportBytes(t: ValueOf<typeof transport>): { protocol: number; bytes: Buffer } {
  if (t.kind === 'udp') {
    const header = Buffer.alloc(8);
    header.writeUInt16BE(t.src, 0);
    header.writeUInt16BE(t.dst, 2);
    header.writeUInt16BE(8 + t.payload.length, 4);
    header.writeUInt16BE(t.checksum, 6);
    return { protocol: 17, bytes: Buffer.concat([header, t.payload]) };
  }
  const options = t.options.flat();
  while (options.length % 4) options.push(1); // No-Operation pads to a whole word
  const header = Buffer.alloc(20);
  header.writeUInt16BE(t.src, 0);
  header.writeUInt16BE(t.dst, 2);
  header.writeUInt32BE(t.seq, 4);
  header.writeUInt32BE(t.ack, 8);
  header[12] = ((20 + options.length) / 4) << 4;
  // Data on a RST is "diagnostic" (RFC 9293 3.5.3): tshark shows it as the reset's cause, not as tcp.payload.
  header[13] = t.payload.length > 0 ? t.flags & ~0x04 : t.flags;
  header.writeUInt16BE(t.window, 14);
  header.writeUInt16BE(t.checksum, 16);
  header.writeUInt16BE(t.urgent, 18);
  return { protocol: 6, bytes: Buffer.concat([header, Buffer.from(options), t.payload]) };
}

const packet = fc.record({
  link: fc.constantFrom(LINKTYPE.ETHERNET, LINKTYPE.LINUX_SLL, LINKTYPE.NULL),
  ip: fc.oneof(
    fc.record({ version: fc.constant(4 as const), tos: u(1), id: u(2), df: fc.boolean(), ttl: u(1), src: u(4), dst: u(4), rightChecksum: fc.boolean(), checksum: u(2) }),
    fc.record({ version: fc.constant(6 as const), trafficClass: u(1), flow: fc.integer({ min: 0, max: 0xfffff }), hopLimit: u(1), src: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)), dst: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)) }),
  ),
  transport,
});

function frameOf(p: ValueOf<typeof packet>): Buffer {
  const { protocol, bytes: segment } = transportBytes(p.transport);
  let ip: Buffer;
  if (p.ip.version === 4) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[1] = p.ip.tos;
    ip.writeUInt16BE(20 + segment.length, 2);
    ip.writeUInt16BE(p.ip.id, 4);
    ip.writeUInt16BE(p.ip.df ? 0x4000 : 0, 6);
    ip[8] = p.ip.ttl;
    ip[9] = protocol;
    ip.writeUInt32BE(p.ip.src, 12);
    ip.writeUInt32BE(p.ip.dst, 16);
    ip.writeUInt16BE(p.ip.rightChecksum ? internetChecksum(ip) : p.ip.checksum, 10);
  } else {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(((6 << 28) | (p.ip.trafficClass << 20) | p.ip.flow) >>> 0, 0);
    ip.writeUInt16BE(segment.length, 4);
    ip[6] = protocol;
    ip[7] = p.ip.hopLimit;
    p.ip.src.copy(ip, 8);
    p.ip.dst.copy(ip, 24);
  }
  const datagram = Buffer.concat([ip, segment]);
  const etherType = p.ip.version === 4 ? 0x0800 : 0x86dd;
  if (p.link === LINKTYPE.ETHERNET) return Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, etherType >> 8, etherType & 255]), datagram]);
  if (p.link === LINKTYPE.LINUX_SLL) return Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, etherType >> 8, etherType & 255]), datagram]);
  const family = Buffer.alloc(4);
  family.writeUInt32LE(p.ip.version === 4 ? 2 : 24, 0); // AF_INET, and AF_INET6 as the BSDs number it (NULL is their link type), in the capturing machine's order
  return Buffer.concat([family, datagram]);
}

test('packets drawn at random decode field for field as tshark decodes them', async () => {
  const drawn = fc.sample(packet, { seed: PROPERTY_SEED, numRuns: 150 });
  const interfaces = [LINKTYPE.ETHERNET, LINKTYPE.LINUX_SLL, LINKTYPE.NULL].map((linkType) => ({ linkType, snapLength: 262144, unitsPerSecond: 1_000_000_000n, offsetSeconds: 0n }));
  const packets = drawn.map((p, i): CapturedPacket => {
    const data = frameOf(p);
    const interfaceId = interfaces.findIndex((f) => f.linkType === p.link);
    return { number: i + 1, interfaceId, linkType: p.link, timestampNs: BigInt(i) * 1_000_000n, ms: i, originalLength: data.length, data };
  });
  const file = path.join(await tempDir(), 'drawn.pcapng');
  await writeFile(file, writePcapng(interfaces, packets));
  await compareWithTshark(file);
}, 60_000);
