import { z } from 'zod';
import { setTimeout as delay } from 'node:timers/promises';
import { retryIn } from '../common/authThrottle';
import { clientAddress } from '../common/clf';
import { checkPassword } from '../common/users';
import { readJson } from './body';
import { signJwt, verifyJwt } from './jwt';
import { HttpError } from '../common/httpRules';
import { replyJson, type Auth, type Exchange, type Site } from './reply';
import { Status } from '../common/httpStatus';

/**
 * Stateless login with Bearer tokens (RFC 6750) that are JWTs (RFC 7519).
 *
 *   POST /api/login {"username":"alice","password":"alice"}  ->  {"token":"eyJ..."}
 *   GET /api/me  with  Authorization: Bearer eyJ...            ->  {"user":"alice"}
 *
 * The server stores no sessions: everything it needs is in the signed token.
 */

/** The protection space (RFC 9110 §11.5) named in every challenge. */
export const REALM = 'lab.test';

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The token of `Authorization: Bearer <token>` (RFC 6750 §2.1). The scheme name is
 * case-insensitive (RFC 9110 §11.1). Undefined when the client sent no Bearer token
 * at all (no header, or another scheme such as Basic).
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^bearer(?:\s+(.*))?$/i.exec(authorization?.trim() ?? '');
  return match ? (match[1] ?? '').trim() : undefined;
}

export function authenticate(authorization: string | undefined, site: Site, now = nowSeconds()): Auth {
  const token = bearerToken(authorization);
  if (token === undefined) return {};
  const verdict = verifyJwt(token, site.tokenKey, now);
  if (!verdict.ok) return { problem: verdict.reason };
  const user = site.users.find((u) => u.name === verdict.claims.sub);
  if (!user) return { problem: `the token names a user who does not exist here (${verdict.claims.sub})` };
  return { user, claims: verdict.claims };
}

/**
 * The WWW-Authenticate challenge that must come with every 401 (RFC 9110 §11.6.1).
 * Without a token it only names the scheme and realm; with a bad one it adds
 * error="invalid_token" and why (RFC 6750 §3, §3.1).
 */
export function challenge(problem?: string): string {
  const base = `Bearer realm="${REALM}"`;
  if (problem === undefined) return base;
  // error_description may not contain `"` or `\` (RFC 6750 §3).
  return `${base}, error="invalid_token", error_description="${problem.replace(/["\\]/g, "'")}"`;
}

const LoginInput = z.object({ username: z.string(), password: z.string() });

/**
 * POST /api/login: check a lab user's password and hand out a signed token. Guessing is
 * slow (services/common/authThrottle.ts): each wrong password waits longer than the last
 * one from the same address, and an address that failed too often gets 429 Too Many
 * Requests with Retry-After (RFC 6585 §4), its password unchecked, until its cool-down.
 */
export async function login(ex: Exchange): Promise<void> {
  const input = LoginInput.safeParse(await readJson(ex));
  if (!input.success) throw new HttpError(Status.BadRequest, 'send {"username": "...", "password": "..."}');
  const address = clientAddress(ex.req.socket.remoteAddress);
  const lockedForMs = ex.site.logins.lockedFor(address);
  if (lockedForMs !== undefined) {
    ex.log.warn('login refused: too many failed logins from this address', { user: input.data.username, address, lockedForMs });
    throw new HttpError(Status.TooManyRequests, `too many failed logins from your address; try again in ${retryIn(lockedForMs)}`, { 'Retry-After': String(Math.ceil(lockedForMs / 1000)) });
  }
  const user = checkPassword(ex.site.users, input.data.username, input.data.password);
  if (!user) {
    const { failures, delayMs } = ex.site.logins.failed(address);
    ex.log.warn('login failed', { user: input.data.username, address, fromAddress: failures, delayMs });
    await delay(delayMs, undefined, { ref: false });
    throw new HttpError(Status.Unauthorized, 'wrong user name or password', { 'WWW-Authenticate': challenge() });
  }
  const iat = nowSeconds();
  const ttl = ex.site.tokenTtlSeconds;
  const token = signJwt({ sub: user.name, iat, exp: iat + ttl }, ex.site.tokenKey);
  // RFC 6749 §5.1: a response carrying a token must not be stored by caches.
  replyJson(ex, Status.OK, { token, tokenType: 'Bearer', expiresIn: ttl }, { 'Cache-Control': 'no-store' });
}

/** GET /api/me: who does my token say I am? */
export async function me(ex: Exchange): Promise<void> {
  const { user, claims, problem } = ex.auth;
  if (!user || !claims) {
    const message = problem ?? 'log in first: POST /api/login, then send the header Authorization: Bearer <token>';
    throw new HttpError(Status.Unauthorized, message, { 'WWW-Authenticate': challenge(problem) });
  }
  replyJson(ex, Status.OK, {
    user: user.name,
    fullName: user.fullName,
    domain: user.domain,
    issuedAt: new Date(claims.iat * 1000).toISOString(),
    expiresAt: new Date(claims.exp * 1000).toISOString(),
  });
}
