import { encode, type Packet } from 'dns-packet';
import { HEADER_SIZE } from './codes';

/**
 * The question section of a reply repeats the query's, and a resolver accepts a reply
 * only when it matches what it asked (RFC 1035 4.1.2 and 7.3, RFC 5452 3). So the
 * server echoes the question as it came, byte for byte: pure functions, unit-tested.
 *
 * dns-packet decodes a question into text and encodes it back. That round trip keeps
 * everything the lab can answer, but not a class dns-packet has no name for: it decodes
 * class 1234 as `UNKNOWN_1234` and encodes that as 0. Such a question is still a
 * proper query (RFC 3597 5 writes it `CLASS1234`): it gets REFUSED, with its question
 * echoed by copying the bytes that came in.
 */

/**
 * The query's question section as it was sent, or undefined when decoding changed it
 * in more than the class: a name of bytes that are not UTF-8 text, or with a dot inside
 * a label, would be looked up and echoed as something else (the server answers FORMERR).
 */
export function questionAsSent(query: Packet, message: Buffer): Buffer | undefined {
  const encoded = encode({ questions: query.questions }).subarray(HEADER_SIZE);
  const sent = message.subarray(HEADER_SIZE, HEADER_SIZE + encoded.length);
  if (sent.length !== encoded.length) return undefined;
  // Each question ends with its 2-byte type and 2-byte class: compare all but the class.
  let start = 0;
  for (const question of query.questions ?? []) {
    const end = start + encode({ questions: [question] }).length - HEADER_SIZE;
    if (!sent.subarray(start, end - 2).equals(encoded.subarray(start, end - 2))) return undefined;
    start = end;
  }
  return Buffer.from(sent);
}

/** A reply's bytes with the question section as the client sent it (both come first after the header, and are the same length). */
export function echoQuestion(reply: Buffer, question: Buffer): Buffer {
  question.copy(reply, HEADER_SIZE);
  return reply;
}

/** A class as RFC 3597 5 writes one without a name: `CLASS1234` for dns-packet's `UNKNOWN_1234`. */
export function className(klass: string | undefined): string | undefined {
  return klass?.replace(/^UNKNOWN_/, 'CLASS');
}
