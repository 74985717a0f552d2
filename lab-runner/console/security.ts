import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who may use the console. It can stop the lab's services and send traffic into the
 * lab, so, as Jupyter does, it is reached only with a token made when it starts:
 *
 * 1. `wirelab up` prints `http://127.0.0.1:8000/?token=...`. Opening it sets the token
 *    as a cookie (HttpOnly: no script reads it; SameSite=Strict: no other site's page
 *    makes the browser send it) and sends the browser on to `/`, so the token leaves
 *    the address bar and the history. Every later request carries the cookie.
 * 2. Host must be 127.0.0.1, localhost or [::1] at the console's port: a page of another
 *    site whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its own
 *    name as Host and is refused.
 * 3. A request that changes something (POST) must come from the console's own page:
 *    its Origin is the console's, and Sec-Fetch-Site, when the browser sends it, is
 *    same-origin. A GET that carries an Origin must carry the console's.
 *
 * Pure functions of a request: the server (server.ts) calls them, tests call them directly.
 */

export const COOKIE = 'wirelab_console';

/** A fresh token: 24 random bytes, as URL-safe text (192 bits: guessing is hopeless). */
export function makeToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compared in constant time: how long a refusal takes says nothing about the token. */
export function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(req: IncomingMessage, name = COOKIE): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return decodeCookie(part.slice(at + 1).trim());
  }
  return undefined;
}

/** A cookie's value, percent-decoded; a value that is not percent-encoding is taken as it is (it cannot be the token). */
function decodeCookie(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The Set-Cookie header that keeps the token in the browser for this console. */
export function tokenCookie(token: string): string {
  return `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** The names this machine's browser reaches the console by. */
const LOCAL_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Host is this machine at the console's port (the port published on 127.0.0.1, in Docker). */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.toLowerCase());
  return Boolean(m && LOCAL_NAMES.has(m[1]!) && Number(m[2] ?? 80) === port);
}

/** The request comes from the console's own page (or from no page at all, for a GET). */
export function originAllowed(req: IncomingMessage, mustHave: boolean): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return !mustHave;
  return origin === `http://${req.headers.host}`;
}

export type Verdict = { ok: true; viaQuery: boolean } | { ok: false; status: 401 | 403; reason: string };

/** May this request go on? The token (cookie or `?token=`), then Host, then Origin. */
export function judge(req: IncomingMessage, url: URL, token: string, port: number): Verdict {
  if (!hostAllowed(req.headers.host, port)) return { ok: false, status: 403, reason: `Host ${req.headers.host ?? '(none)'} is not this console: open it at http://127.0.0.1:${port}/` };
  const safe = req.method === 'GET' || req.method === 'HEAD';
  if (!originAllowed(req, !safe)) return { ok: false, status: 403, reason: `a request from ${req.headers.origin ?? req.headers['sec-fetch-site'] ?? 'another page'} is not one of the console's own` };
  const fromQuery = url.searchParams.get('token') ?? undefined;
  if (safe && sameToken(fromQuery, token)) return { ok: true, viaQuery: true };
  if (sameToken(cookieValue(req), token)) return { ok: true, viaQuery: false };
  return { ok: false, status: 401, reason: 'no token, or not the token this console was started with' };
}

/** The page a browser without the token gets: how to get in. */
export function refusedPage(reason: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wirelab console: use the address wirelab up printed</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44em;margin:3em auto;padding:0 1em;color:#1f2933}code{background:#eef2f6;padding:1px 5px;border-radius:4px}</style></head>
<body><main><h1>Use the address <code>wirelab up</code> printed</h1>
<p>The lab console needs the token that <code>wirelab up</code> printed when it started, in a line like</p>
<p><code>console: http://127.0.0.1:8000/?token=…</code></p>
<p>Open that address (copy the whole line) in this browser. In Docker, <code>wirelab up --backend docker</code> prints it, and so does <code>docker compose logs console</code>.</p>
<p>Why: ${reason.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}.</p></main></body></html>
`;
}
