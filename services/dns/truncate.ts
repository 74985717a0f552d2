import type { OptAnswer, Packet } from 'dns-packet';
import { CLASSIC_UDP_PAYLOAD, FLAG } from './codes';

/**
 * Size limits of DNS over UDP, and what to send when an answer does not fit.
 */

/**
 * How many bytes a UDP answer to this query may have. 512 for a classic query
 * (RFC 1035 4.2.1); with EDNS, the size the client announces in its OPT record,
 * but never less than 512 (RFC 6891 6.2.5) nor more than the server's own `max`.
 */
export function udpPayloadLimit(query: Packet, max: number): number {
  const opt = (query.additionals ?? []).find((r): r is OptAnswer => r.type === 'OPT');
  if (!opt) return CLASSIC_UDP_PAYLOAD;
  return Math.max(CLASSIC_UDP_PAYLOAD, Math.min(opt.udpPayloadSize, max));
}

/**
 * The reply to send when the answer is too big for UDP: the same header with TC set,
 * the question, and no records, except the OPT record (RFC 6891 7). A client that sees
 * TC asks again over TCP, where there is room (RFC 1035 4.2.1, RFC 7766 5).
 */
export function truncate(response: Packet): Packet {
  return {
    ...response,
    flags: (response.flags ?? 0) | FLAG.TC,
    answers: [],
    authorities: [],
    additionals: (response.additionals ?? []).filter((r) => r.type === 'OPT'),
  };
}

