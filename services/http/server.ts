import { AUTH_THROTTLE_DEFAULTS, AuthThrottle, type AuthThrottleOptions } from '../common/authThrottle';
import path from 'node:path';
import { FileCache } from '../common/fileCache';
import { HttpError } from '../common/httpRules';
import {
  checkHttpLimits,
  HTTP_SERVICE_DEFAULTS,
  HttpService,
  type HttpExchange,
  type HttpServiceOptions,
} from '../common/httpService';
import { Status } from '../common/httpStatus';
import { isInside } from '../common/jail';
import { definedOnly, type Limits } from '../common/options';
import { createLogger, type Fields } from '../common/logger';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { loadUsers, type LabUser } from '../common/users';
import { authenticate } from './auth';
import { NotesStore } from './notesStore';
import { reply, replyError, type Exchange, type Site } from './reply';
import { allowedMethods, findRoute, handlerFor } from './router';
import { ROUTES } from './routes';
import { BadTargetError, decodePath, splitTarget } from './target';
import { loadOrCreateKey } from './tokenKey';

/**
 * www.lab.test: the lab's HTTP/1.1 server, on node:http.
 *
 * node:http parses the messages (RFC 9112); services/common/httpService.ts, which this
 * server extends, holds what the lab's three HTTP servers share: the limits, the rules
 * every request must pass (httpRules.ts: Host, versions, framing), answers in words to
 * requests node:http cannot read, the log line, listen() and close(). This file hands
 * each request to the route table in routes.ts. Read routes.ts next, then static.ts,
 * api.ts, auth.ts and inspect.ts.
 */

export interface HttpServerOptions extends HttpServiceOptions, AuthThrottleOptions {
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
  /** Largest request body in bytes; more gets 413 (RFC 9110 §15.5.14), decided while it streams in. Default: 64 KiB. */
  maxBodyBytes?: number;
  /** Most ranges one Range header may ask for; more and the whole file is sent (RFC 9110 §14.2). Default: 16. */
  maxRanges?: number;
  /** Lifetime of a login token in seconds (its exp minus its iat). Default: 3600 (one hour). */
  tokenTtlSeconds?: number;
  /**
   * Memory for the static files found on the disk and, up to a sixteenth of it each, their
   * bytes, kept while they are unchanged (services/common/fileCache.ts); 0 keeps none. Default: 16 MiB.
   */
  fileCacheBytes?: number;
}

/** The defaults of the numeric options, as documented on HttpServerOptions (and HttpServiceOptions). */
export const HTTP_SERVER_DEFAULTS = {
  ...HTTP_SERVICE_DEFAULTS,
  maxBodyBytes: 64 * 1024,
  maxRanges: 16,
  tokenTtlSeconds: 3600,
  fileCacheBytes: 16 * 1024 * 1024,
  ...AUTH_THROTTLE_DEFAULTS,
} as const;
type HttpLimits = Limits<typeof HTTP_SERVER_DEFAULTS>;

export class HttpServer extends HttpService<Exchange, HttpLimits> {
  private site?: Site;

  constructor(private readonly options: HttpServerOptions = {}) {
    super({ service: 'http', who: 'the server' }, checkHttpLimits('http', HTTP_SERVER_DEFAULTS, options, { fileCacheBytes: 0, authFailureDelayMs: 0 }), options.log ?? createLogger('http'), options);
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

  /** Decode the target, check the token, find the route, run its handler. */
  protected async serve(ex: Exchange): Promise<void> {
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
    ex.user = ex.auth.user?.name;

    const match = findRoute(ROUTES, ex.path);
    if (!match) throw new HttpError(Status.NotFound, `nothing here answers ${ex.path}`);
    ex.params = match.params;
    const handler = handlerFor(match.route, method);
    if (handler) return handler(ex);

    const allow = allowedMethods(match.route).join(', ');
    if (method === 'OPTIONS') return reply(ex, Status.NoContent, '', { Allow: allow });
    throw new HttpError(Status.MethodNotAllowed, `${method} is not allowed on ${ex.path}; it allows ${allow}`, { Allow: allow });
  }

  /** Errors are JSON under /api/, plain text elsewhere (reply.ts). */
  protected answerError(ex: Exchange, error: HttpError): void {
    replyError(ex, error.status, error.message, error.headers);
  }

  protected override async ready(): Promise<void> {
    this.site ??= await this.openSite();
  }

  protected override describe(): Fields {
    return { www: this.site?.wwwDir };
  }

  /** Close like every HTTP service, then write the notes out. */
  protected override async shutdown(): Promise<void> {
    await super.shutdown();
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
      maxRanges: this.limits.maxRanges,
      files: new FileCache({ maxBytes: this.limits.fileCacheBytes }),
      logins: new AuthThrottle(this.limits),
    };
  }

  protected exchange(base: HttpExchange): Exchange {
    return { ...base, site: this.site!, rawPath: '', path: '', query: '', params: {}, auth: {}, bodyRead: false };
  }
}

/** OPTIONS * asks about the server as a whole: which methods it knows at all. */
function optionsForServer(ex: Exchange): void {
  if (ex.req.method !== 'OPTIONS') throw new HttpError(Status.BadRequest, 'the target "*" is only for OPTIONS');
  reply(ex, Status.NoContent, '', { Allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS' });
}
