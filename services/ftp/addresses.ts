import net from 'node:net';

/**
 * The host-port arguments of PORT and EPRT and the host-port answers to PASV and EPSV:
 * pure functions, unit-tested on their own.
 *
 * FTP moves file contents over a second TCP connection, the data connection, and these
 * four commands say who connects to whom:
 *
 *   PORT 127,0,0,1,195,80        RFC 959 4.1.2  "connect to me at 127.0.0.1 port 195*256+80"
 *   EPRT |1|127.0.0.1|50000|     RFC 2428 2     the same, for IPv4 (1) or IPv6 (2)
 *   PASV -> 227 Entering Passive Mode (127,0,0,1,117,48)     "I listen; connect to me"
 *   EPSV -> 229 Entering Extended Passive Mode (|||30000|)   RFC 2428 3: the port only
 */

export interface HostPort {
  host: string;
  port: number;
}

/** `h1,h2,h3,h4,p1,p2` (RFC 959 4.1.2, PORT) -> { host: 'h1.h2.h3.h4', port: p1*256+p2 }; undefined if malformed. */
export function parsePortArgument(arg: string): HostPort | undefined {
  const parts = arg.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  const n = parts.map(Number);
  const port = n[4]! * 256 + n[5]!;
  if (port === 0) return undefined;
  return { host: n.slice(0, 4).join('.'), port };
}

/** The 227 reply's `(h1,h2,h3,h4,p1,p2)`: the address as four numbers, the port as two bytes. */
export function formatPasv(host: string, port: number): string {
  return `(${host.split('.').join(',')},${port >> 8},${port & 255})`;
}

export type EprtResult = (HostPort & { family: 1 | 2 }) | { error: 'syntax' } | { error: 'protocol' };

/**
 * `|1|132.235.1.2|6275|` or `|2|::1|6275|` (RFC 2428 2). The first character is the
 * delimiter (any printable ASCII); the protocol is 1 (IPv4) or 2 (IPv6). Another protocol
 * number is `protocol` (the server answers 522 and names the ones it knows).
 */
export function parseEprtArgument(arg: string): EprtResult {
  const text = arg.trim();
  const delimiter = text[0];
  if (delimiter === undefined || !/^[\x21-\x7e]$/.test(delimiter) || /[0-9a-fA-F.:]/.test(delimiter)) return { error: 'syntax' };
  const fields = text.split(delimiter);
  // "|1|host|port|" splits into ['', '1', 'host', 'port', ''].
  if (fields.length !== 5 || fields[0] !== '' || fields[4] !== '') return { error: 'syntax' };
  const [, family, host = '', portText = ''] = fields;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return { error: 'syntax' };
  const port = Number(portText);
  if (family === '1') return net.isIPv4(host) ? { family: 1, host, port } : { error: 'syntax' };
  if (family === '2') return net.isIPv6(host) ? { family: 2, host, port } : { error: 'syntax' };
  return /^\d+$/.test(family ?? '') ? { error: 'protocol' } : { error: 'syntax' };
}

export type EpsvArgument = { all: true } | { protocol?: number } | { error: 'syntax' };

/**
 * EPSV's argument (RFC 2428 3 and 4): none (the server picks the protocol of the
 * control connection), a network protocol number (1 IPv4, 2 IPv6, any other number is
 * still a protocol: the server answers 522 and names the ones it knows), or `ALL`.
 */
export function parseEpsvArgument(arg: string): EpsvArgument {
  const text = arg.trim().toUpperCase();
  if (text === '') return {};
  if (text === 'ALL') return { all: true };
  return /^\d{1,5}$/.test(text) ? { protocol: Number(text) } : { error: 'syntax' };
}

/** The 229 reply's `(|||port|)`: no address at all (RFC 2428 3), so NAT and Docker cannot get it wrong. */
export function formatEpsv(port: number): string {
  return `(|||${port}|)`;
}

/**
 * An address as one form: `::ffff:127.0.0.1` (IPv4 seen through an IPv6 socket) is
 * `127.0.0.1`, so the same client compares equal on either kind of socket.
 */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return (mapped ? mapped[1]! : address).toLowerCase();
}

/** The same host, whatever form each address came in. */
export function sameHost(a: string | undefined, b: string | undefined): boolean {
  return normalizeAddress(a) !== '' && normalizeAddress(a) === normalizeAddress(b);
}

/** RFC 2428's protocol number of an address: 1 for IPv4, 2 for IPv6. */
export function addressFamily(address: string): 1 | 2 {
  return net.isIPv4(normalizeAddress(address)) ? 1 : 2;
}
