import http, { type IncomingMessage } from 'node:http';
import { clientAddress } from '../common/clf';
import type { LabDialer } from '../common/dialer';
import { HttpError, traceMessage } from '../common/httpRules';
import { checkHttpLimits, HTTP_SERVICE_DEFAULTS, HttpService, type HttpExchange, type HttpServiceOptions } from '../common/httpService';
import { Status } from '../common/httpStatus';
import { createLogger, logWire, type Fields } from '../common/logger';
import type { Limits } from '../common/options';
import { answerTimeout, connectTimeout, duration, errorPage, ProxyError, upstreamError, type Upstream } from './errors';
import { countsForwards, maxForwards, requestHeaders, responseHeaders } from './headers';
import { AddressCache, describeDns, LAB_DNS_LABEL, locate, type Located } from './upstream';

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

export interface ProxyServerOptions extends HttpServiceOptions {
  /** How the proxy reaches lab hosts: the lab DNS to ask, and where each lab address really is. Required. */
  dialer: LabDialer;
  /** The app behind the proxy, by name (looked up in the lab DNS) or IP address. Default: `app.lab.test:5000`. */
  upstream?: { host: string; port: number };
  /** How long the app has to send its response headers once connected; then 504 Gateway Timeout. Default: 5000 ms. */
  upstreamTimeoutMs?: number;
  /** How long looking the app up and connecting to it may take; then 502 Bad Gateway. Default: 2000 ms. */
  connectTimeoutMs?: number;
  /** Largest request body, in bytes; more gets 413 (RFC 9110 §15.5.14), decided while it streams through. Default: 1 MiB. */
  maxBodyBytes?: number;
  /** The proxy's name in Via headers, wire lines and error pages. Default: `shop.lab.test`. */
  via?: string;
  /**
   * Connections to the app kept open between requests, for the next ones (nginx's
   * `keepalive` in an upstream block); 0: a new connection for every request, closed after
   * it (easiest to follow in a capture). Default: 32.
   */
  upstreamKeepAlive?: number;
  /** Longest time the app's address is kept after a lookup; the record's TTL when shorter; 0: look it up for every request. Default: 60000 ms. */
  dnsCacheMs?: number;
}

/** The defaults of the numeric options, as documented on ProxyServerOptions (and HttpServiceOptions). */
export const PROXY_SERVER_DEFAULTS = {
  ...HTTP_SERVICE_DEFAULTS,
  upstreamTimeoutMs: 5_000,
  connectTimeoutMs: 2_000,
  maxBodyBytes: 1024 * 1024,
  upstreamKeepAlive: 32,
  dnsCacheMs: 60_000,
} as const;
type ProxyLimits = Limits<typeof PROXY_SERVER_DEFAULTS>;

export const DEFAULT_UPSTREAM = { host: 'app.lab.test', port: 5000 } as const;
export const DEFAULT_VIA = 'shop.lab.test';

/** One client request on its way through the proxy. */
interface Exchange extends HttpExchange {
  /** performance.now() at the start, for `ms=` in the log. */
  readonly t0: number;
  /** Bytes of response body sent to the client, for the log line. */
  bytes: number;
  /** What happened on the way to the app, appended to the log line: `upstream=172.28.0.82:5000 status=200 ms=3`. */
  readonly outcome: Fields;
  /** The request to the app, once there is one. */
  upstream?: http.ClientRequest;
  /** performance.now() by which the app must be found and connected to (connectTimeoutMs). */
  reachBy: number;
  /** The client closed its connection before its answer was complete. */
  clientGone?: boolean;
}

export class ProxyServer extends HttpService<Exchange, ProxyLimits> {
  private readonly dialer: LabDialer;
  private readonly upstream: { host: string; port: number };
  private readonly via: string;
  /** For error sentences: who (the proxy) goes where (the app), and how long it waits. */
  private readonly up: Upstream;
  /** The connections to the app, kept open for the next request (undefined: one per request). */
  private readonly pool?: http.Agent;
  /** The app's address, from the last lookup, for its TTL. */
  private readonly addresses: AddressCache;

  constructor(options: ProxyServerOptions) {
    const limits = checkHttpLimits('proxy', PROXY_SERVER_DEFAULTS, options ?? {}, { upstreamKeepAlive: 0, dnsCacheMs: 0 });
    if (!options?.dialer) throw new TypeError('proxy: a dialer is required, to look the app up in the lab DNS and reach it');
    const upstream = checkUpstream(options.upstream ?? DEFAULT_UPSTREAM);
    const via = checkVia(options.via ?? DEFAULT_VIA);
    super({ service: 'proxy', who: 'the proxy' }, limits, options.log ?? createLogger('proxy'), options);
    this.dialer = options.dialer;
    this.upstream = upstream;
    this.via = via;
    this.up = {
      proxy: this.via,
      label: `${this.upstream.host}:${this.upstream.port}`,
      connectTimeoutMs: limits.connectTimeoutMs,
      upstreamTimeoutMs: limits.upstreamTimeoutMs,
    };
    // node:http's pool closes an idle connection a second before the app would (its
    // `Keep-Alive: timeout=5` header), so a request is never sent on one the app is closing.
    if (limits.upstreamKeepAlive > 0) this.pool = new http.Agent({ keepAlive: true, maxFreeSockets: limits.upstreamKeepAlive, scheduling: 'lifo' });
    this.addresses = new AddressCache(limits.dnsCacheMs);
  }

  /**
   * Answer OPTIONS and TRACE here when Max-Forwards says so, else forward. A failure on
   * the way to the app (502, 504) is noted for the log and the transcript, then answered.
   */
  protected async serve(ex: Exchange): Promise<void> {
    if (this.answersItself(ex)) return;
    try {
      await this.forward(ex);
    } catch (err) {
      if (err instanceof ProxyError && (err.status === Status.BadGateway || err.status === Status.GatewayTimeout)) this.noteFailure(ex, err);
      throw err;
    }
  }

  /**
   * RFC 9110 §7.6.2: Max-Forwards counts down the intermediaries an OPTIONS or TRACE
   * may still pass. At 0 the proxy is the last recipient: it answers itself, and the app
   * never sees the request. (For any other method the header means nothing: forwarded as is.)
   */
  private answersItself(ex: Exchange): boolean {
    const { req } = ex;
    if (!countsForwards(req.method) || maxForwards(req.rawHeaders) !== 0) return false;
    ex.outcome.maxForwards = 0; // in the log line, and no upstream=: the app was not asked
    const unread = req.complete ? {} : { Connection: 'close' };
    // TRACE: the request as the proxy received it (§9.3.8). OPTIONS: what the proxy itself
    // offers; it has no resources of its own, so just 200 and no content (§9.3.7).
    const body = req.method === 'TRACE' ? Buffer.from(traceMessage(req)) : Buffer.alloc(0);
    ex.res.writeHead(Status.OK, {
      ...(req.method === 'TRACE' ? { 'Content-Type': 'message/http' } : {}),
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      ...unread,
    });
    ex.bytes = body.length;
    ex.res.end(body);
    if (!req.complete) req.resume();
    return true;
  }

  protected exchange(base: HttpExchange): Exchange {
    const t0 = performance.now();
    return { ...base, t0, reachBy: t0 + this.limits.connectTimeoutMs, bytes: 0, outcome: base.logFields };
  }

  /**
   * Close like every HTTP service, then the idle connections kept open to the app. (Those
   * still in use are ended by their requests: abandoned with a reset if cut short.)
   */
  protected override async shutdown(): Promise<void> {
    await super.shutdown();
    for (const idle of Object.values(this.pool?.freeSockets ?? {})) for (const socket of idle ?? []) socket.destroy();
  }

  protected override describe(): Fields {
    return { upstream: this.up.label, via: this.via };
  }

  /** The client is gone, or has its answer: a request to the app still open has no one to answer. */
  protected override responseClosed(ex: Exchange): void {
    if (!ex.res.writableFinished) {
      ex.clientGone = true;
      ex.outcome.error ??= 'client-closed';
      if (ex.upstream) abandon(ex.upstream);
    }
    ex.upstream?.destroy();
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
    const where = await locate({
      dialer: this.dialer,
      host: this.upstream.host,
      port: this.upstream.port,
      cache: this.addresses,
      observe: (direction, _bytes, decoded) => this.wire(ex, direction, describeDns(direction, decoded), LAB_DNS_LABEL),
      proxy: this.via,
      timeoutMs: this.limits.connectTimeoutMs,
    });
    ex.outcome.upstream = `${where.address}:${this.upstream.port}`;
    if (res.destroyed) return; // the client left while we looked

    // 2. Send the request on; resolves with the app's response head.
    const upRes = await this.send(ex, where);

    // 3. Stream the answer back.
    ex.outcome.status = upRes.statusCode;
    ex.outcome.ms = Math.round(performance.now() - ex.t0);
    this.wire(ex, 'recv', `${upRes.statusCode} ${upRes.statusMessage}`);
    const headers = responseHeaders(upRes.rawHeaders, upRes.httpVersion, this.via);
    res.writeHead(upRes.statusCode ?? Status.BadGateway, upRes.statusMessage, headers);
    res.flushHeaders(); // the status goes on now, as it came: a slow body does not hold it back
    upRes.on('data', (chunk: Buffer) => (ex.bytes += chunk.length));
    // The app died mid-response: the client already has "200 OK", too late for a 502.
    // relay() then destroys the client's connection too: a cut connection is the only
    // honest signal left (curl: "transfer closed with outstanding read data remaining").
    upRes.once('error', () => {
      if (ex.clientGone || ex.outcome.error) return; // the client left, or the body was too large: already logged
      ex.outcome.error = 'ECONNRESET';
      this.wire(ex, 'note', 'connection closed mid-response');
      ex.log.warn('the app closed the connection in the middle of its response', { upstream: ex.outcome.upstream });
    });
    await relay(upRes, res);
  }

  /**
   * Send the request to the app: method, target and body as the client sent them,
   * headers as headers.ts makes them, on a connection kept from an earlier request or
   * a new one (with upstreamKeepAlive 0, always a new one, closed after the answer).
   * A kept connection the app closed just as the request went out (ECONNRESET before
   * any answer) is tried once more on a new one, if the request has no body to send again.
   */
  private send(ex: Exchange, where: Located, retry = true): Promise<IncomingMessage> {
    const { req, res } = ex;
    const headers = requestHeaders(req.rawHeaders, {
      method: req.method,
      client: clientAddress(req.socket.remoteAddress),
      httpVersion: req.httpVersion,
      via: this.via,
      upstreamHost: this.upstream.port === 80 ? this.upstream.host : `${this.upstream.host}:${this.upstream.port}`,
      originalHost: req.headers.host,
      proto: ex.secure ? 'https' : 'http',
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
        agent: this.pool ?? false,
      });
      ex.upstream = up;
      // The connection must be there by reachBy (what the lookup left of connectTimeoutMs).
      const connectTimer = setTimeout(() => void up.destroy(connectTimeout(this.up)), Math.max(0, ex.reachBy - performance.now()));
      const settle = (): void => {
        clearTimeout(connectTimer);
        clearTimeout(answerTimer);
      };
      const connected = (): void => {
        clearTimeout(connectTimer);
        this.wire(ex, 'send', `${req.method} ${req.url} HTTP/1.1`);
        // From here the app has upstreamTimeoutMs to answer; then 504.
        answerTimer = setTimeout(() => {
          settle();
          reject(answerTimeout(this.up));
          abandon(up);
        }, this.limits.upstreamTimeoutMs);
      };
      // A kept connection is connected already; a new one says so when it is.
      up.on('socket', (socket) => (socket.connecting ? socket.once('connect', connected) : connected()));
      up.on('continue', () => {
        if (!res.headersSent) res.writeContinue(); // the app wants the body: tell the client to send it
      });
      up.on('response', (upRes) => {
        settle();
        resolve(upRes);
      });
      // Also after the response: a write to an app that already closed fails here, harmlessly.
      up.on('error', (err: NodeJS.ErrnoException) => {
        settle();
        const bodiless = req.readableEnded && !hasBody(req);
        if (retry && up.reusedSocket && bodiless && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && !res.destroyed) resolve(this.send(ex, where, false));
        else reject(upstreamError(err, this.up));
      });
      up.flushHeaders(); // the head goes out at once, before any body arrives
      if (req.readableEnded) up.end(); // sent again: the client's (empty) body was read the first time
      else this.streamBody(ex, up);
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

  /** Step 1 or 2 failed: the log line and the transcript say why (the answer follows in answerError). */
  private noteFailure(ex: Exchange, error: ProxyError): void {
    if (ex.clientGone) return; // nobody left to answer; the log line says client-closed
    ex.outcome.error = error.code;
    ex.outcome.ms = Math.round(performance.now() - ex.t0);
    this.wire(ex, 'note', this.shortCause(error));
    ex.log.warn(error.message, { status: error.status, error: error.code });
  }

  /**
   * The proxy answers itself (502, 504, 413, 400, and the rules every request must pass):
   * a page that says why, and X-Proxy-Error naming the cause for a program.
   */
  protected answerError(ex: Exchange, error: HttpError): void {
    const { req, res } = ex;
    const cause = error instanceof ProxyError ? error : new ProxyError(error.status, error.status === Status.InternalServerError ? 'internal' : 'bad-request', error.message);
    const body = Buffer.from(errorPage(cause, this.via));
    res.writeHead(error.status, {
      ...error.headers,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'X-Proxy-Error': cause.code,
      // A body the client sent (or still sends) was not read: the unread bytes would be
      // taken for the next request, so this connection closes after the answer (RFC 9112 §9.6).
      // A body too large is never read: close rather than take it in to throw it away.
      ...(req.complete && error.status !== Status.ContentTooLarge ? {} : { Connection: 'close' }),
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
}

/**
 * The app's answer into the client's response, as stream.pipeline() would do it
 * (backpressure; an error on either side ends both), without the AbortController and
 * the DOMException pipeline() makes for every call: 5% of the proxy's time under
 * load. Resolves once the response is closed (sent, or cut).
 */
function relay(from: IncomingMessage, to: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    from.once('error', (err) => to.destroy(err));
    to.once('close', () => {
      if (!from.readableEnded) from.destroy(); // the client went away: stop reading the app's answer
      resolve();
    });
    from.pipe(to);
  });
}

/**
 * Give up on a request to the app with a reset (RST), not a plain close (FIN). After a
 * complete request, a FIN only says "I have nothing more to send" (a half-close, as
 * `nc -N` does): the app would go on preparing an answer that nobody reads. A reset
 * says the request is abandoned, and the app stops.
 */
function abandon(up: http.ClientRequest): void {
  const socket = up.socket;
  if (socket && !socket.destroyed && !socket.connecting) socket.resetAndDestroy();
  up.destroy();
}

/** Does the request carry a body (RFC 9112 §6.3: a Transfer-Encoding, or a Content-Length above 0)? */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
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
