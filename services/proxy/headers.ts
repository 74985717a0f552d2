/**
 * Which headers a proxy passes on, which it drops, and which it adds. Pure functions
 * on node:http's raw header lists (`['Host', 'shop.lab.test', 'Accept', '*' + '/*']`:
 * name, value, name, value, in the order and letter case they arrived).
 *
 * RFC 9110 §7.6.1: some headers describe one connection, not the message: they are
 * "hop-by-hop". A proxy holds two connections (client -> proxy, proxy -> app), so it
 * must not pass them on: the client's `Connection: close` is about the client's
 * connection, not about the one to the app. Everything else is end-to-end and goes
 * through unchanged.
 */

export type RawHeaders = readonly string[];

/**
 * Hop-by-hop by definition (RFC 9110 §7.6.1), plus Transfer-Encoding (the framing of
 * this hop's body, RFC 9112 §6.1: node:http frames the next hop itself), the older
 * Keep-Alive and Proxy-Connection that clients still send, and Trailer: this proxy
 * does not pass trailer fields on, so it must not announce any (RFC 9110 §6.6.2).
 */
const ALWAYS_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer']);

/**
 * Is this header for this hop only? Besides the fixed list: any header the Connection
 * header names (`Connection: close, X-Trace` makes X-Trace hop-by-hop), and every
 * `Proxy-*` header (Proxy-Authorization is the client's password for *this* proxy,
 * never the app's business, RFC 9110 §11.7). A bare `Proxy:` header goes too: CGI
 * would turn it into $HTTP_PROXY and the app would send its own requests through
 * the client's server ("httpoxy", CVE-2016-5385).
 */
export function hopByHopFilter(raw: RawHeaders): (name: string) => boolean {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) if (token.trim()) named.add(token.trim().toLowerCase());
  }
  return (name) => {
    const lower = name.toLowerCase();
    return ALWAYS_HOP_BY_HOP.has(lower) || named.has(lower) || lower === 'proxy' || lower.startsWith('proxy-');
  };
}

/** The most Max-Forwards this proxy passes on: a larger count is lowered to it (RFC 9110 §7.6.2 allows that). */
const MAX_FORWARDS = 2 ** 31 - 1;

/**
 * Max-Forwards (RFC 9110 §7.6.2): on OPTIONS and TRACE, how many more intermediaries
 * the request may pass. Undefined when there is none, or it is not a number.
 */
export function maxForwards(raw: RawHeaders): number | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'max-forwards') continue;
    const value = raw[i + 1]!.trim();
    return /^\d+$/.test(value) ? Math.min(Number(value), MAX_FORWARDS) : undefined;
  }
  return undefined;
}

/** Max-Forwards counts only for these methods (RFC 9110 §7.6.2); with others it goes on unchanged. */
export function countsForwards(method: string | undefined): boolean {
  return method === 'OPTIONS' || method === 'TRACE';
}

/** What the proxy knows about the hop a request came in on. */
export interface IncomingHop {
  /** The request's method: on OPTIONS and TRACE the proxy counts Max-Forwards down. */
  method: string | undefined;
  /** The client's address as the proxy's socket sees it. */
  client: string;
  /** The HTTP version the client spoke: `1.1`. */
  httpVersion: string;
  /** The proxy's name in Via: `shop.lab.test`. */
  via: string;
  /** Host for the app: `app.lab.test:5000` (the upstream the proxy was told). */
  upstreamHost: string;
  /** The original Host header, for X-Forwarded-Host (undefined if the client sent none, as HTTP/1.0 may). */
  originalHost: string | undefined;
  /** The scheme the client used: `https` on the proxy's TLS port. The hop to the app stays plain HTTP. */
  proto: 'http' | 'https';
}

/**
 * The request headers for the app: the client's end-to-end headers, in their order,
 * without the hop-by-hop ones, and these set by the proxy:
 *
 *   Host               the app's own name: it is the app's Host now (nginx does the same by default)
 *   X-Forwarded-For    the client's address, appended to any list already there (one entry per proxy)
 *   X-Forwarded-Proto  the scheme the client used: `https` when it came to the TLS port, else `http`
 *   X-Forwarded-Host   the Host the client asked for: shop.lab.test
 *   Via                `1.1 shop.lab.test`, appended (RFC 9110 §7.6.3: every intermediary adds itself)
 *   Max-Forwards       one lower, on OPTIONS and TRACE (RFC 9110 §7.6.2; at 0 the proxy answers itself)
 *
 * X-Forwarded-Proto and X-Forwarded-Host from the client are replaced: this proxy is
 * the edge and knows them first-hand. X-Forwarded-For is appended to, as every proxy
 * does, so its first entries are whatever the client claimed: an app may trust only
 * the last one, the one its own proxy wrote.
 */
export function requestHeaders(raw: RawHeaders, hop: IncomingHop): string[] {
  const isHopByHop = hopByHopFilter(raw);
  const out: string[] = ['Host', hop.upstreamHost];
  const forwardedFor: string[] = [];
  const via: string[] = [];
  const forwards = countsForwards(hop.method) ? maxForwards(raw) : undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (isHopByHop(name)) continue;
    if (lower === 'max-forwards' && forwards !== undefined) out.push(name, String(Math.max(0, forwards - 1)));
    else if (lower === 'x-forwarded-for') forwardedFor.push(value);
    else if (lower === 'via') via.push(value);
    else if (lower !== 'host' && lower !== 'x-forwarded-proto' && lower !== 'x-forwarded-host') out.push(name, value);
  }
  out.push('X-Forwarded-For', [...forwardedFor, hop.client].join(', '));
  out.push('X-Forwarded-Proto', hop.proto);
  if (hop.originalHost !== undefined) out.push('X-Forwarded-Host', hop.originalHost);
  out.push('Via', [...via, `${hop.httpVersion} ${hop.via}`].join(', '));
  return out;
}

/**
 * The response headers for the client: the app's, without the hop-by-hop ones (the
 * app's `Connection: close` ends the app's connection, not the client's), and with
 * this proxy appended to Via, naming the version the app answered in.
 */
export function responseHeaders(raw: RawHeaders, appHttpVersion: string, via: string): string[] {
  const isHopByHop = hopByHopFilter(raw);
  const out: string[] = [];
  const vias: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isHopByHop(name)) continue;
    if (name.toLowerCase() === 'via') vias.push(raw[i + 1]!);
    else out.push(name, raw[i + 1]!);
  }
  out.push('Via', [...vias, `${appHttpVersion} ${via}`].join(', '));
  return out;
}
