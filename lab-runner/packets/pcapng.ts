/**
 * Capture files: pcapng (what dumpcap and Wireshark write) and classic pcap (what
 * `tcpdump -w` writes), read into packets; and a pcapng writer, to cut a step's
 * packets into a file of their own.
 *
 * A pcapng file is a list of blocks (draft-ietf-opsawg-pcapng section 3.1), each:
 *
 *    0                   1                   2                   3
 *    +---------------------------------------------------------------+
 *  0 |                          Block Type                           |
 *    +---------------------------------------------------------------+
 *  4 |                      Block Total Length                       |
 *    +---------------------------------------------------------------+
 *  8 /                          Block Body                           /
 *    +---------------------------------------------------------------+
 *    |                      Block Total Length                       |
 *    +---------------------------------------------------------------+
 *
 * The length comes twice so a reader can walk the file backwards too. A file starts
 * with a Section Header Block, whose byte-order magic says whether the numbers of the
 * section are big- or little-endian (whatever the writing machine used). Interface
 * Description Blocks say what each capturing interface was (its link type: Ethernet,
 * Linux "cooked", BSD loopback...), and each packet is an Enhanced (or Simple) Packet
 * Block naming its interface. Blocks a reader does not know are skipped: that is what
 * the repeated length is for.
 *
 * Classic pcap (draft-ietf-opsawg-pcap) is simpler: one file header with the link
 * type, then packet records. Both are read by the same CaptureReader, fed the bytes
 * as they come (from a file, or from tcpdump's stdout while it captures).
 */

/** Block types (draft-ietf-opsawg-pcapng section 11.1). */
export const BLOCK = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 0x00000001,
  simplePacket: 0x00000003,
  nameResolution: 0x00000004,
  interfaceStatistics: 0x00000005,
  enhancedPacket: 0x00000006,
} as const;

/** Written in the writer's byte order; read back in the other one, it says "swap" (section 4.1). */
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/**
 * The option codes we read or write. A code means something different in each block
 * type: 2 is if_name in an Interface Description Block (section 4.2), shb_hardware
 * in a Section Header Block (section 4.1). 0 and 1 are the same everywhere (section 3.5).
 */
const OPTION = { endOfOptions: 0, comment: 1, shbUserappl: 4, ifName: 2, ifTsresol: 9, ifTsoffset: 14 } as const;

/** Classic pcap's magic numbers: microsecond or nanosecond timestamps (draft-ietf-opsawg-pcap section 4). */
const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
const PCAP_MAGIC_NANO = 0xa1b23c4d;

export interface CaptureInterface {
  /** LINKTYPE_ value: 1 Ethernet, 0 BSD loopback, 113 Linux cooked (SLL), 276 SLL2... see link.ts. */
  linkType: number;
  /** Bytes kept of each packet at most; 0 means no limit. */
  snapLength: number;
  /** `lo`, `any`... (pcapng's if_name option; classic pcap has none). */
  name?: string;
  /** Timestamp units per second: 1e6 by default, 1e9 for nanoseconds (if_tsresol). */
  unitsPerSecond: bigint;
  /** Seconds to add to every timestamp (if_tsoffset); 0 nearly always. */
  offsetSeconds: bigint;
}

export interface CapturedPacket {
  /** 1, 2, 3...: the frame number Wireshark shows. */
  number: number;
  /** Index of its interface in the capture's interface list. */
  interfaceId: number;
  linkType: number;
  /** When the kernel saw it, in nanoseconds since 1970 (exact, for writing back). */
  timestampNs: bigint;
  /** The same, in milliseconds since 1970: what the runner's transcripts use. */
  ms: number;
  /** The packet's length on the wire; `data` may be shorter if the snap length cut it. */
  originalLength: number;
  data: Buffer;
}

/** A capture file that is not one, or is cut short: says where and what. */
export class CaptureFormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'CaptureFormatError';
  }
}

/** A number reader for one byte order. */
interface Numbers {
  u16(b: Buffer, at: number): number;
  u32(b: Buffer, at: number): number;
}
const LE: Numbers = { u16: (b, at) => b.readUInt16LE(at), u32: (b, at) => b.readUInt32LE(at) };
const BE: Numbers = { u16: (b, at) => b.readUInt16BE(at), u32: (b, at) => b.readUInt32BE(at) };

const pad4 = (n: number): number => (n + 3) & ~3;

/** The bytes of fixed fields at the start of a block's body, by block type. */
const FIXED_FIELDS: Record<number, { name: string; bytes: number }> = {
  [BLOCK.sectionHeader]: { name: 'a Section Header Block', bytes: 16 },
  [BLOCK.interfaceDescription]: { name: 'an Interface Description Block', bytes: 8 },
  [BLOCK.enhancedPacket]: { name: 'an Enhanced Packet Block', bytes: 20 },
  [BLOCK.simplePacket]: { name: 'a Simple Packet Block', bytes: 4 },
};

/**
 * Reads a pcapng or pcap file from its bytes, in as many pieces as they come:
 * `push(chunk)` returns the packets now complete, `end()` says whether the file
 * stopped in the middle of something.
 */
export class CaptureReader {
  format?: 'pcapng' | 'pcap';
  readonly interfaces: CaptureInterface[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes of the file consumed so far: error messages say where. */
  private consumed = 0;
  private numbers: Numbers = LE;
  private count = 0;

  push(chunk: Buffer): CapturedPacket[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const packets: CapturedPacket[] = [];
    for (;;) {
      if (this.format === undefined) {
        if (this.buffer.length < 4) break;
        this.format = sniff(this.buffer);
      }
      const used = this.format === 'pcapng' ? this.pcapngBlock(packets) : this.interfaces.length ? this.pcapRecord(packets) : this.pcapHeader();
      if (used === 0) break;
      this.buffer = this.buffer.subarray(used);
      this.consumed += used;
    }
    return packets;
  }

  /** The file is over: anything left is a block or record cut short. */
  end(): void {
    if (this.format === undefined) throw new CaptureFormatError(this.buffer.length ? `${this.buffer.length} byte(s): too short for a capture file` : 'an empty capture file', 0);
    if (this.buffer.length) {
      throw new CaptureFormatError(`the capture file is cut short: ${this.buffer.length} byte(s) of an unfinished ${this.format === 'pcap' ? 'record' : 'block'}`, this.consumed);
    }
  }

  /** Bytes held back, waiting for the rest of their block. */
  get pending(): number {
    return this.buffer.length;
  }

  private packet(interfaceId: number, units: bigint, originalLength: number, data: Buffer): CapturedPacket {
    const iface = this.interfaces[interfaceId];
    if (!iface) throw new CaptureFormatError(`a packet names interface ${interfaceId}, which no Interface Description Block described`, this.consumed);
    const timestampNs = toNanoseconds(units, iface);
    return {
      number: ++this.count,
      interfaceId,
      linkType: iface.linkType,
      timestampNs,
      ms: Number(timestampNs / 1000n) / 1000,
      originalLength,
      // A copy: the packet outlives the chunk it came in.
      data: Buffer.from(data),
    };
  }

  /** One pcapng block from the front of the buffer; 0 if it is not all there yet. */
  private pcapngBlock(out: CapturedPacket[]): number {
    const b = this.buffer;
    if (b.length < 12) return 0;
    // The SHB's type reads the same in both byte orders: that is why it was chosen (section 4.1).
    if (b.readUInt32LE(0) === BLOCK.sectionHeader) {
      // Section 4.1: the byte-order magic right after the length says how to read this section.
      const magic = b.readUInt32LE(8);
      if (magic === BYTE_ORDER_MAGIC) this.numbers = LE;
      else if (magic === 0x4d3c2b1a) this.numbers = BE;
      else throw new CaptureFormatError(`a Section Header Block with byte-order magic 0x${magic.toString(16)}, neither 1a2b3c4d nor 4d3c2b1a`, this.consumed + 8);
    }
    const n = this.numbers;
    const length = n.u32(b, 4);
    if (length < 12 || length % 4 !== 0) throw new CaptureFormatError(`a block of length ${length}: a block is at least 12 bytes, a multiple of 4`, this.consumed);
    if (b.length < length) return 0;
    if (n.u32(b, length - 4) !== length) throw new CaptureFormatError(`a block whose trailing length ${n.u32(b, length - 4)} differs from its leading length ${length}`, this.consumed);
    const body = b.subarray(8, length - 4);
    const type = n.u32(b, 0);
    // Each block's fixed fields must be there before they are read (sections 4.1 to 4.4).
    const fixed = FIXED_FIELDS[type];
    if (fixed && body.length < fixed.bytes) throw new CaptureFormatError(`${fixed.name} of ${body.length} byte(s): its fixed fields take ${fixed.bytes}`, this.consumed);
    switch (type) {
      case BLOCK.sectionHeader: {
        const major = n.u16(body, 4);
        if (major !== 1) throw new CaptureFormatError(`pcapng version ${major}.${n.u16(body, 6)}: only version 1 is known`, this.consumed);
        // A new section starts afresh: its packets name its own interfaces (section 4.1).
        this.interfaces.length = 0;
        break;
      }
      case BLOCK.interfaceDescription:
        this.interfaces.push(this.readInterface(body));
        break;
      case BLOCK.enhancedPacket: {
        // Section 4.3: interface, timestamp (high, low), captured and original length, data, options.
        const interfaceId = n.u32(body, 0);
        const units = (BigInt(n.u32(body, 4)) << 32n) | BigInt(n.u32(body, 8));
        const captured = n.u32(body, 12);
        if (20 + captured > body.length) throw new CaptureFormatError(`an Enhanced Packet Block claims ${captured} captured bytes but holds ${body.length - 20}`, this.consumed);
        out.push(this.packet(interfaceId, units, n.u32(body, 16), body.subarray(20, 20 + captured)));
        break;
      }
      case BLOCK.simplePacket: {
        // Section 4.4: no timestamp, no interface (always the first), only the original length.
        const original = n.u32(body, 0);
        const snap = this.interfaces[0]?.snapLength || Infinity;
        const captured = Math.min(original, snap, body.length - 4);
        out.push(this.packet(0, 0n, original, body.subarray(4, 4 + captured)));
        break;
      }
      default:
      // Name resolution, statistics, custom blocks...: skipped, which the spec allows (section 3.1).
    }
    return length;
  }

  /** Section 4.2: link type, reserved, snap length, then options (if_name, if_tsresol, if_tsoffset). */
  private readInterface(body: Buffer): CaptureInterface {
    const n = this.numbers;
    const iface: CaptureInterface = { linkType: n.u16(body, 0), snapLength: n.u32(body, 4), unitsPerSecond: 1_000_000n, offsetSeconds: 0n };
    for (const { code, value } of readOptions(body.subarray(8), n)) {
      if (code === OPTION.ifName) iface.name = value.toString('utf8');
      else if (code === OPTION.ifTsresol) iface.unitsPerSecond = unitsPerSecond(value[0]!);
      else if (code === OPTION.ifTsoffset && value.length >= 8) iface.offsetSeconds = n === LE ? value.readBigInt64LE(0) : value.readBigInt64BE(0);
    }
    return iface;
  }

  /** The classic pcap file header (24 bytes): it describes the one interface. */
  private pcapHeader(): number {
    const b = this.buffer;
    if (b.length < 24) return 0;
    const le = [PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO].includes(b.readUInt32LE(0));
    this.numbers = le ? LE : BE;
    const n = this.numbers;
    const magic = n.u32(b, 0);
    this.interfaces.push({
      // The link type's lower 16 bits; the upper ones may carry FCS information (draft-ietf-opsawg-pcap section 4).
      linkType: n.u32(b, 20) & 0xffff,
      snapLength: n.u32(b, 16),
      unitsPerSecond: magic === PCAP_MAGIC_NANO ? 1_000_000_000n : 1_000_000n,
      offsetSeconds: 0n,
    });
    return 24;
  }

  /** A packet record: seconds, micro- or nanoseconds, captured and original length, data (section 5). */
  private pcapRecord(out: CapturedPacket[]): number {
    const b = this.buffer;
    if (b.length < 16) return 0;
    const n = this.numbers;
    const captured = n.u32(b, 8);
    if (captured > 0x4000000) throw new CaptureFormatError(`a packet record of ${captured} bytes: not a sane pcap record`, this.consumed);
    if (b.length < 16 + captured) return 0;
    const units = BigInt(n.u32(b, 0)) * this.interfaces[0]!.unitsPerSecond + BigInt(n.u32(b, 4));
    out.push(this.packet(0, units, n.u32(b, 12), b.subarray(16, 16 + captured)));
    return 16 + captured;
  }
}

/** pcapng or pcap, from the first four bytes. */
function sniff(b: Buffer): 'pcapng' | 'pcap' {
  if (b.readUInt32LE(0) === BLOCK.sectionHeader) return 'pcapng';
  if ([PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO].includes(b.readUInt32LE(0)) || [PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO].includes(b.readUInt32BE(0))) return 'pcap';
  throw new CaptureFormatError(`not a capture file: it starts with 0x${b.subarray(0, 4).toString('hex')}, neither pcapng (0a0d0d0a) nor pcap (a1b2c3d4)`, 0);
}

/** The options of a block (section 3.5): code, length, value padded to 4 bytes, until opt_endofopt. */
function readOptions(bytes: Buffer, n: Numbers): { code: number; value: Buffer }[] {
  const options: { code: number; value: Buffer }[] = [];
  for (let at = 0; at + 4 <= bytes.length; ) {
    const code = n.u16(bytes, at);
    const length = n.u16(bytes, at + 2);
    if (code === OPTION.endOfOptions) break;
    options.push({ code, value: bytes.subarray(at + 4, at + 4 + length) });
    at += 4 + pad4(length);
  }
  return options;
}

/**
 * if_tsresol (section 4.2): the top bit says base 2 or base 10, the rest the negative
 * exponent. 6 (the default) is microseconds, 9 nanoseconds.
 */
function unitsPerSecond(tsresol: number): bigint {
  const exponent = BigInt(tsresol & 0x7f);
  return tsresol & 0x80 ? 2n ** exponent : 10n ** exponent;
}

function toNanoseconds(units: bigint, iface: CaptureInterface): bigint {
  return (units * 1_000_000_000n) / iface.unitsPerSecond + iface.offsetSeconds * 1_000_000_000n;
}

/** A whole capture file at once. Throws a CaptureFormatError if it is not one or is cut short. */
export function readCapture(bytes: Buffer): { format: 'pcapng' | 'pcap'; interfaces: CaptureInterface[]; packets: CapturedPacket[] } {
  const reader = new CaptureReader();
  const packets = reader.push(bytes);
  reader.end();
  return { format: reader.format!, interfaces: reader.interfaces, packets };
}

// --- Writing pcapng (little-endian, nanosecond timestamps) ---

/** One block: type, total length, body padded to 4 bytes, total length again (section 3.1). */
function block(type: number, body: Buffer): Buffer {
  const padded = pad4(body.length);
  const out = Buffer.alloc(12 + padded);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(out.length, 4);
  body.copy(out, 8);
  out.writeUInt32LE(out.length, out.length - 4);
  return out;
}

function options(list: { code: number; value: Buffer }[]): Buffer {
  if (!list.length) return Buffer.alloc(0);
  const parts = list.map(({ code, value }) => {
    const option = Buffer.alloc(4 + pad4(value.length));
    option.writeUInt16LE(code, 0);
    option.writeUInt16LE(value.length, 2);
    value.copy(option, 4);
    return option;
  });
  return Buffer.concat([...parts, Buffer.alloc(4)]); // opt_endofopt
}

/** Section Header Block: byte-order magic, version 1.0, section length unknown (-1), the writing application. */
export function sectionHeaderBlock(application = 'wirelab'): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8);
  return block(BLOCK.sectionHeader, Buffer.concat([fixed, options([{ code: OPTION.shbUserappl, value: Buffer.from(application) }])]));
}

/** Interface Description Block, always with nanosecond timestamps (if_tsresol 9). */
export function interfaceDescriptionBlock(iface: Pick<CaptureInterface, 'linkType' | 'snapLength' | 'name'>): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(iface.linkType, 0);
  fixed.writeUInt32LE(iface.snapLength, 4);
  const list: { code: number; value: Buffer }[] = [{ code: OPTION.ifTsresol, value: Buffer.from([9]) }];
  if (iface.name) list.unshift({ code: OPTION.ifName, value: Buffer.from(iface.name) });
  return block(BLOCK.interfaceDescription, Buffer.concat([fixed, options(list)]));
}

/** Enhanced Packet Block (section 4.3), the timestamp in nanoseconds; an optional comment (opt_comment). */
export function enhancedPacketBlock(packet: Pick<CapturedPacket, 'interfaceId' | 'timestampNs' | 'originalLength' | 'data'>, comment?: string): Buffer {
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(packet.interfaceId, 0);
  fixed.writeUInt32LE(Number(packet.timestampNs >> 32n), 4);
  fixed.writeUInt32LE(Number(packet.timestampNs & 0xffffffffn), 8);
  fixed.writeUInt32LE(packet.data.length, 12);
  fixed.writeUInt32LE(packet.originalLength, 16);
  const data = Buffer.alloc(pad4(packet.data.length));
  packet.data.copy(data);
  return block(BLOCK.enhancedPacket, Buffer.concat([fixed, data, options(comment ? [{ code: OPTION.comment, value: Buffer.from(comment) }] : [])]));
}

/**
 * A pcapng file of these packets: one section, the interfaces they name, the packets
 * in order. What a step's "download the packets" link serves.
 */
export function writePcapng(interfaces: readonly CaptureInterface[], packets: readonly CapturedPacket[]): Buffer {
  return Buffer.concat([sectionHeaderBlock(), ...interfaces.map(interfaceDescriptionBlock), ...packets.map((p) => enhancedPacketBlock(p))]);
}
