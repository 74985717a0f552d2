import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { clfLine, clientAddress } from './clf';
import { checkRequest, connectRefusal, explainParseError, HttpError } from './httpRules';
import { forbidsBody, Status } from './httpStatus';
import { bind } from './listen';
import { connectionId, type Fields, type Logger } from './logger';
import { checkLimits, type Limits } from './options';
import { ConnectionLimiter, type Refusal } from './sessionHost';
import { RequestLineWatch } from './requestLine';
import { closeHttpServer, endSocket } from './sessions';
import { SHUTDOWN_GRACE_MS } from './shutdown';
import type { ServiceTls } from './tls';

/**
 * What the lab's three node:http servers share: www.lab.test (services/http),
 * shop.lab.test (services/proxy) and app.lab.test (services/app) each extend
 * HttpService and write only what makes them what they are: serve() a request,
 * answerError() in their own words.
 *
 * HttpService does the rest, the same way for all three:
 *  - limits: head size, target length, timeouts, connections (HTTP_SERVICE_DEFAULTS);
 *  - the rules of HTTP/1.1 every request must pass first (httpRules.ts);
 *  - requests node:http cannot read (400, 408, 414, 431, 501, 505), and CONNECT (501),
 *    answered in words and logged;
 *  - a client that half-closes (`nc -N`, or any client that sends FIN after its
 *    request) still gets its answer; then the connection closes;
 *  - one log line per request, in the common log format (clf.ts);
 *  - listen(), listenTls() for HTTPS (the same service inside TLS, RFC 9110 §4.2.2),
 *    and a graceful close(): finish what is in flight, then cut;
 *  - the lesson "HTTP moves to HTTPS" (redirectToHttps): every plain request is sent
 *    to the same URL with https://.
 */

/** The options every HTTP service has; each service adds its own. */
export interface HttpServiceOptions {
  /** Largest request head (request line and headers) in bytes; more gets 431 (RFC 6585 §5). Default: 16 KiB. */
  maxHeaderBytes?: number;
  /** Longest request target (the URL in the request line) in bytes; more gets 414 (RFC 9110 §15.5.15). Default: 8 KiB, as nginx. */
  maxTargetBytes?: number;
  /** Time a client has to send the whole request head; then 408 (RFC 9110 §15.5.9). Stops slowloris. Default: 10 s. */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request, body included; then 408. At least headersTimeoutMs. Default: 30 s. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection waits for its next request (RFC 9112 §9.3). Default: 5 s. */
  keepAliveTimeoutMs?: number;
  /**
   * Connections open at once; more are closed as soon as they arrive. Default: 1000: a
   * class of thirty sharing one lab, each with a browser (six connections to a host)
   * and a scanner or wrk of their own, fits; an idle connection costs a few kilobytes
   * (www.lab.test under wrk -c500: 139 MB at most with 200 allowed, 141 MB with 1000).
   */
  maxConnections?: number;
  /**
   * Connections open at once from one client address (HTTP and HTTPS together). The
   * requests of one more are answered `503 Service Unavailable` with Retry-After (RFC
   * 9110 §15.6.4, §10.2.3), and it is closed: one student cannot take every place.
   * Default: 32 (a browser opens 6 per host).
   */
  maxConnectionsPerAddress?: number;
  /** How long close() lets requests in flight finish before cutting their connections. Default: 10000 ms. */
  closeGraceMs?: number;
  /** Where log lines go. Default: the service's own logger on stderr. */
  log?: Logger;
  /**
   * The lesson "HTTP moves to HTTPS": every request on the plain port is answered with
   * a redirect to the same URL with https:// (301, or 308 for methods other than GET and
   * HEAD, which must not turn into a GET), as sites do once they have a certificate.
   * Takes effect with listenTls(). Default: false.
   */
  redirectToHttps?: boolean;
  /**
   * The port a redirect names when the client reached the plain port on a port of its
   * own (`Host: localhost:8080`): the HTTPS port published for it (Docker: 8443).
   * Default: the port listenTls() bound. A Host without a port (the standard 80) is sent
   * to the standard 443.
   */
  httpsPortForRedirect?: number;
}

/** The defaults of the numeric options, as documented on HttpServiceOptions. */
export const HTTP_SERVICE_DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  maxTargetBytes: 8 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1000,
  maxConnectionsPerAddress: 32,
  closeGraceMs: SHUTDOWN_GRACE_MS,
} as const;

/** What a client refused for its address's share is told to wait before it tries again, in seconds (Retry-After). */
export const RETRY_AFTER_SECONDS = 5;
export type HttpServiceLimits = Limits<typeof HTTP_SERVICE_DEFAULTS>;

/**
 * A service's limits: its `defaults` (HTTP_SERVICE_DEFAULTS and its own), overridden by
 * `options`, each checked. closeGraceMs may be 0 (close at once); the headers must fit
 * in the time for the whole request.
 */
export function checkHttpLimits<L extends HttpServiceLimits>(
  service: string,
  defaults: L,
  options: Partial<Record<keyof L, number | undefined>>,
  min: Partial<Record<keyof L, number>> = {},
): Limits<L> {
  const limits = checkLimits(service, defaults, options, { min: { closeGraceMs: 0, ...min } as Partial<Record<keyof L, number>> });
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new RangeError(
      `${service}: headersTimeoutMs (${limits.headersTimeoutMs}) must not exceed requestTimeoutMs (${limits.requestTimeoutMs}): the headers are part of the request`,
    );
  }
  return limits;
}

/** One request and its response, as every HTTP service sees them; each service's Exchange extends it. */
export interface HttpExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** This connection's logger (its lines carry `conn=`). */
  readonly log: Logger;
  readonly started: Date;
  /** The request came inside TLS (the HTTPS port). */
  readonly secure: boolean;
  /** The client sent `Expect: 100-continue` and waits for `100 Continue` before sending its body (RFC 9110 §10.1.1). */
  readonly expectsContinue: boolean;
  /** For the log line: who the client proved to be. */
  user?: string;
  /** For the log line: bytes of body sent. Default: the response's Content-Length. */
  bytes?: number;
  /** For the log line: fields after it (`upstream=... ms=3`). */
  readonly logFields: Fields;
}

/** Who a service is, in its log and in its sentences. */
export interface ServiceName {
  /** In log lines and errors: `http`, `proxy`, `app`. */
  service: string;
  /** In sentences for a person: `the server`, `the proxy`, `the app`. */
  who: string;
}

/** What a service remembers about one TCP connection. */
interface Connection {
  log: Logger;
  watch: RequestLineWatch;
  /** The response being written on it, if any: a connection carries one request at a time. */
  response?: ServerResponse;
  /** The status a parse error or timeout was answered with while a request was in flight. */
  cutOffWith?: number;
  /** Its responses not yet closed: a pipelined one may never be (see onConnection). */
  open: Set<ServerResponse>;
  /** Over its address's share (maxConnectionsPerAddress): each request is answered 503, then it closes. */
  refused?: Refusal;
}

export abstract class HttpService<X extends HttpExchange, L extends HttpServiceLimits = HttpServiceLimits> {
  private readonly server: http.Server;
  /** The HTTPS listener, once listenTls() made it: the same service, inside TLS. */
  private tlsServer?: https.Server;
  private readonly connections = new WeakMap<Duplex, Connection>();
  /** Connections per client address; node:http counts them in all itself (maxConnections). */
  private readonly perAddress: ConnectionLimiter;
  private readonly inFlight = new Set<ServerResponse>();
  private closing = false;
  private closed?: Promise<void>;
  private readonly redirect?: { port?: number };

  constructor(
    private readonly name: ServiceName,
    protected readonly limits: L,
    protected readonly log: Logger,
    options: Pick<HttpServiceOptions, 'redirectToHttps' | 'httpsPortForRedirect'> = {},
  ) {
    this.perAddress = new ConnectionLimiter({ maxConnections: Infinity, maxConnectionsPerAddress: limits.maxConnectionsPerAddress });
    this.server = this.configure(http.createServer(this.serverOptions()));
    if (options.redirectToHttps) this.redirect = { port: options.httpsPortForRedirect };
  }

  /** node:http's options from the limits: the same for HTTP and HTTPS. */
  private serverOptions(): http.ServerOptions {
    const { maxHeaderBytes, headersTimeoutMs, requestTimeoutMs } = this.limits;
    return {
      maxHeaderSize: maxHeaderBytes,
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // node:http looks for late requests every this many ms (default 30 s): short limits need short ticks.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
      // A missing Host is answered by checkHost(), with a sentence: node:http would send an empty 400.
      requireHostHeader: false,
    };
  }

  /** Hand a listener's events to this service (the plain one, and the HTTPS one of listenTls()). */
  private configure<S extends http.Server>(server: S): S {
    const { keepAliveTimeoutMs, maxConnections } = this.limits;
    // Without this, node:http ends the connection as soon as the client half-closes
    // (sends FIN after its request, as `nc -N` and many scripts do), and an answer
    // still being prepared (a file read, the app behind the proxy) is lost. With it,
    // the answer goes out, and then the connection closes.
    (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.keepAliveTimeout = keepAliveTimeoutMs;
    server.maxConnections = maxConnections;

    // HTTPS: 'connection' is the TCP connection, before TLS; the requests come on the TLS socket ('secureConnection').
    server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (socket: Socket) => this.onConnection(socket));
    server.on('request', (req, res) => this.onRequest(req, res, false));
    // With this listener node:http no longer sends `100 Continue` on its own: the service
    // does, once it wants the body (RFC 9110 §10.1.1), or passes the expectation on.
    server.on('checkContinue', (req, res) => this.onRequest(req, res, true));
    server.on('connect', (req: IncomingMessage, socket: Duplex) => this.onConnect(req, socket));
    server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex) => this.onClientError(err, socket));
    server.on('drop', (data?: { remoteAddress?: string }) =>
      this.log.warn('too many connections: refused one', { client: data?.remoteAddress, maxConnections }),
    );
    return server;
  }

  /** Handle one request that passed the rules: answer it, or throw an HttpError. */
  protected abstract serve(ex: X): Promise<void>;

  /** Answer with an error (an HttpError a handler or rule threw, or a 500), in the service's own format. */
  protected abstract answerError(ex: X, error: HttpError): void;

  /** The service's own Exchange for a request, made from what every service has. */
  protected abstract exchange(base: HttpExchange): X;

  /** The fields of the `listening` log line, after address and port. */
  protected describe(): Fields {
    return {};
  }

  /** The response is closed (sent, or cut off); its log line follows. */
  protected responseClosed(_ex: X): void {}

  /** Whatever the service must have before its first request (the site's files, its state). */
  protected async ready(): Promise<void> {}

  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    await this.ready();
    const address = await bind(this.name.service, this.server, () => this.server.listen(port, host), host, port);
    this.log.info('listening', { address: address.address, port: address.port, ...this.describe(), redirectToHttps: this.redirect ? true : undefined });
    return address;
  }

  /**
   * HTTPS (RFC 9110 §4.2.2): the same service on a second port, inside TLS from the first
   * byte, with the lab CA's certificate (`tls`: its faults, its reasons for a failed
   * handshake) and ALPN http/1.1 (RFC 7301). Call it once, beside listen().
   */
  async listenTls(port: number, host: string, tls: ServiceTls): Promise<AddressInfo> {
    if (this.tlsServer) throw new Error(`${this.name.service}: already listening for HTTPS`);
    await this.ready();
    const server = tls.server((options) => this.configure(https.createServer({ ...this.serverOptions(), ...options })));
    this.tlsServer = server;
    const address = await bind(this.name.service, server, () => server.listen(port, host), host, port);
    if (this.redirect) this.redirect.port ??= address.port;
    this.log.info('listening', { address: address.address, port: address.port, tls: 'implicit', ...this.describe() });
    return address;
  }

  /**
   * Stop accepting connections, close idle keep-alive ones, let requests in flight
   * finish (their responses say `Connection: close`), and after closeGraceMs cut
   * whatever is still open: a slow request does not hold up a restart.
   */
  close(): Promise<void> {
    if (!this.closed) {
      if (!this.server.listening && !this.tlsServer?.listening) return Promise.resolve();
      this.closed = this.shutdown();
    }
    return this.closed;
  }

  protected async shutdown(): Promise<void> {
    this.closing = true;
    const listeners = [this.server, this.tlsServer].filter((s): s is http.Server => s?.listening === true);
    await Promise.all(listeners.map((s) => closeHttpServer(s, this.inFlight, this.limits.closeGraceMs)));
  }

  private onConnection(socket: Socket): void {
    const conn = this.connection(socket);
    const address = clientAddress(socket.remoteAddress);
    conn.log.debug('connection opened', { client: `${address}:${socket.remotePort}` });
    // Over the share, the connection is answered, not dropped: node:http reads its request
    // and handle() says 503 with Retry-After, which a client shows (a reset it would retry).
    conn.refused = this.perAddress.admit(address);
    if (conn.refused) conn.log.warn('connection refused', { client: address, ...conn.refused });
    else socket.once('close', () => this.perAddress.release(address));
    // Runs before node:http's parser reads the same bytes (prepend): see requestLine.ts.
    socket.prependListener('data', (chunk: Buffer) => conn.watch.feed(chunk));
    socket.once('close', () => {
      conn.log.debug('connection closed');
      // A request read behind one answered with `Connection: close` (pipelined) gets a
      // response that node:http never sends nor closes: forget it with its connection,
      // or it and its socket stay in inFlight for good (found by npm run fuzz).
      for (const res of conn.open) this.inFlight.delete(res);
    });
  }

  private connection(socket: Duplex): Connection {
    let conn = this.connections.get(socket);
    if (!conn) this.connections.set(socket, (conn = { log: this.log.child({ conn: connectionId() }), watch: new RequestLineWatch(), open: new Set() }));
    return conn;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const conn = this.connection(req.socket);
    conn.watch.parsed();
    conn.log.debug('request', { method: req.method, target: req.url?.slice(0, 200) }); // as it arrives: the access log line comes when it is done
    const secure = (req.socket as TLSSocket).encrypted === true;
    const ex = this.exchange({ req, res, expectsContinue, secure, log: conn.log, started: new Date(), logFields: {} });
    if (conn.watch.sentVersion) ex.logFields.sent = `HTTP/${conn.watch.sentVersion}`; // served as HTTP/1.1
    conn.response = res;
    conn.cutOffWith = undefined;
    this.inFlight.add(res);
    conn.open.add(res);
    if (this.closing) res.setHeader('Connection', 'close');
    res.once('finish', () => conn.watch.next(req.complete));
    res.once('close', () => {
      this.inFlight.delete(res);
      conn.open.delete(res);
      if (conn.response === res) conn.response = undefined;
      this.responseClosed(ex);
      this.logRequest(ex, conn);
      // A response finished during close(): its connection may be idle now.
      if (this.closing) setImmediate(() => this.server.closeIdleConnections());
    });
    this.handle(ex).catch((err: unknown) => this.fail(ex, err));
  }

  /** The rules of HTTP/1.1 first (httpRules.ts), then the lesson's redirect, then the service. */
  private async handle(ex: X): Promise<void> {
    const refused = this.connections.get(ex.req.socket)?.refused;
    if (refused) {
      throw new HttpError(Status.ServiceUnavailable, `${refused.reason} (${refused.limit}): close one and try again`, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
        Connection: 'close',
      });
    }
    const broken = checkRequest(ex.req, this.limits);
    if (broken) {
      ex.log.warn('request refused', { status: broken.status, reason: broken.message });
      throw broken;
    }
    if (this.redirect && !ex.secure && this.tlsServer) return this.redirectToHttps(ex, this.redirect.port);
    await this.serve(ex);
  }

  /**
   * The same URL with https://: the host the client asked for, on the standard port (443)
   * when it came on the standard one, else on `port` (the embedded lab's 8443). 301 for
   * GET and HEAD; 308 for the rest, so that a POST is sent again as a POST (RFC 9110 §15.4).
   */
  private redirectToHttps(ex: X, port: number | undefined): void {
    const { req, res } = ex;
    const host = new URL(`http://${req.headers.host}`); // checkRequest() made sure there is a valid Host
    const location = `https://${host.hostname}${host.port && port !== undefined && port !== 443 ? `:${port}` : ''}${req.url}`;
    const status = req.method === 'GET' || req.method === 'HEAD' ? Status.MovedPermanently : Status.PermanentRedirect;
    const body = Buffer.from(`${STATUS_CODES[status]}: this site is served over HTTPS now, at ${location}\n`);
    ex.logFields.location = location;
    ex.bytes = req.method === 'HEAD' ? 0 : body.length;
    res.writeHead(status, { Location: location, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** serve() threw: an HttpError is an answer, anything else is our bug (500). */
  private fail(ex: X, err: unknown): void {
    const { req, res } = ex;
    let error: HttpError;
    if (err instanceof HttpError) error = err;
    else {
      ex.log.error('request failed', { target: req.url, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      error = new HttpError(Status.InternalServerError, `${this.name.who} failed to answer this request; the reason is in its log`);
    }
    if (res.writableEnded || res.destroyed || !req.socket.writable) return;
    if (res.headersSent) {
      res.destroy(); // too late for a status: cutting the connection is the only honest signal
      return;
    }
    this.answerError(ex, error);
  }

  /** One line per request, in the common log format (clf.ts), then the service's fields. */
  private logRequest(ex: X, conn: Connection): void {
    const { req, res } = ex;
    const hasBody = res.headersSent && req.method !== 'HEAD' && !forbidsBody(res.statusCode);
    const line = clfLine({
      client: clientAddress(req.socket.remoteAddress),
      user: ex.user,
      time: ex.started,
      requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
      status: res.headersSent ? res.statusCode : conn.cutOffWith,
      bytes: ex.bytes ?? (hasBody ? Number(res.getHeader('content-length') ?? 0) : 0),
    });
    ex.log.info(line, { ...ex.logFields, ...(res.writableFinished ? {} : { incomplete: true }) });
  }

  /**
   * node:http could not read a request: bad syntax, a head too large, too slow, a
   * method or version it does not know (httpRules.ts explainParseError() says which).
   * node:http would answer with an empty body; we say why, then close the connection,
   * since nothing after a broken message can be trusted.
   */
  private onClientError(err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex): void {
    const conn = this.connection(socket);
    if (err.code === 'ECONNRESET' || !socket.writable || conn.response?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, why } = explainParseError(err, conn.watch, { ...this.limits, who: this.name.who });
    conn.log.warn('unreadable request', { status, error: err.code, reason: err.reason ?? err.message });
    this.answerRaw(socket as Socket, conn, status, why, { error: err.code });
  }

  /** CONNECT (a request for a tunnel) comes as its own event; without an answer node:http just closes. */
  private onConnect(req: IncomingMessage, socket: Duplex): void {
    const conn = this.connection(socket);
    conn.watch.parsed();
    const { status, why } = connectRefusal(this.name.who, req.url);
    conn.log.warn('CONNECT refused', { status, target: req.url });
    this.answerRaw(socket as Socket, conn, status, why, {});
  }

  /** An answer written straight to the socket, where node:http has no response object for it; then close. */
  private answerRaw(socket: Socket, conn: Connection, status: number, why: string, fields: Fields): void {
    const body = Buffer.from(why + '\n');
    if (conn.response) conn.cutOffWith = status; // the request's own log line will show it
    else {
      const client = clientAddress(socket.remoteAddress);
      conn.log.info(clfLine({ client, time: new Date(), requestLine: conn.watch.requestLine ?? '-', status, bytes: body.length }), fields);
    }
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n`;
    socket.write(Buffer.concat([Buffer.from(head), body]));
    endSocket(socket);
  }
}
