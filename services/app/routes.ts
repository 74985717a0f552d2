import { pipeline } from 'node:stream';
import { clientAddress } from '../common/clf';
import { HttpError } from '../common/httpRules';
import { escapeHtml, reply, replyJson, replyText, type Exchange } from './reply';

/**
 * Every URL the app answers, in one table: path -> method -> handler. A path not here
 * is 404; a method a path does not list is 405 with Allow (RFC 9110 §15.5.6); HEAD
 * is answered by the GET handler, and node:http leaves the body out (RFC 9110 §9.3.2).
 *
 * The app is deliberately small. What it is for is what happens *in front of* it:
 * shop.lab.test, the reverse proxy, forwards every request here (see services/proxy).
 */
export type Handler = (ex: Exchange) => Promise<void>;
export type Route = Partial<Record<string, Handler>>;

export const ROUTES: Readonly<Record<string, Route>> = {
  '/': { GET: home },
  '/api/products': { GET: products },
  '/slow': { GET: slow },
  '/drip': { GET: drip },
  '/headers': { GET: headers },
  '/echo': { POST: echo },
  '/health': { GET: health },
};

export function handlerFor(route: Route, method: string): Handler | undefined {
  return route[method] ?? (method === 'HEAD' ? route.GET : undefined);
}

/** The Allow header (RFC 9110 §10.2.1): the route's methods, HEAD with GET, and OPTIONS and TRACE, which every path answers. */
export function allowedMethods(route: Route): string {
  const methods = Object.keys(route);
  if (methods.includes('GET')) methods.splice(methods.indexOf('GET') + 1, 0, 'HEAD');
  return [...methods, 'OPTIONS', 'TRACE'].join(', ');
}

/** What the shop sells. Prices in cents: money is never a floating-point number. */
export const PRODUCTS = [
  { id: 1, name: 'Patch cable, 2 m, Cat 6', priceCents: 450 },
  { id: 2, name: '8-port switch', priceCents: 2490 },
  { id: 3, name: 'RJ45 crimping tool', priceCents: 1890 },
  { id: 4, name: 'Packet capture poster', priceCents: 990 },
] as const;

/**
 * GET /: a page that says which app served it. Behind a proxy you cannot see the app
 * any more; the host name, process id and uptime on this page tell you which one
 * answered, and whether it restarted (the uptime starts again) after `lab: { restart: app }`.
 */
async function home(ex: Exchange): Promise<void> {
  const { hostname, pid, startedAt } = ex.app;
  const uptime = Math.floor((Date.now() - startedAt) / 1000);
  const rows = PRODUCTS.map((p) => `      <li>${escapeHtml(p.name)}: ${(p.priceCents / 100).toFixed(2)} EUR</li>`).join('\n');
  const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Lab Shop</title>
  </head>
  <body>
    <h1>Lab Shop, served by ${escapeHtml(hostname)} (pid ${pid}, up ${uptime} s)</h1>
    <ul>
${rows}
    </ul>
    <p>Try <a href="/api/products">/api/products</a>, <a href="/headers">/headers</a>
      (what the proxy added to your request) and <a href="/slow?ms=2000">/slow?ms=2000</a>.</p>
  </body>
</html>
`;
  // The page changes with every request (the uptime): no cache may keep it.
  reply(ex, 200, page, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
}

async function products(ex: Exchange): Promise<void> {
  replyJson(ex, 200, PRODUCTS);
}

/**
 * GET /slow?ms=N: answer after N milliseconds. This is the lesson on 504 Gateway
 * Timeout: ask for more than the proxy is willing to wait (2 s in the lab) and the
 * proxy answers 504 before the app does.
 */
async function slow(ex: Exchange): Promise<void> {
  const ms = waitParameter(ex, '/slow');
  if (!(await wait(ex, ms))) return; // the client (or the proxy) gave up: nobody to answer
  replyText(ex, 200, `answered after ${ms} ms`, { 'Cache-Control': 'no-store' });
}

/**
 * GET /drip?ms=N: the status, headers and a first line at once, the last line N ms
 * later. The response is chunked (RFC 9112 §7.1), since its length is not known up
 * front. Stop the app while it drips and the proxy has already passed on "200 OK":
 * too late for a 502, so all it can do is cut the connection.
 */
async function drip(ex: Exchange): Promise<void> {
  const ms = waitParameter(ex, '/drip');
  ex.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  write(ex, `started; the rest follows in ${ms} ms\n`);
  if (!(await wait(ex, ms))) return;
  write(ex, `done after ${ms} ms\n`);
  ex.res.end();
}

/**
 * GET /headers: the request as the app received it, as JSON. Through the proxy,
 * `client` is the proxy's address, not yours: that is why the proxy adds
 * X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Via (look for them here).
 */
async function headers(ex: Exchange): Promise<void> {
  const { req } = ex;
  replyJson(
    ex,
    200,
    {
      method: req.method,
      target: req.url,
      httpVersion: req.httpVersion,
      client: clientAddress(req.socket.remoteAddress),
      headers: req.headers,
    },
    { 'Cache-Control': 'no-store' },
  );
}

/**
 * POST /echo: the body comes back as it arrives, a piece at a time, never held in
 * memory whole; so there is no size limit to enforce here. Through the proxy this
 * shows that a proxy streams bodies in both directions.
 */
async function echo(ex: Exchange): Promise<void> {
  const { req, res } = ex;
  const length = req.headers['content-length'];
  res.writeHead(200, {
    // The body is whatever the client sent: never let a browser run it as HTML.
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    ...(length !== undefined && req.headers['transfer-encoding'] === undefined ? { 'Content-Length': length } : {}),
  });
  res.flushHeaders(); // the status goes out now, before the body has arrived
  req.on('data', (chunk: Buffer) => (ex.bytes += chunk.length));
  await new Promise<void>((resolve) => pipeline(req, res, () => resolve()));
}

/** GET /health: 200 while the app runs. A container health check or a load balancer asks this. */
async function health(ex: Exchange): Promise<void> {
  replyText(ex, 200, 'ok', { 'Cache-Control': 'no-store' });
}

/** `ms` from the query: a whole number of milliseconds, at most maxSlowMs; anything else is 400. */
function waitParameter(ex: Exchange, path: string): number {
  const max = ex.app.maxSlowMs;
  const text = ex.url.searchParams.get('ms');
  if (text === null) throw new HttpError(400, `say how long to wait, in milliseconds: ${path}?ms=2000 (at most ${max})`);
  if (!/^\d{1,9}$/.test(text)) throw new HttpError(400, `ms must be a whole number of milliseconds, not ${JSON.stringify(text)}`);
  const ms = Number(text);
  if (ms > max) throw new HttpError(400, `ms may be at most ${max} (this app's maxSlowMs), not ${ms}`);
  return ms;
}

/**
 * Resolves true after `ms`, or false as soon as the response closes first: the client
 * went away, or the server is closing. A waiting request must not outlive its connection.
 */
function wait(ex: Exchange, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      ex.res.off('close', onClose);
      resolve(true);
    }, ms);
    ex.res.once('close', onClose);
  });
}

function write(ex: Exchange, text: string): void {
  const bytes = Buffer.from(text);
  if (ex.req.method !== 'HEAD') ex.bytes += bytes.length;
  ex.res.write(bytes);
}
