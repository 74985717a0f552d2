import { DecodeError, ipv6Text, need } from './bytes';

/**
 * The IPv6 header (RFC 8200 section 3): a fixed 40 bytes, simpler than IPv4's:
 * no checksum, no fragmentation fields, no options inside it.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Source Address (128 bits)                  |
 *   |                 Destination Address (128 bits)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * What IPv4 kept in options and fragment fields, IPv6 puts in extension headers
 * chained by Next Header (section 4): hop-by-hop options, routing, fragment,
 * destination options... until a Next Header names TCP, UDP or ICMPv6.
 */

/** Extension headers (RFC 8200 section 4, and the IANA "IPv6 Extension Header Types"). */
export const EXTENSION = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AUTHENTICATION: 51,
  NO_NEXT_HEADER: 59,
  DESTINATION_OPTIONS: 60,
  MOBILITY: 135,
  HIP: 139,
  SHIM6: 140,
} as const;

/** Extension headers shaped Next Header, Hdr Ext Len (8-octet units, not counting the first 8), data. */
const LENGTH_IN_EIGHTS: readonly number[] = [EXTENSION.HOP_BY_HOP, EXTENSION.ROUTING, EXTENSION.DESTINATION_OPTIONS, EXTENSION.MOBILITY, EXTENSION.HIP, EXTENSION.SHIM6];

export interface Ipv6Extension {
  /** Its type: the Next Header value that announced it. */
  type: number;
  /** Its length in bytes. */
  length: number;
}

export interface Ipv6Header {
  version: 6;
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the fixed header, extension headers included. */
  payloadLength: number;
  /** The fixed header's Next Header: the first extension header, or the upper layer. */
  nextHeader: number;
  hopLimit: number;
  source: string;
  destination: string;
  /** The extension headers stepped over, in order. */
  extensions: Ipv6Extension[];
  /** The upper-layer protocol (6 TCP, 17 UDP, 58 ICMPv6), or undefined when it cannot be reached (ESP, a later fragment, No Next Header). */
  protocol?: number;
  /** A fragment header's fields, if there is one (section 4.5). */
  fragment?: { offset: number; moreFragments: boolean; identification: number };
  /** The upper-layer bytes (TCP, UDP...). */
  payload: Buffer;
}

export function decodeIpv6(packet: Buffer): Ipv6Header {
  need(packet, 40, 'IPv6');
  const version = packet[0]! >> 4;
  if (version !== 6) throw new DecodeError('IPv6', `version ${version}, not 6`);
  const first = packet.readUInt32BE(0);
  const payloadLength = packet.readUInt16BE(4);
  const nextHeader = packet[6]!;
  // Payload Length says where the packet ends (a capture may hold less).
  const end = Math.min(40 + payloadLength, packet.length);
  const header: Ipv6Header = {
    version: 6,
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength,
    nextHeader,
    hopLimit: packet[7]!,
    source: ipv6Text(packet.subarray(8, 24)),
    destination: ipv6Text(packet.subarray(24, 40)),
    extensions: [],
    payload: Buffer.alloc(0),
  };
  let type = nextHeader;
  let at = 40;
  for (;;) {
    if (type === EXTENSION.FRAGMENT) {
      // Section 4.5: always 8 bytes: next header, reserved, offset (13 bits, 8-byte units), M flag, identification.
      need(packet.subarray(at, end), 8, 'IPv6', 'fragment header');
      const offsetAndFlag = packet.readUInt16BE(at + 2);
      header.fragment = { offset: (offsetAndFlag >> 3) * 8, moreFragments: (offsetAndFlag & 1) === 1, identification: packet.readUInt32BE(at + 4) };
      header.extensions.push({ type, length: 8 });
      const next = packet[at]!;
      at += 8;
      // Only the first fragment carries the upper-layer header.
      if (header.fragment.offset !== 0) return { ...header, payload: packet.subarray(at, end) };
      type = next;
    } else if (LENGTH_IN_EIGHTS.includes(type) || type === EXTENSION.AUTHENTICATION) {
      need(packet.subarray(at, end), 2, 'IPv6', 'extension header');
      // The Authentication Header counts 4-octet units, minus 2 (RFC 4302 section 2.2); the others 8-octet units beyond the first 8.
      const length = type === EXTENSION.AUTHENTICATION ? (packet[at + 1]! + 2) * 4 : (packet[at + 1]! + 1) * 8;
      need(packet.subarray(at, end), length, 'IPv6', `extension header ${type}`);
      header.extensions.push({ type, length });
      type = packet[at]!;
      at += length;
    } else if (type === EXTENSION.ESP || type === EXTENSION.NO_NEXT_HEADER) {
      // ESP encrypts what follows; No Next Header means nothing follows.
      return { ...header, payload: packet.subarray(at, end) };
    } else {
      return { ...header, protocol: type, payload: packet.subarray(at, end) };
    }
  }
}
