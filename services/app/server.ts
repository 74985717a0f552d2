import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { bind } from '../common/listen';
import { closeHttpServer } from '../common/sessions';
import { connectionId, createLogger, type Logger } from '../common/logger';
import { checkLimits } from '../common/options';
import { clfLine, clientAddress } from '../http/clf';
import { AppError, replyError, reply, type AppInfo, type Exchange } from './reply';
import { allowedMethods, handlerFor, ROUTES } from './routes';

/**
 * app.lab.test: the application behind the shop's reverse proxy, on node:http.
 *
 * An application server is the program that does the work (builds the page, answers
 * the API); in production it rarely faces the internet itself. A reverse proxy
 * (shop.lab.test, services/proxy) takes the clients' connections and forwards their
 * requests here. Read routes.ts for what the app answers; this file wires the limits,
 * dispatches each request to the route table and logs one line per request.
 */

export interface AppServerOptions {
  /** The longest wait /slow?ms= and /drip?ms= accept, in ms; more is 400 Bad Request. Default: 30000 (30 s). */
  maxSlowMs?: number;
  /** How long an idle keep-alive connection waits for its next request (RFC 9112 §9.3). Default: 5000 ms. */
  keepAliveTimeoutMs?: number;
  /** Time a client has to send the whole request head; then 408 (RFC 9110 §15.5.9). Stops slowloris. Default: 10000 ms. */
  headersTimeoutMs?: number;
  /** How long close() lets requests in flight (a /slow) finish before cutting their connections. Default: 2000 ms. */
  closeGraceMs?: number;
  /** Where log lines go. Default: createLogger('app') (stderr). */
  log?: Logger;
}

/** The defaults of the numeric options, as documented on AppServerOptions. */
export const APP_SERVER_DEFAULTS = {
  maxSlowMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  closeGraceMs: 2_000,
} as const;
type Limits = { -readonly [K in keyof typeof APP_SERVER_DEFAULTS]: number };

/** A whole request, body included, must arrive within this (or headersTimeoutMs, if longer). */
const REQUEST_TIMEOUT_MS = 30_000;

export class AppServer {
  private readonly server: http.Server;
  private readonly limits: Limits;
  private readonly log: Logger;
  private readonly loggers = new WeakMap<Duplex, Logger>();
  private readonly inFlight = new Set<ServerResponse>();
  private readonly info: AppInfo;
  private closing = false;
  private closed?: Promise<void>;

  constructor(options: AppServerOptions = {}) {
    this.limits = checkLimits('app', APP_SERVER_DEFAULTS, options, { min: { maxSlowMs: 0, closeGraceMs: 0 } });
    this.log = options.log ?? createLogger('app');
    this.info = { hostname: os.hostname(), pid: process.pid, startedAt: Date.now(), maxSlowMs: this.limits.maxSlowMs };
    const { headersTimeoutMs, keepAliveTimeoutMs } = this.limits;
    this.server = http.createServer({
      headersTimeout: headersTimeoutMs,
      requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeoutMs),
      // node:http looks for late requests every this many ms (default 30 s): short limits need short ticks.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
    });
    this.server.keepAliveTimeout = keepAliveTimeoutMs;
    this.server.on('connection', (socket: Socket) => {
      const log = this.log.child({ conn: connectionId() });
      this.loggers.set(socket, log);
      log.debug('connection opened', { client: `${clientAddress(socket.remoteAddress)}:${socket.remotePort}` });
      socket.once('close', () => log.debug('connection closed'));
    });
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => this.onClientError(err, socket));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const address = await bind('app', this.server, () => this.server.listen(port, host), host, port);
    this.info.startedAt = Date.now();
    this.log.info('listening', { address: address.address, port: address.port, hostname: this.info.hostname, pid: this.info.pid });
    return address;
  }

  /**
   * Stop accepting connections, close idle keep-alive ones, let requests in flight
   * finish (their responses say `Connection: close`), and after closeGraceMs cut
   * whatever is still open: a /slow?ms=30000 does not hold up a restart.
   */
  close(): Promise<void> {
    if (!this.closed) {
      if (!this.server.listening) return Promise.resolve();
      this.closed = this.shutdown();
    }
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    await closeHttpServer(this.server, this.inFlight, this.limits.closeGraceMs);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const log = this.loggers.get(req.socket) ?? this.log;
    const started = new Date();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://app.lab.test');
    } catch {
      url = new URL('http://app.lab.test/');
    }
    const ex: Exchange = { req, res, app: this.info, log, url, bytes: 0 };
    log.debug('request', { method: req.method, target: req.url });
    this.inFlight.add(res);
    if (this.closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.inFlight.delete(res);
      this.logRequest(ex, started);
      // A response finished during close(): its connection may be idle now.
      if (this.closing) setImmediate(() => this.server.closeIdleConnections());
    });
    this.dispatch(ex).catch((err: unknown) => this.fail(ex, err));
  }

  /** Find the route, run its handler; 404, 405 and OPTIONS are answered here. */
  private async dispatch(ex: Exchange): Promise<void> {
    const method = ex.req.method ?? 'GET';
    if (!ex.req.url?.startsWith('/')) throw new AppError(400, `the request target must be a path such as /api/products, not ${JSON.stringify(ex.req.url)}`);
    const path = ex.url.pathname;
    const route = ROUTES[path];
    if (!route) {
      throw new AppError(404, `nothing here answers ${path}; try ${Object.keys(ROUTES).join(', ')}`);
    }
    const handler = handlerFor(route, method);
    if (handler) return handler(ex);
    const allow = allowedMethods(route);
    if (method === 'OPTIONS') return reply(ex, 204, '', { Allow: allow });
    throw new AppError(405, `${method} is not allowed on ${path}; it allows ${allow}`, { Allow: allow });
  }

  /** A handler threw: an AppError is an answer, anything else is our bug (500). */
  private fail(ex: Exchange, err: unknown): void {
    const { res } = ex;
    if (!(err instanceof AppError)) {
      ex.log.error('request failed', { path: ex.url.pathname, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    if (res.writableEnded || res.destroyed) return;
    if (res.headersSent) {
      res.destroy(); // too late for a status: cutting the connection is the only honest signal
      return;
    }
    // Answering without reading a body the client sent: the unread bytes would be
    // read as the next request, so this connection closes after the answer (RFC 9112 §9.6).
    const unread = !ex.req.complete ? { Connection: 'close' } : {};
    if (err instanceof AppError) replyError(ex, err.status, err.message, { ...err.headers, ...unread });
    else replyError(ex, 500, 'the app failed to answer this request; the reason is in its log', unread);
  }

  /** One line per request, in the common log format (services/http/clf.ts). */
  private logRequest(ex: Exchange, started: Date): void {
    const { req, res } = ex;
    const line = clfLine({
      client: clientAddress(req.socket.remoteAddress),
      time: started,
      requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
      status: res.headersSent ? res.statusCode : undefined,
      bytes: ex.bytes,
    });
    ex.log.info(line, res.writableFinished ? {} : { incomplete: true });
  }

  /**
   * node:http could not read a request: bad syntax (400), a head too large (431) or
   * too slow (408). Say so in words, log it, and close: after a broken message
   * nothing more on this connection can be trusted.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const answering = [...this.inFlight].some((res) => res.socket === socket && res.headersSent);
    if (err.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const [status, why] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request line and headers are too large.']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `The request did not arrive in time: the headers must be complete within ${this.limits.headersTimeoutMs} ms.`]
          : [400, `This is not an HTTP request the app can read (${err.code ?? 'error'}).`];
    const log = this.loggers.get(socket) ?? this.log;
    const body = Buffer.from(why + '\n');
    log.info(clfLine({ client: clientAddress((socket as Socket).remoteAddress), time: new Date(), requestLine: '-', status, bytes: body.length }), { error: err.code });
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n`;
    socket.end(Buffer.concat([Buffer.from(head), body]), () => socket.destroy());
  }
}
