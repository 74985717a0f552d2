/**
 * The status codes this server sends, by name, so a handler reads
 * `reply(ex, Status.NotFound, ...)` instead of a bare 404.
 * RFC 9110 §15 defines them all; the reason phrases come from node:http.
 */
export const Status = {
  OK: 200,
  Created: 201,
  NoContent: 204,
  MovedPermanently: 301,
  NotModified: 304,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  /** RFC 9110 §15.5.14 renamed "Payload Too Large" to "Content Too Large". */
  ContentTooLarge: 413,
  UnsupportedMediaType: 415,
  /** RFC 6585 §5. */
  RequestHeaderFieldsTooLarge: 431,
  InternalServerError: 500,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

/** Statuses that never carry content (RFC 9110 §6.4.1): no body, and no body length in the log. */
export function forbidsBody(status: number): boolean {
  return (status >= 100 && status < 200) || status === Status.NoContent || status === Status.NotModified;
}
