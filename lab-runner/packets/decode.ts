import { DecodeError } from './bytes';
import { IP_PROTOCOL, decodeIpv4, type Ipv4Header } from './ipv4';
import { decodeIpv6, type Ipv6Header } from './ipv6';
import { decodeLink, type LinkFrame } from './link';
import type { CapturedPacket } from './pcapng';
import { decodeTcp, type TcpHeader } from './tcp';
import { decodeUdp, type UdpHeader } from './udp';

/**
 * A captured packet, peeled layer by layer: link, then IP (v4 or v6), then TCP or
 * UDP. Each layer's header says what the next one is (EtherType, Protocol or Next
 * Header), which is all that "decoding" is.
 */

export interface DecodedPacket {
  packet: CapturedPacket;
  link?: LinkFrame;
  ip?: Ipv4Header | Ipv6Header;
  tcp?: TcpHeader;
  udp?: UdpHeader;
  /** Where and why decoding stopped short: a header cut off, a protocol not followed here. */
  error?: string;
}

export function decodePacket(packet: CapturedPacket): DecodedPacket {
  const decoded: DecodedPacket = { packet };
  try {
    const link = (decoded.link = decodeLink(packet.linkType, packet.data));
    if (link.network === 'other') return decoded;
    const ip = (decoded.ip = link.network === 'ipv4' ? decodeIpv4(link.payload) : decodeIpv6(link.payload));
    // A later IPv4 fragment carries the middle of a datagram, not its TCP or UDP header.
    if (ip.version === 4 && ip.fragmentOffset > 0) return decoded;
    if (ip.protocol === IP_PROTOCOL.TCP) decoded.tcp = decodeTcp(ip.payload);
    else if (ip.protocol === IP_PROTOCOL.UDP) decoded.udp = decodeUdp(ip.payload);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    decoded.error = err.message;
  }
  return decoded;
}
