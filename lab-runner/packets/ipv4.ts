import { DecodeError, ipv4Text, need } from './bytes';

/**
 * The IPv4 header (RFC 791 section 3.1):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |    DSCP   |ECN|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |Flags|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (if IHL > 5)                       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * IHL counts 32-bit words, so the header is 20 to 60 bytes. The old "type of service"
 * byte is now DSCP and ECN (RFC 2474, RFC 3168).
 */

/** Protocol numbers (IANA "Assigned Internet Protocol Numbers"); IPv6's Next Header uses the same. */
export const IP_PROTOCOL = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

export interface Ipv4Header {
  version: 4;
  /** Header length in bytes (IHL x 4). */
  headerLength: number;
  dscp: number;
  ecn: number;
  /** The whole packet, header included, in bytes. */
  totalLength: number;
  identification: number;
  /** Don't Fragment, More Fragments (RFC 791: bit 0 is reserved and zero). */
  dontFragment: boolean;
  moreFragments: boolean;
  /** Where this fragment's data starts in the original datagram, in bytes (the field counts 8-byte units). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  /** The header checksum adds up (RFC 1071): a router or a receiver drops the packet otherwise. */
  checksumOk: boolean;
  source: string;
  destination: string;
  options: Buffer;
  /** What the packet carries (TCP, UDP...): Total Length tells where it ends, not the frame (Ethernet pads short frames). */
  payload: Buffer;
}

export function decodeIpv4(packet: Buffer): Ipv4Header {
  need(packet, 20, 'IPv4');
  const version = packet[0]! >> 4;
  if (version !== 4) throw new DecodeError('IPv4', `version ${version}, not 4`);
  const headerLength = (packet[0]! & 0x0f) * 4;
  if (headerLength < 20) throw new DecodeError('IPv4', `a header length of ${headerLength} bytes; the least is 20 (IHL 5)`);
  need(packet, headerLength, 'IPv4', 'header with options');
  const totalLength = packet.readUInt16BE(2);
  if (totalLength < headerLength) throw new DecodeError('IPv4', `a total length of ${totalLength}, shorter than its own ${headerLength}-byte header`);
  const flagsAndOffset = packet.readUInt16BE(6);
  return {
    version: 4,
    headerLength,
    dscp: packet[1]! >> 2,
    ecn: packet[1]! & 0x03,
    totalLength,
    identification: packet.readUInt16BE(4),
    dontFragment: (flagsAndOffset & 0x4000) !== 0,
    moreFragments: (flagsAndOffset & 0x2000) !== 0,
    fragmentOffset: (flagsAndOffset & 0x1fff) * 8,
    ttl: packet[8]!,
    protocol: packet[9]!,
    checksum: packet.readUInt16BE(10),
    checksumOk: internetChecksum(packet.subarray(0, headerLength)) === 0,
    source: ipv4Text(packet.subarray(12, 16)),
    destination: ipv4Text(packet.subarray(16, 20)),
    options: packet.subarray(20, headerLength),
    // A capture cut by the snap length may hold less than Total Length says.
    payload: packet.subarray(headerLength, Math.min(totalLength, packet.length)),
  };
}

/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum
 * of the 16-bit words. Summed over a header that includes its own checksum, a correct
 * one gives 0.
 */
export function internetChecksum(bytes: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes.readUInt16BE(i);
  if (bytes.length % 2) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
