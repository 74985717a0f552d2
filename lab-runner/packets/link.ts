import { DecodeError, macText, need } from './bytes';

/**
 * The link layer: the first header of every captured packet, whose shape the capture
 * file's link type gives (the LINKTYPE_ values of draft-ietf-opsawg-pcaplinktype).
 * All we want from it is which network protocol comes next, and where.
 *
 * - Ethernet (1): what Linux's `lo` looks like, with both MAC addresses zero.
 * - Linux cooked capture, SLL (113) and SLL2 (276): what `tcpdump -i any` writes, since
 *   "any" has no single real link header; it says instead which way the packet went.
 * - BSD loopback, NULL (0) and LOOP (108): macOS's and the BSDs' `lo0`, a 4-byte
 *   address family (AF_INET, AF_INET6) in front of the IP packet.
 * - RAW (101): the IP packet and nothing before it.
 */

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  LINUX_SLL2: 276,
} as const;

/** EtherTypes we follow (IEEE 802 numbers, as in /etc/ethertypes). */
export const ETHERTYPE = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, IPV6: 0x86dd } as const;

export type NetworkProtocol = 'ipv4' | 'ipv6' | 'other';

export interface LinkFrame {
  linkType: number;
  /** The protocol in the payload: IPv4, IPv6, or something else (ARP...). */
  network: NetworkProtocol;
  /** The EtherType (Ethernet, SLL, SLL2) or address family (NULL, LOOP) that said so. */
  type: number;
  /** Ethernet's addresses; a cooked capture has only the source. */
  source?: string;
  destination?: string;
  /** Cooked captures: which way it went, Linux's sll_pkttype (packet(7)): 0 to this host, 4 sent by it. */
  packetType?: number;
  /** SLL2: the interface the packet was seen on (its index, as `ip link` numbers them). */
  interfaceIndex?: number;
  /** The bytes after the link header: the IP packet. */
  payload: Buffer;
}

export function decodeLink(linkType: number, frame: Buffer): LinkFrame {
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      return ethernet(frame);
    case LINKTYPE.LINUX_SLL:
      return cooked(frame);
    case LINKTYPE.LINUX_SLL2:
      return cooked2(frame);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP:
      return loopback(linkType, frame);
    case LINKTYPE.RAW: {
      need(frame, 1, 'raw IP', 'version');
      const version = frame[0]! >> 4;
      return { linkType, network: version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : 'other', type: version, payload: frame };
    }
    default:
      throw new DecodeError('link', `link type ${linkType} is not one this decoder reads (Ethernet, SLL, SLL2, NULL, LOOP, RAW)`);
  }
}

const byEtherType = (type: number): NetworkProtocol => (type === ETHERTYPE.IPV4 ? 'ipv4' : type === ETHERTYPE.IPV6 ? 'ipv6' : 'other');

/** Ethernet II (IEEE 802.3): destination, source, EtherType; an 802.1Q VLAN tag is stepped over. */
function ethernet(frame: Buffer): LinkFrame {
  need(frame, 14, 'Ethernet');
  let type = frame.readUInt16BE(12);
  let at = 14;
  while (type === ETHERTYPE.VLAN) {
    need(frame, at + 4, 'Ethernet', 'VLAN tag');
    type = frame.readUInt16BE(at + 2);
    at += 4;
  }
  return { linkType: LINKTYPE.ETHERNET, network: byEtherType(type), type, destination: macText(frame.subarray(0, 6)), source: macText(frame.subarray(6, 12)), payload: frame.subarray(at) };
}

/**
 * Linux cooked capture v1 (16 bytes): packet type, ARPHRD type, address length,
 * 8 bytes of (source) address, protocol (an EtherType).
 */
function cooked(frame: Buffer): LinkFrame {
  need(frame, 16, 'Linux cooked capture');
  const addressLength = Math.min(frame.readUInt16BE(4), 8);
  const type = frame.readUInt16BE(14);
  return {
    linkType: LINKTYPE.LINUX_SLL,
    network: byEtherType(type),
    type,
    packetType: frame.readUInt16BE(0),
    source: macText(frame.subarray(6, 6 + addressLength)),
    payload: frame.subarray(16),
  };
}

/**
 * Linux cooked capture v2 (20 bytes): protocol first, then the interface index,
 * ARPHRD type, packet type, address length and address.
 */
function cooked2(frame: Buffer): LinkFrame {
  need(frame, 20, 'Linux cooked capture v2');
  const type = frame.readUInt16BE(0);
  const addressLength = Math.min(frame[11]!, 8);
  return {
    linkType: LINKTYPE.LINUX_SLL2,
    network: byEtherType(type),
    type,
    interfaceIndex: frame.readUInt32BE(4),
    packetType: frame[10]!,
    source: macText(frame.subarray(12, 12 + addressLength)),
    payload: frame.subarray(20),
  };
}

/** AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS) or 10 (Linux). */
const AF_INET = 2;
const AF_INET6 = [10, 24, 28, 30];

/**
 * BSD loopback: a 4-byte address family. NULL writes it in the capturing machine's
 * byte order (so a reader guesses: a family is small, so the half that is zero tells),
 * LOOP (OpenBSD) in network byte order.
 */
function loopback(linkType: number, frame: Buffer): LinkFrame {
  need(frame, 4, 'loopback');
  let family = frame.readUInt32BE(0);
  if (linkType === LINKTYPE.NULL && (family & 0xffff) === 0) family = frame.readUInt32LE(0);
  const network: NetworkProtocol = family === AF_INET ? 'ipv4' : AF_INET6.includes(family) ? 'ipv6' : 'other';
  return { linkType, network, type: family, payload: frame.subarray(4) };
}
