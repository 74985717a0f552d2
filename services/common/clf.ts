/**
 * The common log format: one line per request, as Apache and nginx write it.
 *
 *   127.0.0.1 - alice [21/Nov/2026:17:50:00 +0000] "GET / HTTP/1.1" 200 1234
 *   client    ident user  time                     request line     status bytes
 *
 * `-` stands for "unknown": nobody runs identd any more, so ident is always `-`;
 * user is `-` without a valid token; bytes is `-` when no body was sent.
 */
export interface ClfEntry {
  client: string;
  user?: string;
  time: Date;
  /** The request line as received, e.g. `GET /index.html HTTP/1.1`; `-` when there was none. */
  requestLine: string;
  /** Undefined when the client went away before any status was sent: logged as `-`. */
  status: number | undefined;
  /** Bytes of the response body (not the headers). */
  bytes: number;
}

export function clfLine(entry: ClfEntry): string {
  const user = entry.user ? escapeLogText(entry.user) : '-';
  const bytes = entry.bytes > 0 ? String(entry.bytes) : '-';
  return `${entry.client} - ${user} [${clfDate(entry.time)}] "${escapeLogText(entry.requestLine)}" ${entry.status ?? '-'} ${bytes}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `21/Nov/2026:17:50:00 +0000`, always in UTC. */
export function clfDate(time: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${two(time.getUTCDate())}/${MONTHS[time.getUTCMonth()]}/${time.getUTCFullYear()}:` +
    `${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())} +0000`
  );
}

/**
 * A client chooses the request target, so it could smuggle a `"` or a newline into
 * our log and forge a second line. Escape them, as Apache does, as \" and \xHH.
 */
export function escapeLogText(text: string): string {
  return text.replace(/["\\\x00-\x1f\x7f]/g, (c) =>
    c === '"' || c === '\\' ? '\\' + c : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'),
  );
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) is logged as `127.0.0.1`. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return '-';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}
