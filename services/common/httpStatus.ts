/**
 * The status codes the lab's HTTP services send, by name, so a handler reads
 * `reply(ex, Status.NotFound, ...)` instead of a bare 404.
 * RFC 9110 §15 defines them all; the reason phrases come from node:http.
 */
export const Status = {
  OK: 200,
  Created: 201,
  NoContent: 204,
  /** RFC 9110 §15.3.7: the part of the file a Range asked for. */
  PartialContent: 206,
  MovedPermanently: 301,
  NotModified: 304,
  /** RFC 9110 §15.4.9: like 301, but the client must repeat the same method (a POST stays a POST). */
  PermanentRedirect: 308,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  /** RFC 9110 §15.5.14 renamed "Payload Too Large" to "Content Too Large". */
  ContentTooLarge: 413,
  /** RFC 9110 §15.5.15: the request target is longer than the server reads. */
  URITooLong: 414,
  UnsupportedMediaType: 415,
  /** RFC 9110 §15.5.17: none of the ranges asked for lies inside the file. */
  RangeNotSatisfiable: 416,
  /** RFC 6585 §4: too many requests (here: failed logins from the address); Retry-After says when to try again. */
  TooManyRequests: 429,
  /** RFC 6585 §5. */
  RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500,
  /** RFC 9110 §15.6.2: a method (or transfer coding) the server does not implement at all. */
  NotImplemented: 501,
  /** RFC 9110 §15.6.3: a proxy got no valid answer from the server behind it. */
  BadGateway: 502,
  /** Not now, try again later (RFC 9110 §15.6.4): one address over its share of the connections; Retry-After says when. */
  ServiceUnavailable: 503,
  /** RFC 9110 §15.6.5: a proxy gave up waiting for the server behind it. */
  GatewayTimeout: 504,
  /** RFC 9110 §15.6.6: a major version of HTTP the server does not speak. */
  HTTPVersionNotSupported: 505,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

/** Statuses that never carry content (RFC 9110 §6.4.1): no body, and no body length in the log. */
export function forbidsBody(status: number): boolean {
  return (status >= 100 && status < 200) || status === Status.NoContent || status === Status.NotModified;
}
