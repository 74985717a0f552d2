import type { AuthThrottle } from '../common/authThrottle';
import { STATUS_CODES, type OutgoingHttpHeaders } from 'node:http';
import { hasContent } from '../common/httpRules';
import type { FileCache } from '../common/fileCache';
import type { HttpExchange } from '../common/httpService';
import type { LabUser } from '../common/users';
import type { Claims } from './jwt';
import type { NotesStore } from './notesStore';
import { forbidsBody } from '../common/httpStatus';

/** What every handler can reach: the server's state, shared by all requests. */
export interface Site {
  /** The document root of the static site. */
  wwwDir: string;
  /** The lab's data directory: users' homes are under it (homes/<user>), for `/~user/` pages. */
  dataDir: string;
  notes: NotesStore;
  users: readonly LabUser[];
  /** The HMAC key that signs login tokens. */
  tokenKey: Buffer;
  tokenTtlSeconds: number;
  maxBodyBytes: number;
  /** Most parts one Range header may ask for (static.ts). */
  maxRanges: number;
  /** What static.ts found on the disk, remembered while unchanged. */
  files: FileCache;
  /** Failed logins per client address (auth.ts, services/common/authThrottle.ts). */
  logins: AuthThrottle;
}

/** What the request's Bearer token proved, worked out once per request before routing. */
export interface Auth {
  /** The user a valid token names. */
  user?: LabUser;
  claims?: Claims;
  /** Why a token that was sent is not accepted. */
  problem?: string;
}

/** One request and its response, as a handler sees them (req, res, log: services/common/httpService.ts). */
export interface Exchange extends HttpExchange {
  readonly site: Site;
  /** The path as sent, still percent-encoded. */
  rawPath: string;
  /** The path percent-decoded once: what routes and the jail look at. */
  path: string;
  query: string;
  /** Filled in by the router from the route's `:name` segments. */
  params: Record<string, string>;
  /** The Bearer token's verdict, worked out once before routing. */
  auth: Auth;
  /** Set by readBody() once the request body has been read to its end. */
  bodyRead: boolean;
}

/**
 * Every response's head goes through here. If we answer before reading a body the
 * client sent (a 415, a 413, a 404 to a POST), the unread bytes would otherwise be
 * parsed as the next request on this keep-alive connection; so we close it after
 * this response instead (RFC 9112 §9.6, `Connection: close`).
 */
export function writeHead(ex: Exchange, status: number, headers: OutgoingHttpHeaders): void {
  if (hasUnreadBody(ex)) headers = { ...headers, Connection: 'close' };
  // setHeader() rather than writeHead(status, headers): the headers stay readable with
  // getHeader(), which the log line uses for Content-Length.
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) ex.res.setHeader(name, value);
  ex.res.writeHead(status);
}

function hasUnreadBody(ex: Exchange): boolean {
  return hasContent(ex.req) && !ex.bodyRead;
}

/**
 * The one reply function: a status, a body and headers, with Content-Length always
 * set, so the client knows where the body ends and can reuse the connection
 * (RFC 9112 §6.3). A HEAD response gets the same headers; node:http drops the body.
 */
export function reply(ex: Exchange, status: number, body: string | Buffer, headers: OutgoingHttpHeaders = {}): void {
  if (forbidsBody(status)) {
    // RFC 9110 §8.6: no Content-Length on 1xx and 204; for 304 we simply leave it out.
    writeHead(ex, status, headers);
    ex.res.end();
    return;
  }
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  writeHead(ex, status, { ...headers, 'Content-Length': bytes.length });
  ex.res.end(bytes);
}

export function replyJson(ex: Exchange, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  reply(ex, status, JSON.stringify(value, null, 2) + '\n', { 'Content-Type': 'application/json', ...headers });
}

/**
 * An error for a person to read. Under /api/ it is JSON, `{"error": "...", "status": 404}`,
 * for programs; elsewhere plain text, for someone with curl.
 */
export function replyError(ex: Exchange, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  if (isApiPath(ex.path || ex.req.url || '')) {
    replyJson(ex, status, { error: message, status }, headers);
  } else {
    const text = `${status} ${STATUS_CODES[status] ?? ''}\n\n${message}\n`;
    reply(ex, status, text, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  }
}

export function isApiPath(path: string): boolean {
  return /^\/api(\/|\?|$)/.test(path);
}
