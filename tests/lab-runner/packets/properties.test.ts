/**
 * Properties of the packet readers (fast-check, fixed seed): a capture file written by
 * us reads back as the packets written, however its bytes arrive; any bytes at all, as
 * a capture file or as a header at any layer, give a result or the reader's declared
 * error (CaptureFormatError, DecodeError), never another exception.
 */
import fc from 'fast-check';
import { DecodeError } from '../../../lab-runner/packets/bytes';
import { decodePacket } from '../../../lab-runner/packets/decode';
import { decodeIpv4 } from '../../../lab-runner/packets/ipv4';
import { decodeIpv6 } from '../../../lab-runner/packets/ipv6';
import { decodeLink, LINKTYPE } from '../../../lab-runner/packets/link';
import { CaptureFormatError, CaptureReader, enhancedPacketBlock, interfaceDescriptionBlock, readCapture, sectionHeaderBlock, writePcapng, type CapturedPacket } from '../../../lab-runner/packets/pcapng';
import { decodeTcp } from '../../../lab-runner/packets/tcp';
import { decodeUdp } from '../../../lab-runner/packets/udp';
import { chunksOf, cuts, holds, thrown } from '../../helpers/properties';

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
