/**
 * Building an HTTP/1.1 request as text (RFC 9112 section 3): a request line, header
 * fields, an empty line, the body. Pure functions, so a student can see exactly which
 * bytes the runner puts on the wire and why each header is there.
 */

export interface RequestSpec {
  method: string;
  /** The request target exactly as written in the URL (not normalised: `/../` stays). */
  target: string;
  /** The Host header: the URL's authority (RFC 9112 3.2). */
  host: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Ask the server to close after the response, unless a connection is being kept. */
  close: boolean;
  version: '1.1' | '1.0';
}

export function buildRequest(spec: RequestSpec): Buffer {
  const has = (name: string): boolean => Object.keys(spec.headers).some((k) => k.toLowerCase() === name);
  const lines = [`${spec.method} ${spec.target} HTTP/${spec.version}`];
  if (!has('host')) lines.push(`Host: ${spec.host}`);
  if (!has('user-agent')) lines.push('User-Agent: wirelab/0.1');
  if (!has('accept')) lines.push('Accept: */*');
  for (const [name, value] of Object.entries(spec.headers)) lines.push(`${name}: ${value}`);
  if (spec.body && !has('content-length') && !has('transfer-encoding')) lines.push(`Content-Length: ${spec.body.length}`);
  if (spec.close && !has('connection')) lines.push('Connection: close');
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return spec.body ? Buffer.concat([head, spec.body]) : head;
}

export interface ParsedUrl {
  /** https: the request goes inside TLS (RFC 9110 4.2.2), on port 443 unless the URL names one. */
  secure: boolean;
  host: string;
  port: number;
  /** host[:port] as written, for the Host header. */
  authority: string;
  target: string;
}

/**
 * Split an http:// or https:// URL by hand rather than with `new URL()`, which would
 * normalise `/a/../b` and percent-encodings: a lab client must send what the student wrote.
 */
export function parseHttpUrl(url: string): ParsedUrl {
  const match = /^(https?):\/\/([^/?#\s]+)([^#\s]*)/i.exec(url);
  if (!match) throw new Error(`not an http:// or https:// URL: ${url}`);
  const secure = match[1]!.toLowerCase() === 'https';
  const authority = match[2]!;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority);
  const [host, portText] = v6 ? [v6[1]!, v6[2]] : (authority.split(':') as [string, string | undefined]);
  const port = portText ? Number(portText) : secure ? 443 : 80;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port in ${url}`);
  const target = match[3] || '/';
  return { secure, host: host.toLowerCase(), port, authority, target: target.startsWith('/') ? target : `/${target}` };
}

/** Where a redirect's Location points, relative to the URL that answered. */
export function resolveLocation(base: string, location: string): string {
  return new URL(location, base).toString();
}
