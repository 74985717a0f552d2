import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Status } from './httpStatus';
import type { RequestLineWatch } from './requestLine';

/**
 * The rules of HTTP/1.1 that every request to the lab's three HTTP services must pass
 * (www.lab.test, shop.lab.test and app.lab.test), before any route sees it. Pure
 * functions: each takes what node:http parsed and returns the answer to a request that
 * breaks a rule, as an HttpError, or undefined.
 *
 * node:http's parser (llhttp) already refuses much on its own: bytes that are not HTTP,
 * a method it does not know, Content-Length and Transfer-Encoding together, a head over
 * the size limit. explainParseError() below turns its refusals into answers a person
 * can read. What it lets through, checkRequest() checks.
 */

/**
 * An answer, thrown by a handler or a rule: `throw new HttpError(404, 'no note 7')`.
 * The service turns it into a response; the message is for a person to read.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The limits the rules need. */
export interface RuleLimits {
  maxHeaderBytes: number;
  maxTargetBytes: number;
}

/** The rules, in the order they are checked: the first one broken is the answer. */
export function checkRequest(req: IncomingMessage, limits: RuleLimits): HttpError | undefined {
  return checkVersion(req) ?? checkTargetLength(req, limits) ?? checkHost(req) ?? checkFraming(req);
}

/** Closing the connection after the answer, as nginx does after a request it refuses: what follows on it cannot be trusted. */
const CLOSE = { Connection: 'close' };

/**
 * RFC 9110 §2.5: HTTP/1.x is the protocol here. A higher minor version (1.2) is read as
 * 1.1 (the request line watch does that, see requestLine.ts); another major version
 * gets 505 (§15.6.6). An HTTP/2 client never sends a request line: it starts with a
 * binary preface (RFC 9113 §3.4), so `HTTP/2.0` here is someone typing.
 */
export function checkVersion(req: IncomingMessage): HttpError | undefined {
  const major = req.httpVersionMajor;
  if (major === 1) return undefined;
  if (major === 0) {
    return new HttpError(Status.BadRequest, `HTTP/${req.httpVersion} has no request line with a version: write HTTP/1.1 (or HTTP/1.0)`, CLOSE);
  }
  return unsupportedVersion(req.httpVersion);
}

function unsupportedVersion(version: string): HttpError {
  return new HttpError(
    Status.HTTPVersionNotSupported,
    `this server speaks HTTP/1.1 (and HTTP/1.0), not HTTP/${version}. ` +
      'HTTP/2 and HTTP/3 are not text: a client starts them with a binary preface or over QUIC, never with a request line like this one.',
    CLOSE,
  );
}

/** RFC 9110 §15.5.15: a request target longer than the server is willing to read gets 414. */
export function checkTargetLength(req: IncomingMessage, limits: RuleLimits): HttpError | undefined {
  const length = Buffer.byteLength(req.url ?? '', 'latin1');
  if (length <= limits.maxTargetBytes) return undefined;
  return tooLongTarget(length, limits.maxTargetBytes);
}

function tooLongTarget(length: number | undefined, maxTargetBytes: number): HttpError {
  const size = length === undefined ? 'longer' : `${length} bytes long`;
  return new HttpError(
    Status.URITooLong,
    `the request target (the URL in the request line) is ${size}; this server reads at most ${maxTargetBytes} bytes. ` +
      'Data that large belongs in a request body (POST), not in the URL.',
    CLOSE,
  );
}

/**
 * RFC 9110 §7.2: an HTTP/1.1 request names its host in exactly one Host header; no
 * Host, two of them, or one that is not a host name is 400. (HTTP/1.0 had no Host.)
 * Two Host lines are dangerous: a proxy might act on the first and the app on the second.
 */
export function checkHost(req: IncomingMessage): HttpError | undefined {
  const hosts: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === 'host') hosts.push(req.rawHeaders[i + 1]!);
  }
  if (hosts.length > 1) {
    return new HttpError(Status.BadRequest, `the request has ${hosts.length} Host header lines; it must have exactly one (RFC 9110 §7.2)`, CLOSE);
  }
  if (hosts.length === 0) {
    if (req.httpVersionMinor === 0) return undefined;
    return new HttpError(Status.BadRequest, 'an HTTP/1.1 request must say which host it is for: add a header line such as "Host: www.lab.test" (RFC 9110 §7.2)', CLOSE);
  }
  if (!isHostValue(hosts[0]!)) {
    return new HttpError(
      Status.BadRequest,
      `${JSON.stringify(hosts[0])} is not a valid Host: it is a host name or address, and an optional :port, as in "www.lab.test:8080" (RFC 9110 §7.2)`,
      CLOSE,
    );
  }
  return undefined;
}

/**
 * `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a name made of
 * letters, digits and `-._~!$&'()*+,;=%`, an IPv4 address, or an IPv6 address in
 * brackets; a port is digits. Not empty (an http URI always has a host, RFC 9110 §4.2.1),
 * and no empty label (`a..b`): no DNS name has one.
 */
export function isHostValue(value: string): boolean {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(:[0-9]*)?$/.exec(value);
  return match !== null && !match[1]!.includes('..');
}

/**
 * RFC 9112 §6.1: Transfer-Encoding frames the body of an HTTP/1.1 message, and the
 * only coding every HTTP/1.1 server must read is `chunked`. A request with another
 * coding (gzip, compress, deflate) gets 501; in an HTTP/1.0 request, where it did
 * not exist yet, the framing cannot be trusted: 400. Both close the connection: where
 * the body ends is unknown, so nothing after it can be read.
 */
export function checkFraming(req: IncomingMessage): HttpError | undefined {
  const te = req.headers['transfer-encoding'];
  if (te === undefined) return undefined;
  if (req.httpVersionMinor === 0) {
    return new HttpError(Status.BadRequest, 'Transfer-Encoding is not part of HTTP/1.0: an HTTP/1.0 request with it has no length that can be trusted (RFC 9112 §6.1)', CLOSE);
  }
  const codings = te.split(',').map((c) => c.trim().toLowerCase());
  if (codings.length === 1 && codings[0] === 'chunked') return undefined;
  return new HttpError(
    Status.NotImplemented,
    `this server reads request bodies sent as "Transfer-Encoding: chunked" only, not "${te}" (RFC 9112 §6.1): send the body with a Content-Length, or chunked`,
    CLOSE,
  );
}

/** The request carries a body (RFC 9112 §6.3): a Transfer-Encoding, or a Content-Length above 0. */
export function hasContent(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** What explainParseError() needs from the service. */
export interface ParseErrorContext extends RuleLimits {
  /** Who could not read the request, for the sentence: `the server`, `the proxy`, `the app`. */
  who: string;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * node:http could not read a request (its 'clientError'): the status and a sentence
 * for the person at the other end. `err.code` names llhttp's complaint
 * (HPE_INVALID_METHOD, HPE_HEADER_OVERFLOW, ...); the watch knows the request line.
 */
export function explainParseError(
  err: NodeJS.ErrnoException & { reason?: string },
  watch: RequestLineWatch,
  context: ParseErrorContext,
): { status: number; why: string } {
  const { who } = context;
  const line = watch.requestLine ?? watch.text;
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      // One limit for the whole head in node:http; nginx tells the two cases apart, and so do we.
      if (watch.inStep && (watch.overflowedInLine || watch.targetLength > context.maxTargetBytes)) {
        return { status: Status.URITooLong, why: capitalize(tooLongTarget(undefined, context.maxTargetBytes).message) };
      }
      return {
        status: Status.RequestHeaderFieldsTooLarge,
        why: `The request line and headers are larger than ${who} accepts (${context.maxHeaderBytes} bytes).`,
      };
    case 'HPE_INVALID_METHOD': {
      // A word, a space, a target, a space, a version: a request, with a method llhttp does not know.
      const method = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) \S+ HTTP\/\d\.\d$/.exec(line)?.[1];
      if (method === undefined) break;
      const hint = method !== method.toUpperCase() ? ` Methods are case-sensitive: did you mean ${method.toUpperCase()}?` : '';
      return {
        status: Status.NotImplemented,
        why: `${capitalize(who)} does not implement the method ${method} (RFC 9110 §9.1: 501 for a method the server does not know).${hint}`,
      };
    }
    case 'HPE_INVALID_VERSION': {
      // llhttp reads HTTP/1.x and HTTP/2.0 (checkVersion answers that one) and refuses the rest.
      const version = / HTTP\/(\d)\.(\d)$/.exec(line);
      if (version && Number(version[1]) >= 2) {
        return { status: Status.HTTPVersionNotSupported, why: capitalize(unsupportedVersion(`${version[1]}.${version[2]}`).message) };
      }
      break;
    }
    case 'HPE_PAUSED_H2_UPGRADE':
      // `PRI * HTTP/2.0`, then `SM`: the preface an HTTP/2 client opens with (RFC 9113 §3.4),
      // made so that an HTTP/1.1 server refuses it. `curl --http2-prior-knowledge` sends it.
      return { status: Status.HTTPVersionNotSupported, why: capitalize(unsupportedVersion('2').message) };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      // Both Content-Length and Transfer-Encoding: two lengths, the classic request smuggling (RFC 9112 §6.3): 400.
      if (/Content-Length/i.test(err.reason ?? '')) break;
      return {
        status: Status.NotImplemented,
        why: `${capitalize(who)} reads request bodies sent as "Transfer-Encoding: chunked" only, as the last and only coding (RFC 9112 §6.1).`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: Status.ContentTooLarge, why: 'The chunk extensions of the body are too large.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: Status.RequestTimeout,
        why:
          `The request did not arrive in time: the headers must be complete within ${context.headersTimeoutMs} ms ` +
          `and the whole request within ${context.requestTimeoutMs} ms. End the headers with an empty line.`,
      };
  }
  return {
    status: Status.BadRequest,
    why:
      `This is not an HTTP request ${who} can read (${err.code ?? 'error'}: ${err.reason ?? err.message}). A request is a line ` +
      `such as "GET / HTTP/1.1", header lines such as "Host: www.lab.test", then an empty line; every line ` +
      `ends with CR LF (RFC 9112 §2.1, §2.2). Typing by hand with nc? Use nc -C, which sends CR LF.`,
  };
}

/**
 * The answer to CONNECT (RFC 9110 §9.3.6), which asks a forward proxy for a tunnel to
 * another host: none of the lab's servers makes tunnels, shop.lab.test included (a
 * reverse proxy forwards to its own app only).
 */
export function connectRefusal(who: string, target: string | undefined): { status: number; why: string } {
  return {
    status: Status.NotImplemented,
    why:
      `${capitalize(who)} does not implement CONNECT (RFC 9110 §9.3.6): CONNECT asks a forward proxy for a tunnel to ` +
      `${target ? JSON.stringify(target) : 'another host'}, and this is not a forward proxy. Ask for a path instead: GET / HTTP/1.1.`,
  };
}

/**
 * Header fields a TRACE answer leaves out (RFC 9110 §9.3.8: "SHOULD exclude sensitive
 * fields"): credentials and cookies would otherwise be readable by a script that can
 * send TRACE but may not read them (cross-site tracing).
 */
const SECRET_FIELDS = new Set(['authorization', 'proxy-authorization', 'cookie']);

/**
 * The request head as it was received: the request line, the header lines in the order
 * and letter case they came (node:http keeps them in rawHeaders), and the empty line.
 * Header fields named in `omit` (lower case) are left out.
 */
export function requestHead(req: IncomingMessage, omit: ReadonlySet<string> = new Set()): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    if (!omit.has(name.toLowerCase())) lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * The body of a TRACE answer (RFC 9110 §9.3.8): the request as received, head only, as
 * `message/http`. The last recipient sends it back, so a client sees what the
 * intermediaries on the way changed (Via, X-Forwarded-For, Max-Forwards).
 */
export function traceMessage(req: IncomingMessage): string {
  return requestHead(req, SECRET_FIELDS);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
