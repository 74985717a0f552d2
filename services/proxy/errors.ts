import { STATUS_CODES } from 'node:http';
import { HttpError } from '../common/httpRules';
import { Status } from '../common/httpStatus';

/**
 * The answers the proxy gives itself, instead of the app's: 502, 504, 413 and 400.
 * Each is a small HTML page that says what happened in plain words, and an
 * `X-Proxy-Error` header that names the cause for a program (`ECONNREFUSED`,
 * `timeout`), so `curl -i` shows at a glance that the proxy, not the app, answered.
 */

/** Something the proxy answers on its own: the status, the cause, and a sentence for a person (lower-case start, as in a log). */
export class ProxyError extends HttpError {
  constructor(
    status: number,
    /** For X-Proxy-Error and the log: an errno name (ECONNREFUSED, ENOTFOUND, ETIMEDOUT) or `timeout`. */
    readonly code: string,
    message: string,
  ) {
    super(status, message);
    this.name = 'ProxyError';
  }
}

/** Who was going where, for the sentences below. */
export interface Upstream {
  /** The proxy's own name: `shop.lab.test`. */
  proxy: string;
  /** `app.lab.test:5000`, as configured. */
  label: string;
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
}

/**
 * A failure to reach the app or to get its answer, as the ProxyError the client gets.
 * Connection-level failures are 502 Bad Gateway; only "the app is there but too slow"
 * is 504 Gateway Timeout.
 */
export function upstreamError(err: unknown, up: Upstream): ProxyError {
  if (err instanceof ProxyError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'ERROR';
  const detail = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return new ProxyError(Status.BadGateway, code, `the proxy ${up.proxy} could not connect to ${up.label} (connection refused): is the app running?`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new ProxyError(Status.BadGateway, 'ECONNRESET', `the connection from the proxy ${up.proxy} to ${up.label} was closed before the app answered: did the app crash or restart?`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ProxyError(Status.BadGateway, code, `the proxy ${up.proxy} has no route to ${up.label} (${detail}): is the app's host on the lab network?`);
    default:
      if (code.startsWith('HPE_')) {
        // node:http's parser (llhttp) could not read the app's answer as HTTP/1.1.
        return new ProxyError(Status.BadGateway, 'EPROTO', `the proxy ${up.proxy} got an answer from ${up.label} that is not valid HTTP (${code}: ${detail})`);
      }
      return new ProxyError(Status.BadGateway, code, `the proxy ${up.proxy} could not get an answer from ${up.label} (${code}: ${detail})`);
  }
}

export function connectTimeout(up: Upstream): ProxyError {
  return new ProxyError(
    Status.BadGateway,
    'ETIMEDOUT',
    `the proxy ${up.proxy} could not connect to ${up.label} within ${duration(up.connectTimeoutMs)}: is the app's host up and on the lab network?`,
  );
}

export function answerTimeout(up: Upstream): ProxyError {
  return new ProxyError(
    Status.GatewayTimeout,
    'timeout',
    `the app did not answer within ${duration(up.upstreamTimeoutMs)}: ${up.label} took the request from the proxy ${up.proxy}, which gave up waiting`,
  );
}

/** `5000` -> `5 s`, `250` -> `250 ms`: how a person says it. */
export function duration(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

const MEANING: Record<number, string> = {
  [Status.BadRequest]: 'The proxy could not make sense of this request, so it did not pass it on.',
  [Status.ContentTooLarge]:
    'The proxy refuses request bodies this large (413 Content Too Large, RFC 9110 §15.5.14): the app never saw this request.',
  [Status.BadGateway]:
    'A 502 Bad Gateway comes from a proxy, not from the application: the proxy is running, but it got no valid answer ' +
    'from the server behind it (RFC 9110 §15.6.3). Look at the app, not at the proxy.',
  [Status.GatewayTimeout]:
    'A 504 Gateway Timeout comes from a proxy: it reached the server behind it, but gave up waiting for the answer ' +
    '(RFC 9110 §15.6.5). The app may still be working on it; it is slow, not gone.',
  [Status.InternalServerError]: 'The proxy itself failed on this request (500 Internal Server Error, RFC 9110 §15.6.1); its log says why.',
};

/** The HTML page of a ProxyError; `proxy` is the proxy's name (`shop.lab.test`). */
export function errorPage(err: ProxyError, proxy: string): string {
  const title = `${err.status} ${STATUS_CODES[err.status] ?? ''}`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${escapeHtml(title)}</title>
  </head>
  <body>
    <h1>${escapeHtml(title)}</h1>
    <p>${escapeHtml(err.message.charAt(0).toUpperCase() + err.message.slice(1))}</p>
    <p>${escapeHtml(MEANING[err.status] ?? 'The proxy answered this itself: the app never saw the request.')}</p>
    <hr>
    <p><small>${escapeHtml(proxy)}, the lab's reverse proxy. X-Proxy-Error: ${escapeHtml(err.code)}</small></p>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
