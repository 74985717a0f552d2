/**
 * DNS over TCP puts a 2-byte length in front of every message (RFC 1035 4.2.2,
 * RFC 7766 8), because TCP is a stream of bytes, not of messages: one read may hold
 * half a message, or three. This pure, incremental parser cuts whole messages out of
 * what has arrived so far and returns the rest for the next read.
 */

export interface Frames {
  /** Whole messages, without their length prefix, in the order they came. */
  frames: Buffer[];
  /** Bytes of an unfinished message: keep them and prepend them to the next read. */
  rest: Buffer;
  /** The next message announces more than `maxLength` bytes: the connection should close. */
  oversized: boolean;
}

const PREFIX = 2;

export function splitFrames(buffer: Buffer, maxLength = 0xffff): Frames {
  const frames: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= PREFIX) {
    const length = buffer.readUInt16BE(offset);
    if (length > maxLength) return { frames, rest: buffer.subarray(offset), oversized: true };
    if (buffer.length - offset - PREFIX < length) break;
    frames.push(buffer.subarray(offset + PREFIX, offset + PREFIX + length));
    offset += PREFIX + length;
  }
  return { frames, rest: buffer.subarray(offset), oversized: false };
}

/** A message with its 2-byte length prefix, ready to write to a TCP socket. */
export function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(PREFIX);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}
