/**
 * The header fields a mail server adds to a message it accepts (pure functions).
 *
 * - Received: (RFC 5321 4.4) every server a message passes through adds one at the
 *   top, so the fields read from the newest hop down to the first: the path the
 *   message took, written by the servers themselves.
 * - Message-ID: (RFC 5322 3.6.4) a unique name for the message; a submission server
 *   adds one when the mail program did not (RFC 6409 8.3), as does the lab's port 25.
 * - Date: (RFC 5322 3.6.1) when the message was written; added on submission when
 *   missing (RFC 6409 8.2).
 *
 * Everything else in the message is left exactly as it came.
 */

const CRLF = Buffer.from('\r\n');

/** RFC 5322 3.3 date-time, in UTC: `Sat, 21 Nov 2026 17:50:00 +0000`. */
export function formatDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** How a connection was encrypted: what the TLS socket says (getProtocol(), getCipher().name). */
export interface TlsInfo {
  /** `TLSv1.3`, `TLSv1.2`, ... */
  version: string;
  /** OpenSSL's name of the cipher suite: `TLS_AES_256_GCM_SHA384`, `ECDHE-ECDSA-AES128-GCM-SHA256`. */
  cipher: string;
}

export interface ReceivedInfo {
  /** The name the client gave in HELO/EHLO (it may lie; the address below does not). */
  helo: string;
  /** The client's IP address, as the TCP connection saw it. */
  clientAddress: string;
  /** This server's name. */
  hostname: string;
  /** SMTP, ESMTP, ESMTPS (inside TLS), ESMTPA (after AUTH), ESMTPSA (both) (RFC 3848). */
  protocol: string;
  /** The connection's TLS, if any: said in a comment, as Postfix does. */
  tls?: TlsInfo;
  /** This server's id for the message (the queue id in its logs). */
  id: string;
  date: Date;
}

/**
 * `Received: from <helo> ([<ip>]) by <hostname> (wirelab) with ESMTPA id <id>; <date>`
 * (RFC 5321 4.4), folded onto lines as real servers do (RFC 5322 2.2.3). Inside TLS, a
 * comment says how, in Postfix's words, and the protocol says ESMTPS (RFC 3848):
 *
 *   Received: from client.lab.test ([172.28.0.100])
 *   	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
 *   	by mail.lab.test (wirelab) with ESMTPSA id 4F3A2B1C9D;
 *   	Sat, 21 Nov 2026 17:50:00 +0000
 *
 * The comment is the server's word for the hop into it only: the Received fields below it
 * say how the message travelled before, each hop on its own.
 */
export function receivedField(r: ReceivedInfo): string {
  return (
    `Received: from ${r.helo || 'unknown'} (${addressLiteral(r.clientAddress)})\r\n` +
    (r.tls ? `\t(using ${r.tls.version} with cipher ${r.tls.cipher} (${cipherBits(r.tls.cipher)}))\r\n` : '') +
    `\tby ${r.hostname} (wirelab) with ${r.protocol} id ${r.id};\r\n` +
    `\t${formatDate(r.date)}\r\n`
  );
}

/**
 * A cipher suite's key size, `256/256 bits` as Postfix writes it (bits used / bits of the
 * algorithm), read from its name: Node does not tell, and the name always says.
 */
export function cipherBits(cipher: string): string {
  const name = cipher.toUpperCase();
  const bits = /AES_?256|CHACHA20|CAMELLIA_?256|ARIA_?256/.test(name) ? 256 : /AES_?128|CAMELLIA_?128|ARIA_?128/.test(name) ? 128 : undefined;
  return bits === undefined ? 'unknown bits' : `${bits}/${bits} bits`;
}

/** An address as SMTP writes it (RFC 5321 4.1.3): `[172.28.0.100]`, `[IPv6:fd00::1]`. */
export function addressLiteral(address: string): string {
  return address.includes(':') ? `[IPv6:${address}]` : `[${address}]`;
}

/** `<1763747400123.4F3A2B1C9D@mail.lab.test>`: time and queue id make it unique, the host name makes it ours. */
export function newMessageId(id: string, hostname: string, date: Date): string {
  return `<${date.getTime()}.${id}@${hostname}>`;
}

const FIELD_START = /^[\x21-\x39\x3b-\x7e]+:/; // a field name: printable ASCII but ':' (RFC 5322 2.2)
const CONTINUATION = /^[ \t]/; // a folded line goes on the field above it

/**
 * Where the header section ends: the offset just after the CRLF of its last field. The
 * blank line (or the first line that is not a field) starts the body (RFC 5322 2.1).
 */
export function headerEnd(message: Buffer): number {
  const text = message.toString('latin1');
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n', at);
    if (end < 0) return at;
    const line = text.slice(at, end);
    const isField = FIELD_START.test(line) || (at > 0 && CONTINUATION.test(line));
    if (!isField) return at;
    at = end + 2;
  }
}

/** The header section alone (a bounce attaches it). */
export function headerSection(message: Buffer): Buffer {
  return message.subarray(0, headerEnd(message));
}

/** Is there a field `name` in the header section? Case does not matter in field names. */
export function hasField(message: Buffer, name: string): boolean {
  const head = headerSection(message).toString('latin1');
  return new RegExp(`^${name}:`, 'im').test(head);
}

export interface Additions {
  /** A whole Received field (receivedField()), put on top. */
  received: string;
  /** Added at the end of the header section if the message has no Message-ID. */
  messageId?: string;
  /** Added if the message has no Date (formatDate()). */
  date?: string;
}

/** The message as it is stored or passed on: Received on top, missing fields added. */
export function prepareMessage(message: Buffer, add: Additions): Buffer {
  const end = headerEnd(message);
  const fields: string[] = [];
  if (add.messageId && !hasField(message, 'Message-ID')) fields.push(`Message-ID: ${add.messageId}\r\n`);
  if (add.date && !hasField(message, 'Date')) fields.push(`Date: ${add.date}\r\n`);
  const body = message.subarray(end);
  // A message whose first line is not a field has no header section at all: give it
  // the blank line that separates the (now added) fields from the body.
  const separator = body.length > 0 && !body.subarray(0, 2).equals(CRLF) ? '\r\n' : '';
  return Buffer.concat([
    Buffer.from(add.received, 'latin1'),
    message.subarray(0, end),
    Buffer.from(fields.join('') + separator, 'latin1'),
    body,
  ]);
}
