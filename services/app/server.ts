import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { hasContent, HttpError, traceMessage } from '../common/httpRules';
import { checkHttpLimits, HTTP_SERVICE_DEFAULTS, HttpService, type HttpExchange, type HttpServiceOptions } from '../common/httpService';
import { Status } from '../common/httpStatus';
import { createLogger, type Fields } from '../common/logger';
import type { Limits } from '../common/options';
import { reply, replyError, type AppInfo, type Exchange } from './reply';
import { allowedMethods, handlerFor, ROUTES } from './routes';

/**
 * app.lab.test: the application behind the shop's reverse proxy, on node:http.
 *
 * An application server is the program that does the work (builds the page, answers
 * the API); in production it rarely faces the internet itself. A reverse proxy
 * (shop.lab.test, services/proxy) takes the clients' connections and forwards their
 * requests here. Read routes.ts for what the app answers; this file dispatches each
 * request to the route table. What every lab HTTP server shares (limits, the rules of
 * HTTP/1.1, unreadable requests, the log line, close()) is in services/common/httpService.ts.
 */

export interface AppServerOptions extends HttpServiceOptions {
  /** The longest wait /slow?ms= and /drip?ms= accept, in ms; more is 400 Bad Request. Default: 30000 (30 s). */
  maxSlowMs?: number;
}

/** The defaults of the numeric options, as documented on AppServerOptions (and HttpServiceOptions). */
export const APP_SERVER_DEFAULTS = {
  ...HTTP_SERVICE_DEFAULTS,
  // Every student's request reaches the app from one address, the proxy's: a share per
  // address would be the proxy's share of the app. Only the limit in all applies.
  maxConnectionsPerAddress: HTTP_SERVICE_DEFAULTS.maxConnections,
  maxSlowMs: 30_000,
} as const;
type AppLimits = Limits<typeof APP_SERVER_DEFAULTS>;

export class AppServer extends HttpService<Exchange, AppLimits> {
  private readonly info: AppInfo;

  constructor(options: AppServerOptions = {}) {
    const limits = checkHttpLimits('app', APP_SERVER_DEFAULTS, options, { maxSlowMs: 0 });
    super({ service: 'app', who: 'the app' }, limits, options.log ?? createLogger('app'));
    this.info = { hostname: os.hostname(), pid: process.pid, startedAt: Date.now(), maxSlowMs: limits.maxSlowMs };
  }

  /** Find the route, run its handler; TRACE, 404, 405 and OPTIONS are answered here. */
  protected async serve(ex: Exchange): Promise<void> {
    const method = ex.req.method ?? 'GET';
    // RFC 9110 §9.3.8: TRACE is about the request, not a resource: the app, its last
    // recipient, sends it back as it arrived. Through shop.lab.test it shows what the
    // proxy added (Via, X-Forwarded-*) and Max-Forwards one lower.
    if (method === 'TRACE') return reply(ex, Status.OK, traceMessage(ex.req), { 'Content-Type': 'message/http', 'Cache-Control': 'no-store' });
    if (!ex.req.url?.startsWith('/')) throw new HttpError(Status.BadRequest, `the request target must be a path such as /api/products, not ${JSON.stringify(ex.req.url)}`);
    const path = ex.url.pathname;
    const route = ROUTES[path];
    if (!route) {
      throw new HttpError(Status.NotFound, `nothing here answers ${path}; try ${Object.keys(ROUTES).join(', ')}`);
    }
    const handler = handlerFor(route, method);
    // The app reads the body of every request it handles: `100 Continue` at once, as node:http would send it.
    if (handler && ex.expectsContinue) ex.res.writeContinue();
    if (handler) return handler(ex);
    const allow = allowedMethods(route);
    if (method === 'OPTIONS') return reply(ex, Status.NoContent, '', { Allow: allow });
    throw new HttpError(Status.MethodNotAllowed, `${method} is not allowed on ${path}; it allows ${allow}`, { Allow: allow });
  }

  /**
   * `400 Bad Request`, a blank line, what went wrong. An error is answered without
   * reading a body the client sent: the unread bytes would be read as the next
   * request, so this connection closes after the answer (RFC 9112 §9.6).
   */
  protected answerError(ex: Exchange, error: HttpError): void {
    const unread = hasContent(ex.req) || !ex.req.complete ? { Connection: 'close' } : {};
    replyError(ex, error.status, error.message, { ...error.headers, ...unread });
  }

  protected exchange(base: HttpExchange): Exchange {
    let url: URL;
    try {
      url = new URL(base.req.url ?? '/', 'http://app.lab.test');
    } catch {
      url = new URL('http://app.lab.test/');
    }
    return { ...base, app: this.info, url, bytes: 0 };
  }

  override async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const address = await super.listen(port, host);
    this.info.startedAt = Date.now();
    return address;
  }

  protected override describe(): Fields {
    return { hostname: this.info.hostname, pid: this.info.pid };
  }
}
