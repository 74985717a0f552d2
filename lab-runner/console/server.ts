import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { RETRY_AFTER_SECONDS } from '../../services/common/httpService';
import { checkLimits, definedOnly, type Limits } from '../../services/common/options';
import { clientAddress, ConnectionLimiter } from '../../services/common/sessionHost';
import { createLogger, silentSink, type Logger } from '../../services/common/logger';
import { packageRoot } from '../../services/common/paths';
import { closeHttpServer } from '../../services/common/sessions';
import { SHUTDOWN_GRACE_MS } from '../../services/common/shutdown';
import type { Backend, LabAction } from '../backends/types';
import type { RunCapture } from '../packets/runCapture';
import { findService } from '../wire';
import { EventHub } from './events';
import { actionsOf, labView, type LabView } from './labView';
import { panels } from './panels';
import { QuizBook } from './quizBook';
import { BusyError, RunLimiter, runId, ScenarioRuns } from './runs';
import { judge, makeToken, refusedPage, tokenCookie } from './security';
import { inspectHttp, stepFromYaml, TryError, tryStep } from './tryit';

/**
 * The lab console: a web page to see the lab, try every protocol, run scenarios and
 * answer quizzes, served by `wirelab up` on 127.0.0.1 (port 8000). Plain node:http:
 * a few JSON routes, the page's built files (dist/lab-runner/console/public, made by
 * `npm run build` from client/), and one server-sent event stream for live updates.
 * Every request needs the token (security.ts); every run goes through the runner's
 * own executors on the console's backend, which reaches lab hosts only.
 */

export const CONSOLE_LIMITS = {
  /** Runs at once (Try it, scenario runs and quiz probes together). */
  maxRuns: 2,
  /** Pages listening for live updates at once. */
  maxStreams: 16,
  /** The largest request body taken, in bytes. */
  maxBodyBytes: 64 * 1024,
  /**
   * Open connections from one address. The console listens on 127.0.0.1, so that is
   * this machine; a classroom server's per-student limits will use the same option.
   */
  connectionsPerAddress: 64,
  /** How often the Lab page's states and health are looked at, in ms (sent when they change). */
  statusIntervalMs: 1000,
  /** On close() (SIGTERM), how long a request in flight may finish (with `Connection: close`) before it is cut. */
  closeGraceMs: SHUTDOWN_GRACE_MS,
  /** Log lines of a service the Lab page shows. */
  logLines: 30,
};
export type ConsoleLimits = Limits<typeof CONSOLE_LIMITS>;

export interface ConsoleOptions {
  backend: Backend;
  /** The scenarios the Scenarios page lists and runs. */
  scenariosDir: string;
  /** The quiz files of the Lessons and Quizzes pages. */
  quizzesDir: string;
  /** Default: a fresh random token. */
  token?: string;
  /**
   * The port the browser reaches the console on, which Host must name: in Docker the
   * container's port is published elsewhere on 127.0.0.1. Default: the port listened on.
   */
  publicPort?: number;
  limits?: Partial<ConsoleLimits>;
  log?: Logger;
  /** The built page (index.html, console.js, console.css). Default: dist/lab-runner/console/public. */
  publicDir?: string;
  /**
   * The lab's packet capture (`wirelab up --capture`): Try it, scenario runs and probes
   * take their steps' packets from it (the TCP layer under the ladder). Without it the
   * page says how to get them, and the scenarios that check packets do not run.
   */
  capture?: RunCapture;
}

/** The page's files, by their address. */
const ASSETS: Record<string, string> = { '/console.js': 'text/javascript; charset=utf-8', '/console.css': 'text/css; charset=utf-8' };

/** The page may load its own files and talk to its own server, nothing else. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<unknown>;

export class ConsoleServer {
  readonly token: string;
  readonly limits: ConsoleLimits;
  private readonly server: http.Server;
  private readonly hub: EventHub;
  private readonly limiter: RunLimiter;
  private readonly runs: ScenarioRuns;
  private readonly quizzes: QuizBook;
  private readonly log: Logger;
  private readonly publicDir: string;
  /** connectionsPerAddress: one address (one machine) cannot hold every socket. */
  private readonly perAddress: ConnectionLimiter;
  /** Connections over their address's share: their requests are answered 503 with Retry-After. */
  private readonly refused = new WeakSet<Socket>();
  /** Responses not yet sent: on close() they say `Connection: close` and may finish. */
  private readonly inFlight = new Set<ServerResponse>();
  private closed?: Promise<void>;
  private readonly routes: [string, RegExp, Handler][];
  private port = 0;
  private statusTimer?: NodeJS.Timeout;
  private lastLab = '';

  constructor(private readonly options: ConsoleOptions) {
    this.token = options.token ?? makeToken();
    this.limits = checkLimits('console', CONSOLE_LIMITS, definedOnly(options.limits ?? {}), { min: { closeGraceMs: 0 } });
    this.log = options.log ?? createLogger('console', { sink: silentSink });
    this.publicDir = options.publicDir ?? path.join(packageRoot(), 'dist/lab-runner/console/public');
    this.perAddress = new ConnectionLimiter({ maxConnections: Infinity, maxConnectionsPerAddress: this.limits.connectionsPerAddress });
    this.hub = new EventHub(this.limits.maxStreams);
    this.limiter = new RunLimiter(this.limits.maxRuns);
    this.runs = new ScenarioRuns(options.scenariosDir, options.backend, this.hub, this.limiter, options.capture);
    this.quizzes = new QuizBook(options.quizzesDir, this.runs);
    this.routes = [
      ['GET', /^\/api\/lab$/, () => this.labView()],
      ['POST', /^\/api\/lab\/([a-z0-9-]+)\/([a-z]+)$/, (_q, _s, [service, action]) => this.labAction(service!, action!)],
      ['GET', /^\/api\/lab\/([a-z0-9-]+)\/logs$/, (_q, _s, [service]) => this.logs(service!)],
      ['GET', /^\/api\/panels$/, async () => panels()],
      ['POST', /^\/api\/try$/, (req) => this.tryIt(req)],
      ['POST', /^\/api\/inspect$/, async (req) => inspectHttp((await this.body(req)).input)],
      ['GET', /^\/api\/scenarios$/, async () => {
        const { scenarios, errors } = await this.runs.list();
        return { scenarios, errors };
      }],
      ['POST', /^\/api\/runs$/, async (req) => {
        const body = await this.body(req);
        return this.runs.start(body.files, body.id);
      }],
      ['GET', /^\/api\/runs\/([A-Za-z0-9-]+)\/report\.(html|xml|json)$/, (_q, res, [id, ext]) => this.report(res, id!, ext!)],
      ['GET', /^\/api\/quizzes$/, () => this.quizzes.list()],
      ['POST', /^\/api\/quizzes\/([a-z0-9-]+)\/probe$/, async (req, _s, [quiz]) => {
        const body = await this.body(req);
        return this.quizzes.probe(quiz, runId(body.id));
      }],
      ['POST', /^\/api\/quizzes\/([a-z0-9-]+)\/check$/, async (req, _s, [quiz]) => {
        const body = await this.body(req);
        return this.quizzes.check(quiz, body.question, body.answer, runId(body.id));
      }],
    ];
    this.server = http.createServer((req, res) => {
      // A request the checks cannot read (a target that is no URL) is refused: a rejection left unhandled would end the process, and the lab with it.
      this.handle(req, res).catch((err: unknown) => {
        this.log.warn('unreadable request', { method: req.method, error: err instanceof Error ? err.message : String(err) });
        if (res.headersSent) res.destroy();
        else this.json(res, 400, { error: 'this request cannot be read' });
      });
    });
    this.server.on('connection', (socket) => this.countConnection(socket));
  }

  /** Listen on 127.0.0.1 (the console is for this machine), on `port` (0: a free one). */
  async listen(port = 8000, host = '127.0.0.1'): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.port = this.options.publicPort ?? address.port;
    this.statusTimer = setInterval(() => void this.watchLab(), this.limits.statusIntervalMs).unref();
    this.log.info('listening', { address: `${address.address}:${address.port}`, url: this.url.replace(/token=.*/, 'token=…') });
    return address;
  }

  /** The address to open, with the token: what `wirelab up` prints. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/?token=${this.token}`;
  }

  /** Stop accepting, end the live-update streams, let requests in flight finish within closeGraceMs. Once: a second call gets the same promise. */
  close(): Promise<void> {
    if (!this.closed) {
      clearInterval(this.statusTimer);
      this.hub.close();
      this.closed = this.server.listening ? closeHttpServer(this.server, this.inFlight, this.limits.closeGraceMs) : Promise.resolve();
    }
    return this.closed;
  }

  // -------------------------------------------------------------------------
  // Requests

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    if (this.refused.has(req.socket)) {
      // As the lab's HTTP services answer it (services/common/httpService.ts): try again later, and how much later.
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      res.setHeader('Connection', 'close');
      return this.json(res, 503, { error: `too many connections from your address (${this.limits.connectionsPerAddress}): close one and try again` });
    }
    const verdict = judge(req, url, this.token, this.port);
    if (!verdict.ok) {
      this.log.warn('refused', { method: req.method, path: url.pathname, status: verdict.status, reason: verdict.reason, client: req.socket.remoteAddress });
      if (url.pathname.startsWith('/api/')) return this.json(res, verdict.status, { error: verdict.reason });
      res.writeHead(verdict.status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" });
      res.end(refusedPage(verdict.reason));
      return;
    }
    if (verdict.viaQuery) {
      // The token becomes a cookie, and leaves the address bar (and the history) at once.
      res.writeHead(303, { 'Set-Cookie': tokenCookie(this.token), Location: url.pathname });
      res.end();
      return;
    }
    try {
      if (req.method === 'GET' && url.pathname === '/') return await this.page(res);
      if (req.method === 'GET' && ASSETS[url.pathname]) return await this.asset(res, url.pathname);
      if (req.method === 'GET' && url.pathname === '/api/events') {
        if (!this.hub.add(res)) this.json(res, 503, { error: `${this.hub.size} pages are listening already (maxStreams)` });
        else void this.watchLab(true);
        return;
      }
      const allowed: string[] = [];
      for (const [method, pattern, handler] of this.routes) {
        const m = pattern.exec(url.pathname);
        if (!m) continue;
        if (req.method !== method) {
          allowed.push(method);
          continue;
        }
        const value = await handler(req, res, m.slice(1), url);
        if (!res.headersSent) this.json(res, 200, value);
        return;
      }
      if (allowed.length) throw new HttpError(405, `${url.pathname} takes ${allowed.join(' or ')}`);
      throw new HttpError(404, `nothing at ${url.pathname}`);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : err instanceof BusyError ? 429 : err instanceof TypeError || err instanceof TryError ? 400 : 500;
      if (status === 500) this.log.error('failed', { path: url.pathname, error: (err as Error).message });
      else this.log.warn('bad request', { path: url.pathname, status, error: (err as Error).message });
      if (!res.headersSent) this.json(res, status, { error: (err as Error).message });
      else res.end();
    }
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    const body = JSON.stringify(value ?? null);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** A JSON request body, up to maxBodyBytes. */
  private async body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.limits.maxBodyBytes) throw new HttpError(413, `the request is larger than ${this.limits.maxBodyBytes} bytes (maxBodyBytes)`);
      chunks.push(chunk as Buffer);
    }
    if (!size) return {};
    try {
      const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // answered below
    }
    throw new HttpError(400, 'the request body is a JSON object');
  }

  private async page(res: ServerResponse): Promise<void> {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY' });
    res.end(await readFile(path.join(this.publicDir, 'index.html')));
  }

  private async asset(res: ServerResponse, name: string): Promise<void> {
    const body = await readFile(path.join(this.publicDir, name.slice(1))).catch(() => {
      throw new HttpError(500, `the console's page is not built (${name}): run npm run build`);
    });
    res.writeHead(200, { 'Content-Type': ASSETS[name]!, 'Content-Length': body.length });
    res.end(body);
  }

  // -------------------------------------------------------------------------
  // The lab

  private async labAction(service: string, action: string): Promise<unknown> {
    if (!findService(service)) throw new HttpError(404, `no lab service named ${service}`);
    if (!(actionsOf(this.options.backend) as string[]).includes(action)) {
      throw new HttpError(400, `${action} is not an action of the ${this.options.backend.name} lab (it has: ${actionsOf(this.options.backend).join(', ')})`);
    }
    this.log.info('lab action', { service, action });
    const status = await this.options.backend.control(service, action as LabAction);
    await this.watchLab(true);
    return status;
  }

  private async logs(service: string): Promise<unknown> {
    if (!findService(service)) throw new HttpError(404, `no lab service named ${service}`);
    const lines = await this.options.backend.logs(service);
    return { service, lines: lines.slice(-this.limits.logLines) };
  }

  private labView(): Promise<LabView> {
    return labView(this.options.backend, Boolean(this.options.capture));
  }

  /** Send the lab's picture to the pages when it changed (or now, `always`). */
  private async watchLab(always = false): Promise<void> {
    if (!this.hub.size) return;
    try {
      const view = await this.labView();
      const text = JSON.stringify(view);
      if (always || text !== this.lastLab) this.hub.send('lab', view);
      this.lastLab = text;
    } catch (err) {
      this.log.warn('lab status failed', { error: (err as Error).message });
    }
  }

  // -------------------------------------------------------------------------
  // Try it, reports

  private async tryIt(req: IncomingMessage): Promise<unknown> {
    const body = await this.body(req);
    const id = runId(body.id);
    const request = typeof body.yaml === 'string' ? stepFromYaml(body.yaml) : { action: body.action, input: body.input, name: typeof body.name === 'string' ? body.name : undefined };
    this.log.info('try', { action: String(request.action) });
    return this.limiter.run(() => tryStep(this.options.backend, request, (event) => this.hub.send('wire', { id, event }), this.options.capture?.run()));
  }

  private async report(res: ServerResponse, id: string, ext: string): Promise<void> {
    const format = ext === 'xml' ? 'junit' : (ext as 'html' | 'json');
    const text = this.runs.report(id, format);
    if (text === undefined) throw new HttpError(404, `no finished run ${id}`);
    const type = { html: 'text/html', junit: 'application/xml', json: 'application/json' }[format];
    const name = { html: 'report.html', junit: 'junit.xml', json: 'result.json' }[format];
    res.writeHead(200, { 'Content-Type': `${type}; charset=utf-8`, 'Content-Disposition': `attachment; filename="${name}"` });
    res.end(text);
  }

  /** connectionsPerAddress: one address (one machine) cannot hold every socket. Over it, a connection is answered, not dropped. */
  private countConnection(socket: Socket): void {
    const address = clientAddress(socket);
    const refusal = this.perAddress.admit(address);
    if (refusal) {
      this.log.warn('connection refused', { client: address, ...refusal });
      this.refused.add(socket);
      return;
    }
    socket.once('close', () => this.perAddress.release(address));
  }
}
