/**
 * The message as it travels after DATA (RFC 5321 4.5.2, "transparency"). The end of a
 * message is a line holding a single dot, `<CRLF>.<CRLF>`; so a line of the message
 * that starts with a dot gets a second one in front, and the receiver removes it.
 *
 * Line ends are made CRLF first: a bare CR or LF never goes out. A receiver that took
 * `<LF>.<LF>` as the end of the message would otherwise read what follows it as new
 * commands: a second, forged message ("SMTP smuggling", 2023). Pure.
 */
export function dotStuff(message: Buffer): Buffer {
  // latin1 maps each byte to one character and back: 8-bit content passes unchanged.
  let text = message.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  if (text.length > 0 && !text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text.replace(/^\./gm, '..') + '.\r\n', 'latin1');
}
