import { DecodeError, need } from './bytes';

/**
 * The UDP header (RFC 768): eight bytes, and that is all of UDP. No connection, no
 * sequence numbers, no retransmission: a DNS client that hears nothing asks again.
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |     Source      |   Destination   |
 *   |      Port       |      Port       |
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *   |          data octets ...
 *   +---------------- ...
 *
 * Length counts the header and the data.
 */

export interface UdpHeader {
  sourcePort: number;
  destinationPort: number;
  length: number;
  checksum: number;
  payload: Buffer;
}

export function decodeUdp(datagram: Buffer): UdpHeader {
  need(datagram, 8, 'UDP');
  const length = datagram.readUInt16BE(4);
  if (length < 8) throw new DecodeError('UDP', `a length of ${length}, shorter than the 8-byte header`);
  return {
    sourcePort: datagram.readUInt16BE(0),
    destinationPort: datagram.readUInt16BE(2),
    length,
    checksum: datagram.readUInt16BE(6),
    payload: datagram.subarray(8, Math.min(length, datagram.length)),
  };
}
