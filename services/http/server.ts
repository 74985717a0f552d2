import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { isInside } from '../common/jail';
import { bind } from '../common/listen';
import { closeHttpServer } from '../common/sessions';
import { checkLimits, definedOnly } from '../common/options';
import { connectionId, createLogger, type Logger } from '../common/logger';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { loadUsers, type LabUser } from '../common/users';
import { authenticate } from './auth';
import { clfLine, clientAddress } from './clf';
import { NotesStore } from './notesStore';
import { HttpError, reply, replyError, type Exchange, type Site } from './reply';
import { allowedMethods, findRoute, handlerFor } from './router';
import { ROUTES } from './routes';
import { forbidsBody, Status } from './status';
import { BadTargetError, decodePath, splitTarget } from './target';
import { loadOrCreateKey } from './tokenKey';

/**
 * www.lab.test: the lab's HTTP/1.1 server, on node:http.
 *
 * node:http parses the messages (RFC 9112) and enforces the size and time limits
 * below; this file wires the limits, turns parse errors into answers a person can
 * read, logs one line per request, and hands each request to the route table in
 * routes.ts. Read routes.ts next, then static.ts, api.ts, auth.ts and inspect.ts.
 */

export interface HttpServerOptions {
  /** The folder the static site is served from. Default: `lab/www` (or `$WIRELAB_LAB/www`). */
  wwwDir?: string;
  /**
   * Where the server keeps its state: `http/notes.json` (the API's notes) and
   * `http/token.key` (the secret that signs tokens). Never lab/. Default: `data/` (or `$WIRELAB_DATA`).
   */
  dataDir?: string;
  /** The first notes, copied into the data directory on first start. Default: `lab/api/notes.json`. */
  notesSeed?: string;
  /** Who may log in to the API. Default: nobody (`[]`); fromLab() loads lab/users.yaml. */
  users?: readonly LabUser[];
  /** Largest request head (request line and headers) in bytes; more gets 431 (RFC 6585 §5). Default: 16 KiB. */
  maxHeaderBytes?: number;
  /** Largest request body in bytes; more gets 413 (RFC 9110 §15.5.14), decided while it streams in. Default: 64 KiB. */
  maxBodyBytes?: number;
  /** Time a client has to send the whole request head; then 408 (RFC 9110 §15.5.9). Stops slowloris. Default: 10 s. */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request, body included; then 408. At least headersTimeoutMs. Default: 30 s. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection waits for its next request (RFC 9112 §9.3). Default: 5 s. */
  keepAliveTimeoutMs?: number;
  /** Connections open at once; more are closed as soon as they arrive. Default: 200. */
  maxConnections?: number;
  /** Lifetime of a login token in seconds (its exp minus its iat). Default: 3600 (one hour). */
  tokenTtlSeconds?: number;
  /** How long close() lets requests in flight finish before cutting their connections. Default: 2000 ms. */
  closeGraceMs?: number;
  /** Where log lines go. Default: createLogger('http') (stderr). */
  log?: Logger;
}

/** The defaults of the numeric options, as documented on HttpServerOptions. */
export const HTTP_SERVER_DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 200,
  tokenTtlSeconds: 3600,
  closeGraceMs: 2000,
} as const;
type Limits = { -readonly [K in keyof typeof HTTP_SERVER_DEFAULTS]: number };

/** What the server remembers about one TCP connection. */
interface Connection {
  log: Logger;
  /** The response being written on it, if any: a connection carries one request at a time. */
  response?: ServerResponse;
  /** The status a parse error or timeout was answered with while a request was in flight. */
  cutOffWith?: number;
}

export class HttpServer {
  private readonly server: http.Server;
  private readonly limits: Limits;
  private readonly log: Logger;
  private readonly connections = new WeakMap<Duplex, Connection>();
  private readonly inFlight = new Set<ServerResponse>();
  private site?: Site;
  private closing = false;
  private closed?: Promise<void>;

  constructor(private readonly options: HttpServerOptions = {}) {
    this.limits = checkHttpLimits(options);
    this.log = options.log ?? createLogger('http');
    const { maxHeaderBytes, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections } = this.limits;
    this.server = http.createServer({
      maxHeaderSize: maxHeaderBytes,
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // node:http looks for late requests every this many ms (default 30 s): short limits need short ticks.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
    });
    this.server.keepAliveTimeout = keepAliveTimeoutMs;
    this.server.maxConnections = maxConnections;

    this.server.on('connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('request', (req, res) => this.onRequest(req, res, false));
    // With this listener node:http no longer sends `100 Continue` on its own: readBody() does,
    // once a handler really wants the body (RFC 9110 §10.1.1).
    this.server.on('checkContinue', (req, res) => this.onRequest(req, res, true));
    this.server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket) => this.onClientError(err, socket));
    this.server.on('drop', (data) =>
      this.log.warn('too many connections: refused one', { client: data?.remoteAddress, maxConnections }),
    );
  }

  /** The server for a lab: the site from `<labDir>/www`, notes seeded from `<labDir>/api`, users from users.yaml. */
  static async fromLab(labDir: string, dataDir: string, options: HttpServerOptions = {}): Promise<HttpServer> {
    if (isInside(path.resolve(labDir), path.resolve(dataDir))) {
      throw new Error(`the data directory ${dataDir} is inside the lab directory ${labDir}; lab/ stays read-only`);
    }
    return new HttpServer({
      wwwDir: path.join(labDir, 'www'),
      notesSeed: path.join(labDir, 'api', 'notes.json'),
      users: options.users ?? (await loadUsers(labDir)),
      ...definedOnly(options),
      dataDir,
    });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    this.site ??= await this.openSite();
    const address = await bind('http', this.server, () => this.server.listen(port, host), host, port);
    this.log.info('listening', { address: address.address, port: address.port, www: this.site.wwwDir });
    return address;
  }

  /**
   * Stop accepting connections, close idle keep-alive ones, let requests in flight
   * finish (their responses say `Connection: close`), and after closeGraceMs cut
   * whatever is still open.
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
    await this.site?.notes.flush();
  }

  private async openSite(): Promise<Site> {
    const labData = this.options.dataDir ?? defaultDataDir();
    const dataDir = path.join(labData, 'http');
    const notes = new NotesStore(
      path.join(dataDir, 'notes.json'),
      this.options.notesSeed ?? path.join(defaultLabDir(), 'api', 'notes.json'),
    );
    await notes.open();
    return {
      wwwDir: path.resolve(this.options.wwwDir ?? path.join(defaultLabDir(), 'www')),
      dataDir: path.resolve(labData),
      notes,
      users: this.options.users ?? [],
      tokenKey: await loadOrCreateKey(path.join(dataDir, 'token.key')),
      tokenTtlSeconds: this.limits.tokenTtlSeconds,
      maxBodyBytes: this.limits.maxBodyBytes,
    };
  }

  private onConnection(socket: Socket): void {
    const log = this.log.child({ conn: connectionId() });
    this.connections.set(socket, { log });
    log.debug('connection opened', { client: `${clientAddress(socket.remoteAddress)}:${socket.remotePort}` });
    socket.once('close', () => log.debug('connection closed'));
  }

  private connection(socket: Duplex): Connection {
    let conn = this.connections.get(socket);
    if (!conn) this.connections.set(socket, (conn = { log: this.log }));
    return conn;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const conn = this.connection(req.socket);
    const started = new Date();
    const ex: Exchange = {
      req, res, expectsContinue,
      site: this.site!,
      log: conn.log,
      rawPath: '', path: '', query: '', params: {}, auth: {}, bodyRead: false,
    };
    conn.response = res;
    conn.cutOffWith = undefined;
    this.inFlight.add(res);
    if (this.closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.inFlight.delete(res);
      if (conn.response === res) conn.response = undefined;
      this.logRequest(ex, started, conn);
      // A response finished during close(): its connection may be idle now.
      if (this.closing) setImmediate(() => this.server.closeIdleConnections());
    });
    this.dispatch(ex).catch((err: unknown) => this.fail(ex, err));
  }

  /** Decode the target, check the token, find the route, run its handler. */
  private async dispatch(ex: Exchange): Promise<void> {
    const { req } = ex;
    const method = req.method ?? 'GET';
    try {
      const target = splitTarget(req.url ?? '');
      if (target === '*') return optionsForServer(ex); // OPTIONS * (RFC 9110 §9.3.7)
      ex.rawPath = target.rawPath;
      ex.query = target.query;
      ex.path = decodePath(target.rawPath);
    } catch (err) {
      if (!(err instanceof BadTargetError)) throw err;
      ex.log.warn('bad request target', { target: req.url, reason: err.reason });
      throw new HttpError(Status.BadRequest, err.reason);
    }
    ex.auth = authenticate(req.headers.authorization, ex.site);

    const match = findRoute(ROUTES, ex.path);
    if (!match) throw new HttpError(Status.NotFound, `nothing here answers ${ex.path}`);
    ex.params = match.params;
    const handler = handlerFor(match.route, method);
    if (handler) return handler(ex);

    const allow = allowedMethods(match.route).join(', ');
    if (method === 'OPTIONS') return reply(ex, Status.NoContent, '', { Allow: allow });
    throw new HttpError(Status.MethodNotAllowed, `${method} is not allowed on ${ex.path}; it allows ${allow}`, { Allow: allow });
  }

  /** A handler threw: an HttpError is an answer, anything else is our bug (500). */
  private fail(ex: Exchange, err: unknown): void {
    const { res } = ex;
    const gone = res.writableEnded || res.destroyed || ex.req.socket.destroyed;
    if (!(err instanceof HttpError)) {
      ex.log.error('request failed', { path: ex.path, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    if (gone) return;
    if (res.headersSent) {
      res.destroy(); // too late for a status: cutting the connection is the only honest signal
      return;
    }
    if (err instanceof HttpError) replyError(ex, err.status, err.message, err.headers);
    else replyError(ex, Status.InternalServerError, 'the server failed to answer this request; the reason is in its log');
  }

  /** One line per request, in the common log format (see clf.ts). */
  private logRequest(ex: Exchange, started: Date, conn: Connection): void {
    const { req, res } = ex;
    const status = res.headersSent ? res.statusCode : conn.cutOffWith;
    const hasBody = res.headersSent && req.method !== 'HEAD' && !forbidsBody(res.statusCode);
    const line = clfLine({
      client: clientAddress(req.socket.remoteAddress),
      user: ex.auth.user?.name,
      time: started,
      requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
      status,
      bytes: hasBody ? Number(res.getHeader('content-length') ?? 0) : 0,
    });
    ex.log.info(line, res.writableFinished ? {} : { incomplete: true });
  }

  /**
   * node:http could not read a request: bad syntax (400), a head over maxHeaderBytes
   * (431) or too slow (408). node:http would answer with an empty body; we say why,
   * then close the connection, since nothing after a broken message can be trusted.
   */
  private onClientError(err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex): void {
    const conn = this.connection(socket);
    if (err.code === 'ECONNRESET' || !socket.writable || conn.response?.headersSent) {
      socket.destroy();
      return;
    }
    const { status, why } = this.explain(err);
    conn.log.warn('unreadable request', { status, error: err.code, reason: err.reason ?? err.message });
    const body = Buffer.from(why + '\n');
    if (conn.response) conn.cutOffWith = status; // the request's own log line will show it
    else {
      const client = clientAddress((socket as Socket).remoteAddress);
      conn.log.info(clfLine({ client, time: new Date(), requestLine: '-', status, bytes: body.length }));
    }
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n`;
    socket.end(Buffer.concat([Buffer.from(head), body]), () => socket.destroy());
  }

  private explain(err: NodeJS.ErrnoException & { reason?: string }): { status: number; why: string } {
    const { maxHeaderBytes, headersTimeoutMs, requestTimeoutMs } = this.limits;
    const reason = err.reason ?? err.message;
    switch (err.code) {
      case 'HPE_HEADER_OVERFLOW':
        return {
          status: Status.RequestHeaderFieldsTooLarge,
          why: `The request line and headers are larger than this server accepts (${maxHeaderBytes} bytes).`,
        };
      case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
        return { status: Status.ContentTooLarge, why: 'The chunk extensions of the body are too large.' };
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        return {
          status: Status.RequestTimeout,
          why:
            `The request did not arrive in time: the headers must be complete within ${headersTimeoutMs} ms ` +
            `and the whole request within ${requestTimeoutMs} ms. End the headers with an empty line.`,
        };
      default:
        return {
          status: Status.BadRequest,
          why:
            `This is not an HTTP request the server can read (${err.code ?? 'error'}: ${reason}). A request is a line ` +
            `such as "GET / HTTP/1.1", header lines such as "Host: www.lab.test", then an empty line; every line ` +
            `ends with CR LF (RFC 9112 §2.1, §2.2). Typing by hand with nc? Use nc -C, which sends CR LF.`,
        };
    }
  }
}

/** OPTIONS * asks about the server as a whole: which methods it knows at all. */
function optionsForServer(ex: Exchange): void {
  if (ex.req.method !== 'OPTIONS') throw new HttpError(Status.BadRequest, 'the target "*" is only for OPTIONS');
  reply(ex, Status.NoContent, '', { Allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS' });
}

/** The numeric options with their defaults, each checked (closeGraceMs may be 0: close at once). */
function checkHttpLimits(options: HttpServerOptions): Limits {
  const limits = checkLimits('http', HTTP_SERVER_DEFAULTS, options, { min: { closeGraceMs: 0 } });
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new RangeError(
      `headersTimeoutMs (${limits.headersTimeoutMs}) must not exceed requestTimeoutMs (${limits.requestTimeoutMs}): the headers are part of the request`,
    );
  }
  return limits;
}
