import type { TlsHandshake } from '../wire';

/**
 * A TLS handshake in words, for the transcript: one line for the arrow, and the whole
 * of it laid out the way `openssl s_client` prints a connection (the version and
 * cipher, SNI and ALPN, whether the client trusts the server and why not, the
 * certificate chain). Pure functions.
 */

/** `TLSv1.3 TLS_AES_256_GCM_SHA384 · SNI www.lab.test · ALPN http/1.1 · certificate trusted` */
export function handshakeSummary(h: TlsHandshake, insecure = false): string {
  if (!h.version) return `TLS handshake failed: ${h.message ?? h.error} (${h.error})`;
  const parts = [`${h.version} ${h.cipher ?? ''}`.trim()];
  if (h.servername) parts.push(`SNI ${h.servername}`);
  if (h.alpn) parts.push(`ALPN ${h.alpn}`);
  if (h.resumed) parts.push('session resumed');
  parts.push(h.authorized ? 'certificate trusted' : `certificate ${insecure ? 'not trusted, ignored' : 'refused'}: ${h.message ?? h.error}`);
  return parts.join(' · ');
}

/** The handshake as a client's report of it, line by line. */
export function handshakeText(h: TlsHandshake, server: string, insecure = false): string {
  const row = (name: string, value: string): string => `${name.padEnd(13)}${value}`;
  if (!h.version) {
    return [
      `TLS handshake with ${server}: failed`,
      row('error', `${h.error}: ${h.message ?? ''}`),
      ...(h.servername ? [row('SNI', h.servername)] : []),
      row('why', failureHint(h.error ?? '')),
    ].join('\n');
  }
  const lines = [
    `TLS handshake with ${server}`,
    row('version', h.version),
    row('cipher', `${h.cipher ?? ''}${h.keyExchange ? `, key exchange ${h.keyExchange}` : ''}`),
    row('SNI', h.servername ?? '(none: the client connected to an address)'),
    row('ALPN', h.alpn ?? '(none agreed)'),
    row('session', h.resumed ? 'resumed: an earlier session went on, no certificate was needed' : 'new: a full handshake'),
    row(
      'verified',
      h.authorized
        ? 'yes: the chain leads to a CA the client trusts, and the certificate names the host asked for'
        : `no: ${h.message} (${h.error}); ${insecure ? 'the client carried on anyway (insecure)' : 'the client refused it and closed the connection'}`,
    ),
  ];
  if (h.chain.length) {
    lines.push('certificate chain (the server\'s first, then each issuer)');
    h.chain.forEach((c, i) => {
      lines.push(` ${i} s: ${c.subject}`, `   i: ${c.issuer}${c.selfSigned ? '  (self-signed)' : ''}`);
      if (c.san.length) lines.push(`   SAN: ${c.san.join(', ')}`);
      lines.push(`   valid ${c.validFrom} to ${c.validTo}`, `   SHA-256 ${c.fingerprint}`);
    });
  }
  return lines.join('\n');
}

/** What a failed handshake's code usually means, for the person reading the transcript. */
function failureHint(code: string): string {
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/.test(code)) return 'client and server share no TLS version (or the other side does not speak TLS here)';
  if (/HANDSHAKE_FAILURE|NO_SHARED_CIPHER|NO_CIPHERS/.test(code)) return 'client and server share no cipher suite';
  if (/INTERNAL_ERROR/.test(code)) return 'one side gave up on an error of its own (an old signature algorithm?)';
  if (code === 'ECONNRESET') return 'the server closed the connection in the middle of the handshake';
  if (code === 'ETIMEDOUT') return 'the server did not finish the handshake in time';
  return 'the TLS handshake did not complete';
}
