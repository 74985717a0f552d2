/**
 * SMTP reply codes by name (RFC 5321 4.2.2 and 4.2.3), so the code reads
 * `REPLY.MAILBOX_UNAVAILABLE` rather than a bare 550. The first digit says what the
 * client should do (RFC 5321 4.2.1): 2 done, 3 go on, 4 try again later, 5 give up.
 *
 * Replies also carry an enhanced status code in their text (RFC 3463: class.subject.detail,
 * e.g. `5.1.1` "bad destination mailbox address"), which says *why* more precisely.
 */
export const REPLY = {
  READY: 220,
  CLOSING: 221,
  AUTH_SUCCEEDED: 235,
  OK: 250,
  START_MAIL_INPUT: 354,
  /** Service not available, closing the connection (also: too many connections, idle timeout). */
  NOT_AVAILABLE: 421,
  LOCAL_ERROR: 451,
  /** Temporary authentication failure (RFC 4954 6): here, too many failed logins from the client's address; try later. */
  AUTH_TEMPORARY_FAILURE: 454,
  /** Insufficient system storage; RFC 5321 4.5.3.1.10 also uses it for "too many recipients". */
  TOO_MANY_RECIPIENTS: 452,
  SYNTAX_ERROR: 500,
  /** A command SMTP has, which this server does not offer (EXPN, TURN). */
  NOT_IMPLEMENTED: 502,
  AUTH_REQUIRED: 530,
  AUTH_FAILED: 535,
  MAILBOX_UNAVAILABLE: 550,
  /** Exceeded storage allocation: the message is too big (RFC 5321 4.5.3.1.9 "too much mail data"). */
  TOO_MUCH_MAIL_DATA: 552,
  MAILBOX_NAME_NOT_ALLOWED: 553,
  TRANSACTION_FAILED: 554,
  /** A MAIL FROM or RCPT TO parameter of no extension the server announced (RFC 5321 4.1.1.11). */
  PARAMETER_NOT_RECOGNIZED: 555,
} as const;

/** 2yz: the command worked. */
export const positiveCompletion = (code: number): boolean => code >= 200 && code < 300;
/** 3yz: go on (354 after DATA: send the message). */
export const positiveIntermediate = (code: number): boolean => code >= 300 && code < 400;
/** 4yz: did not work this time; the same command may work later. A relay keeps the message and retries. */
export const transientNegative = (code: number): boolean => code >= 400 && code < 500;
/** 5yz: will not work; do not repeat it. A relay returns the message to its sender (a bounce). */
export const permanentNegative = (code: number): boolean => code >= 500 && code < 600;

/** An error whose `responseCode` smtp-server sends as the reply, with `message` as the text. */
export class SmtpReplyError extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SmtpReplyError';
  }
}
