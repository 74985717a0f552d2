/**
 * The numbers in a DNS message header, by name (RFC 1035 4.1.1).
 *
 * The 16-bit flags word of the header reads, from the top bit down:
 *
 *     QR | OPCODE (4 bits) | AA | TC | RD | RA | Z | AD | CD | RCODE (4 bits)
 *
 * dns-packet gives us that word as `packet.flags` (without QR, which it turns into
 * `packet.type`), so the helpers below read and build it.
 */

/** Response codes (RFC 1035 4.1.1, RFC 6891 9 for BADVERS). */
export const RCODE = {
  /** No error. Also the rcode of NODATA: the name exists, the type does not. */
  NOERROR: 0,
  /** The query could not be interpreted. */
  FORMERR: 1,
  /** The server failed (we never send it on purpose). */
  SERVFAIL: 2,
  /** The name does not exist (RFC 2308 calls it Name Error). */
  NXDOMAIN: 3,
  /** The server does not implement this kind of query (the opcode). */
  NOTIMP: 4,
  /** The server will not answer, here: the name is not in a zone it serves. */
  REFUSED: 5,
  /** An EDNS version this server does not speak (RFC 6891 6.1.3). 16 does not fit in
   *  the header's 4 bits: the top 8 bits go into the OPT record's extendedRcode. */
  BADVERS: 16,
} as const;

export type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** Opcodes (RFC 1035 4.1.1). This server implements only QUERY. */
export const OPCODE = {
  QUERY: 0,
  IQUERY: 1,
  STATUS: 2,
  NOTIFY: 4,
  UPDATE: 5,
} as const;

/** Header flag bits inside the flags word. */
export const FLAG = {
  /** Authoritative Answer: the answer comes from the zone's own data. */
  AA: 1 << 10,
  /** TrunCation: the answer did not fit; ask again over TCP. */
  TC: 1 << 9,
  /** Recursion Desired: set by the client, copied into the response. */
  RD: 1 << 8,
  /** Recursion Available: never set here, this server does not recurse. */
  RA: 1 << 7,
} as const;

/** The DO bit ("DNSSEC OK") in the OPT record's flags (RFC 3225). */
export const EDNS_DO = 1 << 15;

/** A DNS header is 12 bytes (RFC 1035 4.1.1); anything shorter is not a DNS message. */
export const HEADER_SIZE = 12;

/** Without EDNS, a UDP answer carries at most 512 bytes (RFC 1035 2.3.4, 4.2.1). */
export const CLASSIC_UDP_PAYLOAD = 512;

export function opcodeOf(flags: number): number {
  return (flags >> 11) & 0xf;
}

export function rcodeOf(flags: number): number {
  return flags & 0xf;
}

/** The name of an rcode for logs: `NXDOMAIN`, `BADVERS`, or `RCODE_11`. */
export function rcodeName(rcode: number): string {
  const entry = Object.entries(RCODE).find(([, value]) => value === rcode);
  return entry ? entry[0] : `RCODE_${rcode}`;
}
