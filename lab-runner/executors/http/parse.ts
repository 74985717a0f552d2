import type { ReplyParser } from '../../wire';

/**
 * An HTTP/1.1 response parser (RFC 9112), pure and incremental: hand it every byte
 * received so far and it says whether a whole response is there yet, and where the
 * next one starts. Written out so students can read how a client finds the end of a
 * message: Content-Length, chunked transfer coding, or the connection closing.
 */

export interface HttpResponse {
  httpVersion: string;
  status: number;
  reason: string;
  /** Header fields in received order and case. */
  rawHeaders: [string, string][];
  /** Lower-cased names; a repeated field is joined with ", " (RFC 9110 5.3). */
  headers: Record<string, string>;
  body: Buffer;
  /** Every byte of this response as it came: status line, headers, body. */
  raw: Buffer;
}

export type ParseResult = { complete: false } | { complete: true; response: HttpResponse; rest: Buffer };

export class HttpParseError extends Error {}

/** parseResponse() as a reply parser for a recorded connection (lab-runner/wire/connection.ts). */
export function responseParser(method: string): ReplyParser<HttpResponse> {
  return (data, closed) => {
    const result = parseResponse(data, method, closed === true);
    return result.complete ? { reply: result.response, raw: result.response.raw, rest: result.rest } : undefined;
  };
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

/**
 * @param data   every byte received so far on the connection
 * @param method the request's method: a response to HEAD has no body (RFC 9110 9.3.2)
 * @param closed the server has closed its side: a body without a length ends here
 */
export function parseResponse(data: Buffer, method: string, closed: boolean): ParseResult {
  const headEnd = data.indexOf(CRLFCRLF);
  if (headEnd < 0) {
    if (data.length > MAX_HEAD) throw new HttpParseError(`no end of headers in the first ${MAX_HEAD} bytes`);
    if (closed) throw new HttpParseError(data.length ? 'the connection closed in the middle of the response headers' : 'the server closed the connection without a response');
    return { complete: false };
  }
  const [statusLine, ...fieldLines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const match = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine ?? '');
  if (!match) throw new HttpParseError(`not an HTTP status line: ${JSON.stringify(statusLine?.slice(0, 100))}`);
  const status = Number(match[2]);
  const rawHeaders: [string, string][] = [];
  const headers: Record<string, string> = {};
  for (const line of fieldLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpParseError(`not a header field: ${JSON.stringify(line.slice(0, 100))}`);
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  const bodyStart = headEnd + 4;

  const finish = (bodyEnd: number, body: Buffer): ParseResult => ({
    complete: true,
    response: { httpVersion: match[1]!, status, reason: match[3] ?? '', rawHeaders, headers, body, raw: data.subarray(0, bodyEnd) },
    rest: data.subarray(bodyEnd),
  });

  // An interim 1xx response (e.g. 100 Continue) is followed by the real one.
  if (status >= 100 && status < 200 && status !== 101) return parseResponse(data.subarray(bodyStart), method, closed);
  // RFC 9112 6.3: these responses never have a body, whatever their headers say.
  if (method === 'HEAD' || status === 204 || status === 304 || status < 200) return finish(bodyStart, Buffer.alloc(0));

  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
    const chunked = decodeChunked(data, bodyStart);
    if (!chunked) {
      if (closed) throw new HttpParseError('the connection closed in the middle of a chunked body');
      return { complete: false };
    }
    return finish(chunked.end, chunked.body);
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) throw new HttpParseError(`bad Content-Length: ${headers['content-length']}`);
    if (data.length - bodyStart < length) {
      if (closed) throw new HttpParseError(`the connection closed after ${data.length - bodyStart} of ${length} body bytes`);
      return { complete: false };
    }
    return finish(bodyStart + length, data.subarray(bodyStart, bodyStart + length));
  }
  // No length at all: the body is everything until the server closes (RFC 9112 6.3 item 8).
  if (!closed) return { complete: false };
  return finish(data.length, data.subarray(bodyStart));
}

/** Decode a chunked body starting at `start`; undefined when it is not all there yet. */
export function decodeChunked(data: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const sizeText = data.subarray(at, lineEnd).toString('latin1').split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new HttpParseError(`bad chunk size: ${JSON.stringify(sizeText)}`);
    const size = parseInt(sizeText, 16);
    at = lineEnd + 2;
    if (size === 0) {
      // Trailer fields, then an empty line.
      const trailerEnd = data.indexOf('\r\n', at) === at ? at : data.indexOf(CRLFCRLF, at - 2);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), end: trailerEnd === at ? at + 2 : trailerEnd + 4 };
    }
    if (data.length < at + size + 2) return undefined;
    parts.push(data.subarray(at, at + size));
    at += size + 2;
  }
}
