import { STATUS_CODES, type OutgoingHttpHeaders } from 'node:http';
import type { HttpExchange } from '../common/httpService';

/** What the whole app shares: who it is, and the limits a handler checks. */
export interface AppInfo {
  /** The machine's name: in Docker the container's, so two app containers behind one proxy tell themselves apart. */
  hostname: string;
  pid: number;
  /** When listen() succeeded; the home page shows the uptime from here. */
  startedAt: number;
  maxSlowMs: number;
}

/** One request and its response, as a handler sees them (req, res, log: services/common/httpService.ts). */
export interface Exchange extends HttpExchange {
  readonly app: AppInfo;
  /** The target split into path and query: `/slow?ms=250` -> pathname `/slow`, searchParams ms=250. */
  readonly url: URL;
  /** Bytes of response body written so far, for the log line. */
  bytes: number;
}

/**
 * The one reply function: a status, a body and its headers, with Content-Length set so
 * the client knows where the body ends and can send its next request on the same
 * connection (RFC 9112 §6.3). For HEAD node:http sends the same headers without the body.
 */
export function reply(ex: Exchange, status: number, body: string | Buffer, headers: OutgoingHttpHeaders = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  ex.res.writeHead(status, { ...headers, 'Content-Length': bytes.length });
  if (ex.req.method !== 'HEAD') ex.bytes += bytes.length;
  ex.res.end(bytes);
}

export function replyText(ex: Exchange, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  reply(ex, status, text + '\n', { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
}

export function replyJson(ex: Exchange, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  reply(ex, status, JSON.stringify(value, null, 2) + '\n', { 'Content-Type': 'application/json', ...headers });
}

/** Text that goes into an HTML page: a host name or header can never become markup. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An error for a person with curl: `400 Bad Request`, a blank line, what went wrong. */
export function replyError(ex: Exchange, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  replyText(ex, status, `${status} ${STATUS_CODES[status] ?? ''}\n\n${message}`, headers);
}
