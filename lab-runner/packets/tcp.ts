import { DecodeError, need } from './bytes';

/**
 * The TCP header (RFC 9293 section 3.1):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   |       |       |R|E|G|K|H|T|N|N|                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (if Data Offset > 5)               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                             Data                              |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The sequence number counts bytes: a segment with sequence number S and 10 bytes of
 * data carries bytes S to S+9, and the peer acknowledges them with S+10, "the next
 * byte I expect". SYN and FIN each count as one byte too (section 3.4).
 */

/** The flag bits of byte 13, and the AE bit (RFC 3540, once called NS) at the bottom of byte 12. */
export const FLAG = { FIN: 0x001, SYN: 0x002, RST: 0x004, PSH: 0x008, ACK: 0x010, URG: 0x020, ECE: 0x040, CWR: 0x080, AE: 0x100 } as const;
export type FlagName = keyof typeof FLAG;

/** Option kinds (RFC 9293 section 3.2, and the IANA "TCP Option Kind Numbers"). */
export const OPTION_KIND = {
  END: 0,
  NOP: 1,
  MSS: 2, // RFC 9293 3.7.1: the largest segment I can receive
  WINDOW_SCALE: 3, // RFC 7323 2: shift my window field left by this much
  SACK_PERMITTED: 4, // RFC 2018: I understand selective acknowledgments
  SACK: 5, // RFC 2018: these blocks arrived, beyond the acknowledged point
  TIMESTAMPS: 8, // RFC 7323 3: my clock, and the last one of yours I saw
} as const;

export interface TcpOption {
  kind: number;
  /** The option's bytes after kind and length. */
  data: Buffer;
}

export interface TcpHeader {
  sourcePort: number;
  destinationPort: number;
  /** The sequence and acknowledgment numbers as sent (Wireshark shows them relative: see flows.ts). */
  seq: number;
  ack: number;
  /** Header length in bytes (Data Offset x 4): 20, or more with options. */
  headerLength: number;
  /** All flag bits as one number, as Wireshark's tcp.flags shows them. */
  flags: number;
  /** The set flags by name, lowest bit first as Wireshark lists them: `["SYN", "ACK"]`. */
  flagNames: FlagName[];
  /** The window field as sent; the real window is this shifted by the peer's announced scale. */
  window: number;
  checksum: number;
  urgentPointer: number;
  options: TcpOption[];
  /** From the options, when present: */
  mss?: number;
  windowScale?: number;
  sackPermitted: boolean;
  sack?: { left: number; right: number }[];
  timestamp?: { value: number; echo: number };
  /** The data the segment carries. */
  payload: Buffer;
}

// Lowest bit first, as Wireshark lists them: `[SYN, ACK]`, `[FIN, PSH, ACK]`.
const ORDER: FlagName[] = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'AE'];

export function decodeTcp(segment: Buffer): TcpHeader {
  need(segment, 20, 'TCP');
  const headerLength = (segment[12]! >> 4) * 4;
  if (headerLength < 20) throw new DecodeError('TCP', `a data offset of ${headerLength / 4} words; the least is 5`);
  need(segment, headerLength, 'TCP', 'header with options');
  const flags = ((segment[12]! & 0x01) << 8) | segment[13]!;
  const header: TcpHeader = {
    sourcePort: segment.readUInt16BE(0),
    destinationPort: segment.readUInt16BE(2),
    seq: segment.readUInt32BE(4),
    ack: segment.readUInt32BE(8),
    headerLength,
    flags,
    flagNames: ORDER.filter((name) => flags & FLAG[name]),
    window: segment.readUInt16BE(14),
    checksum: segment.readUInt16BE(16),
    urgentPointer: segment.readUInt16BE(18),
    options: readOptions(segment.subarray(20, headerLength)),
    sackPermitted: false,
    payload: segment.subarray(headerLength),
  };
  for (const { kind, data } of header.options) {
    if (kind === OPTION_KIND.MSS && data.length === 2) header.mss = data.readUInt16BE(0);
    else if (kind === OPTION_KIND.WINDOW_SCALE && data.length === 1) header.windowScale = data[0]!;
    else if (kind === OPTION_KIND.SACK_PERMITTED) header.sackPermitted = true;
    else if (kind === OPTION_KIND.TIMESTAMPS && data.length === 8) header.timestamp = { value: data.readUInt32BE(0), echo: data.readUInt32BE(4) };
    else if (kind === OPTION_KIND.SACK) {
      header.sack = [];
      for (let at = 0; at + 8 <= data.length; at += 8) header.sack.push({ left: data.readUInt32BE(at), right: data.readUInt32BE(at + 4) });
    }
  }
  return header;
}

/**
 * Options (RFC 9293 section 3.2): End of List and No-Operation are one byte each;
 * every other option is kind, length (counting kind and length), data.
 */
function readOptions(bytes: Buffer): TcpOption[] {
  const options: TcpOption[] = [];
  for (let at = 0; at < bytes.length; ) {
    const kind = bytes[at]!;
    if (kind === OPTION_KIND.END) {
      options.push({ kind, data: Buffer.alloc(0) });
      break;
    }
    if (kind === OPTION_KIND.NOP) {
      options.push({ kind, data: Buffer.alloc(0) });
      at++;
      continue;
    }
    const length = bytes[at + 1];
    if (length === undefined || length < 2 || at + length > bytes.length) throw new DecodeError('TCP', `option ${kind} at byte ${20 + at} has a bad length (${length ?? 'missing'})`);
    options.push({ kind, data: bytes.subarray(at + 2, at + length) });
    at += length;
  }
  return options;
}
