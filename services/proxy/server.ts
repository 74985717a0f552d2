import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import type { LabDialer } from '../common/dialer';
import { bind } from '../common/listen';
import { closeHttpServer } from '../common/sessions';
import { connectionId, createLogger, logWire, type Fields, type Logger } from '../common/logger';
import { checkLimits } from '../common/options';
import { clfLine, clientAddress } from '../http/clf';
import { answerTimeout, connectTimeout, duration, errorPage, ProxyError, Status, upstreamError, type Upstream } from './errors';
import { requestHeaders, responseHeaders } from './headers';
import { describeDns, LAB_DNS_LABEL, locate, type Located } from './upstream';

/**
 * shop.lab.test: a reverse proxy in front of app.lab.test:5000, on node:http.
 *
 * A reverse proxy is an intermediary (RFC 9110 §7.6) that clients take for the server
 * itself: it accepts their requests, makes a request of its own to the app behind
 * it, and passes the app's answer back. Every forwarded request goes through three
 * steps, in forward() below:
 *
 *   1. find the app: look its name up in the lab DNS, connect (upstream.ts)
 *   2. send the request on: same method, target and body; the hop-by-hop headers
 *      dropped, X-Forwarded-* and Via added (headers.ts)
 *   3. stream the answer back: status, end-to-end headers, body
 *
 * When step 1 or 2 fails the proxy answers itself: 502 Bad Gateway when it cannot
 * get a valid answer from the app (RFC 9110 §15.6.3), 504 Gateway Timeout when the
 * app is too slow (RFC 9110 §15.6.5), each with a page that says why (errors.ts).
 */

export interface ProxyServerOptions {
  /** How the proxy reaches lab hosts: the lab DNS to ask, and where each lab address really is. Required. */
  dialer: LabDialer;
  /** The app behind the proxy, by name (looked up in the lab DNS) or IP address. Default: `app.lab.test:5000`. */
  upstream?: { host: string; port: number };
  /** How long the app has to send its response headers once connected; then 504 Gateway Timeout. Default: 5000 ms. */
  upstreamTimeoutMs?: number;
  /** How long looking the app up and connecting to it may take; then 502 Bad Gateway. Default: 2000 ms. */
  connectTimeoutMs?: number;
  /** Largest request head (request line and headers) from a client, in bytes; more gets 431 (RFC 6585 §5). Default: 16 KiB. */
  maxHeaderBytes?: number;
  /** Largest request body, in bytes; more gets 413 (RFC 9110 §15.5.14), decided while it streams through. Default: 1 MiB. */
  maxBodyBytes?: number;
  /** Time a client has to send the whole request head; then 408 (RFC 9110 §15.5.9). Stops slowloris. Default: 10000 ms. */
  headersTimeoutMs?: number;
  /** How long an idle keep-alive connection from a client waits for its next request (RFC 9112 §9.3). Default: 5000 ms. */
  keepAliveTimeoutMs?: number;
  /** How long close() lets requests in flight finish before cutting their connections. Default: 2000 ms. */
  closeGraceMs?: number;
  /** The proxy's name in Via headers, wire lines and error pages. Default: `shop.lab.test`. */
  via?: string;
  /** Where log lines go. Default: createLogger('proxy') (stderr). */
  log?: Logger;
}

/** The defaults of the numeric options, as documented on ProxyServerOptions. */
export const PROXY_SERVER_DEFAULTS = {
  upstreamTimeoutMs: 5_000,
  connectTimeoutMs: 2_000,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  closeGraceMs: 2_000,
} as const;
type Limits = { -readonly [K in keyof typeof PROXY_SERVER_DEFAULTS]: number };

export const DEFAULT_UPSTREAM = { host: 'app.lab.test', port: 5000 } as const;
export const DEFAULT_VIA = 'shop.lab.test';

/** A whole request, body included, must arrive within this (or headersTimeoutMs, if longer). */
const REQUEST_TIMEOUT_MS = 30_000;

/** One client request on its way through the proxy. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly log: Logger;
  readonly started: Date;
  /** performance.now() at the start, for `ms=` in the log. */
  readonly t0: number;
  /** Bytes of response body sent to the client, for the log line. */
  bytes: number;
  /** What happened on the way to the app, appended to the log line: `upstream=172.28.0.82:5000 status=200 ms=3`. */
  readonly outcome: Fields;
  /** The request to the app, once there is one. */
  upstream?: http.ClientRequest;
  /** The client closed its connection before its answer was complete. */
  clientGone?: boolean;
}

export class ProxyServer {
  private readonly server: http.Server;
  private readonly limits: Limits;
  private readonly log: Logger;
  private readonly dialer: LabDialer;
  private readonly upstream: { host: string; port: number };
  private readonly via: string;
  /** For error sentences: who (the proxy) goes where (the app), and how long it waits. */
  private readonly up: Upstream;
  private readonly loggers = new WeakMap<Duplex, Logger>();
  private readonly inFlight = new Set<ServerResponse>();
  private closing = false;
  private closed?: Promise<void>;

  constructor(options: ProxyServerOptions) {
    this.limits = checkLimits('proxy', PROXY_SERVER_DEFAULTS, options, { min: { closeGraceMs: 0 } });
    if (!options?.dialer) throw new TypeError('proxy: a dialer is required, to look the app up in the lab DNS and reach it');
    this.dialer = options.dialer;
    this.upstream = checkUpstream(options.upstream ?? DEFAULT_UPSTREAM);
    this.via = checkVia(options.via ?? DEFAULT_VIA);
    this.log = options.log ?? createLogger('proxy');
    this.up = {
      proxy: this.via,
      label: `${this.upstream.host}:${this.upstream.port}`,
      connectTimeoutMs: this.limits.connectTimeoutMs,
      upstreamTimeoutMs: this.limits.upstreamTimeoutMs,
    };

    const { maxHeaderBytes, headersTimeoutMs, keepAliveTimeoutMs } = this.limits;
    this.server = http.createServer({
      maxHeaderSize: maxHeaderBytes,
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
    // With this listener node:http no longer answers `Expect: 100-continue` itself: the
    // expectation goes on to the app, and the app's `100 Continue` comes back (RFC 9110 §10.1.1).
    // A body the proxy refuses anyway (413) is then never uploaded.
    this.server.on('checkContinue', (req, res) => this.onRequest(req, res));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => this.onClientError(err, socket));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const address = await bind('proxy', this.server, () => this.server.listen(port, host), host, port);
    this.log.info('listening', { address: address.address, port: address.port, upstream: this.up.label, via: this.via });
    return address;
  }

  /**
   * Stop accepting connections, close idle keep-alive ones, let requests in flight
   * finish (their responses say `Connection: close`), and after closeGraceMs cut
   * whatever is still open, and with it the requests to the app.
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
    const ex: Exchange = { req, res, log, started: new Date(), t0: performance.now(), bytes: 0, outcome: {} };
    this.inFlight.add(res);
    if (this.closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.inFlight.delete(res);
      if (!res.writableFinished) {
        ex.clientGone = true;
        ex.outcome.error ??= 'client-closed';
      }
      // The client is gone, or has its answer: a request to the app still open has no one to answer.
      ex.upstream?.destroy();
      this.logRequest(ex);
      // A response finished during close(): its connection may be idle now.
      if (this.closing) setImmediate(() => this.server.closeIdleConnections());
    });
    this.forward(ex).catch((err: unknown) => this.fail(ex, err));
  }

  /** The three steps: find the app, send the request on, stream the answer back. */
  private async forward(ex: Exchange): Promise<void> {
    const { req, res } = ex;
    // A body the proxy would refuse anyway is refused before the app is even asked.
    if (Number(req.headers['content-length'] ?? 0) > this.limits.maxBodyBytes) throw this.tooLarge();
    // An absolute URL (`GET http://example.com/ HTTP/1.1`) asks for a forward proxy,
    // which would fetch anything for anyone; a reverse proxy forwards paths to its one app.
    if (!req.url?.startsWith('/') && !(req.url === '*' && req.method === 'OPTIONS')) {
      throw new ProxyError(
        Status.BadRequest,
        'bad-target',
        `the proxy ${this.via} forwards paths such as /api/products to its app, not ${JSON.stringify(req.url)}: it is a reverse proxy, not a forward proxy`,
      );
    }

    // 1. Find the app and connect, both within connectTimeoutMs.
    ex.outcome.upstream = this.up.label;
    const reach = new AbortController();
    const reachTimer = setTimeout(() => reach.abort(), this.limits.connectTimeoutMs);
    let upRes: IncomingMessage;
    try {
      const where = await locate({
        dialer: this.dialer,
        host: this.upstream.host,
        port: this.upstream.port,
        signal: reach.signal,
        observe: (direction, _bytes, decoded) => this.wire(ex, direction, describeDns(direction, decoded), LAB_DNS_LABEL),
        proxy: this.via,
        timeoutMs: this.limits.connectTimeoutMs,
      });
      ex.outcome.upstream = `${where.address}:${this.upstream.port}`;
      if (res.destroyed) return; // the client left while we looked

      // 2. Send the request on; resolves with the app's response head.
      upRes = await this.send(ex, where, reach.signal);
    } finally {
      clearTimeout(reachTimer);
    }

    // 3. Stream the answer back.
    ex.outcome.status = upRes.statusCode;
    ex.outcome.ms = Math.round(performance.now() - ex.t0);
    this.wire(ex, 'recv', `${upRes.statusCode} ${upRes.statusMessage}`);
    const headers = responseHeaders(upRes.rawHeaders, upRes.httpVersion, this.via);
    res.writeHead(upRes.statusCode ?? Status.BadGateway, upRes.statusMessage, headers);
    res.flushHeaders(); // the status goes on now, as it came: a slow body does not hold it back
    upRes.on('data', (chunk: Buffer) => (ex.bytes += chunk.length));
    // The app died mid-response: the client already has "200 OK", too late for a 502.
    // pipeline() then destroys the client's connection too: a cut connection is the only
    // honest signal left (curl: "transfer closed with outstanding read data remaining").
    upRes.once('error', () => {
      if (ex.clientGone || ex.outcome.error) return; // the client left, or the body was too large: already logged
      ex.outcome.error = 'ECONNRESET';
      this.wire(ex, 'note', 'connection closed mid-response');
      ex.log.warn('the app closed the connection in the middle of its response', { upstream: ex.outcome.upstream });
    });
    await new Promise<void>((resolve) => pipeline(upRes, res, () => resolve()));
  }

  /**
   * Open the connection to the app and send the request: method, target and body as
   * the client sent them, headers as headers.ts makes them. One connection per
   * request, closed after it (node:http says `Connection: close`): simple to follow in
   * a capture, and a restarted app never meets a stale pooled connection.
   */
  private send(ex: Exchange, where: Located, reach: AbortSignal): Promise<IncomingMessage> {
    const { req, res } = ex;
    const headers = requestHeaders(req.rawHeaders, {
      client: clientAddress(req.socket.remoteAddress),
      httpVersion: req.httpVersion,
      via: this.via,
      upstreamHost: this.upstream.port === 80 ? this.upstream.host : `${this.upstream.host}:${this.upstream.port}`,
      originalHost: req.headers.host,
    });
    // The client's body had no length (it was chunked): this hop is chunked too (RFC 9112 §7.1).
    if (req.headers['transfer-encoding'] !== undefined) headers.push('Transfer-Encoding', 'chunked');

    return new Promise((resolve, reject) => {
      let answerTimer: NodeJS.Timeout | undefined;
      const up = http.request({
        host: where.endpoint.host,
        port: where.endpoint.port,
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      });
      ex.upstream = up;
      const settle = (): void => {
        clearTimeout(answerTimer);
        reach.removeEventListener('abort', onReachTimeout);
      };
      const onReachTimeout = (): void => void up.destroy(connectTimeout(this.up));
      if (reach.aborted) onReachTimeout();
      else reach.addEventListener('abort', onReachTimeout, { once: true });

      up.on('socket', (socket) =>
        socket.once('connect', () => {
          reach.removeEventListener('abort', onReachTimeout);
          this.wire(ex, 'send', `${req.method} ${req.url} HTTP/1.1`);
          // From here the app has upstreamTimeoutMs to answer; then 504.
          answerTimer = setTimeout(() => up.destroy(answerTimeout(this.up)), this.limits.upstreamTimeoutMs);
        }),
      );
      up.on('continue', () => {
        if (!res.headersSent) res.writeContinue(); // the app wants the body: tell the client to send it
      });
      up.on('response', (upRes) => {
        settle();
        resolve(upRes);
      });
      // Also after the response: a write to an app that already closed fails here, harmlessly.
      up.on('error', (err) => {
        settle();
        reject(upstreamError(err, this.up));
      });
      up.flushHeaders(); // the head goes out at once, before any body arrives
      this.streamBody(ex, up);
    });
  }

  /**
   * The client's body goes to the app a chunk at a time as it arrives, never
   * buffered whole, and counted: past maxBodyBytes the request to the app is
   * abandoned and the client gets 413. Backpressure: when the app reads slower than
   * the client sends, stop reading from the client until the app catches up.
   */
  private streamBody(ex: Exchange, up: http.ClientRequest): void {
    const { req } = ex;
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      up.off('close', onUpstreamClose);
      req.resume(); // read the rest and throw it away, so the answer reaches the client
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > this.limits.maxBodyBytes) {
        stop();
        ex.outcome.error = 'body-too-large';
        // Before the app answered, the client gets 413 (fail() below); after, only a cut connection.
        if (ex.res.headersSent) ex.res.destroy();
        up.destroy(this.tooLarge());
        return;
      }
      if (!up.write(chunk)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    };
    const onEnd = (): void => {
      up.off('close', onUpstreamClose);
      up.end();
    };
    // The connection to the app is gone before the client finished sending: discard the rest.
    const onUpstreamClose = (): void => stop();
    req.on('data', onData);
    req.on('end', onEnd);
    up.once('close', onUpstreamClose);
  }

  private tooLarge(): ProxyError {
    return new ProxyError(
      Status.ContentTooLarge,
      'body-too-large',
      `the request body is larger than the proxy ${this.via} accepts (${this.limits.maxBodyBytes} bytes)`,
    );
  }

  /** Step 1 or 2 failed: the proxy answers itself, unless the app's answer had already begun. */
  private fail(ex: Exchange, err: unknown): void {
    const { req, res } = ex;
    if (ex.clientGone) return; // nobody left to answer; the log line says client-closed
    let error: ProxyError;
    if (err instanceof ProxyError) error = err;
    else {
      ex.log.error('request failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      error = new ProxyError(500, 'internal', `the proxy ${this.via} failed to handle this request; the reason is in its log`);
    }
    if (error.status === Status.BadGateway || error.status === Status.GatewayTimeout) {
      ex.outcome.error = error.code;
      ex.outcome.ms = Math.round(performance.now() - ex.t0);
      this.wire(ex, 'note', this.shortCause(error));
      ex.log.warn(error.message, { status: error.status, error: error.code });
    }
    if (res.writableEnded || res.destroyed) return;
    if (res.headersSent) {
      res.destroy(); // too late for a status: cutting the connection is the only honest signal
      return;
    }
    const body = Buffer.from(errorPage(error, this.via));
    res.writeHead(error.status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'X-Proxy-Error': error.code,
      // A body the client sent (or still sends) was not read: the unread bytes would be
      // taken for the next request, so this connection closes after the answer (RFC 9112 §9.6).
      ...(req.complete ? {} : { Connection: 'close' }),
    });
    if (req.method !== 'HEAD') ex.bytes = body.length;
    res.end(body);
    if (!req.complete) req.resume();
  }

  /** The few words of a failure on the ladder diagram's arrow to the app. */
  private shortCause(error: ProxyError): string {
    switch (error.code) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ENOTFOUND':
        return `no address for ${this.upstream.host}`;
      case 'EAI_AGAIN':
        return `no DNS answer for ${this.upstream.host}`;
      case 'ETIMEDOUT':
        return `no connection within ${duration(this.limits.connectTimeoutMs)}`;
      case 'timeout':
        return `no response within ${duration(this.limits.upstreamTimeoutMs)}`;
      case 'ECONNRESET':
        return 'connection closed before the response';
      default:
        return error.code;
    }
  }

  /**
   * A wire line for the runner's transcript: the proxy's own second hop (and its DNS
   * lookup), drawn as arrows between shop.lab.test and app.lab.test:5000.
   */
  private wire(ex: Exchange, kind: 'send' | 'recv' | 'note', summary: string, peer = this.up.label): void {
    const [from, to] = kind === 'recv' ? [peer, this.via] : [this.via, peer];
    logWire(ex.log, { kind, proto: peer === LAB_DNS_LABEL ? 'dns' : 'http', from, to, summary });
  }

  /** One line per request, in the common log format, then what happened upstream. */
  private logRequest(ex: Exchange): void {
    const { req, res } = ex;
    const line = clfLine({
      client: clientAddress(req.socket.remoteAddress),
      time: ex.started,
      requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
      status: res.headersSent ? res.statusCode : undefined,
      bytes: ex.bytes,
    });
    ex.log.info(line, { ...ex.outcome, ...(res.writableFinished ? {} : { incomplete: true }) });
  }

  /**
   * node:http could not read a request: bad syntax (400), a head over maxHeaderBytes
   * (431) or too slow (408). The proxy answers itself and closes the connection: it
   * never forwards what it could not parse, since the app might read the same bytes
   * differently (request smuggling).
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const answering = [...this.inFlight].some((res) => res.socket === socket && res.headersSent);
    if (err.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const [status, why] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `The request line and headers are larger than the proxy accepts (${this.limits.maxHeaderBytes} bytes).`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `The request did not arrive in time: the headers must be complete within ${this.limits.headersTimeoutMs} ms.`]
          : [400, `This is not an HTTP request the proxy can read (${err.code ?? 'error'}), so it was not passed on.`];
    const log = this.loggers.get(socket) ?? this.log;
    const body = Buffer.from(why + '\n');
    log.info(clfLine({ client: clientAddress((socket as Socket).remoteAddress), time: new Date(), requestLine: '-', status, bytes: body.length }), { error: err.code });
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n`;
    socket.end(Buffer.concat([Buffer.from(head), body]), () => socket.destroy());
  }
}

function checkUpstream(upstream: { host: string; port: number }): { host: string; port: number } {
  const { host, port } = upstream;
  if (typeof host !== 'string' || !/^[A-Za-z0-9.:-]+$/.test(host)) throw new RangeError(`proxy: upstream.host must be a host name or address; got ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`proxy: upstream.port must be a port number from 1 to 65535; got ${port}`);
  return { host, port };
}

/** The name goes into a header (Via): a space or line break there would break the message. */
function checkVia(via: string): string {
  if (typeof via !== 'string' || !/^[A-Za-z0-9._:-]+$/.test(via)) throw new RangeError(`proxy: via must be a host name (letters, digits, . - _ :); got ${JSON.stringify(via)}`);
  return via;
}
