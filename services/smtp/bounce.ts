import { formatDate } from './headers';

/**
 * The message a server sends back to the sender when it cannot deliver: a "bounce",
 * or Delivery Status Notification (RFC 3464, light). It is a multipart/report
 * (RFC 6522) with three parts:
 *   1. text/plain: what happened, for a person;
 *   2. message/delivery-status: the same, for a program (one block per recipient);
 *   3. text/rfc822-headers: the header of the message that failed, to recognise it.
 * A bounce is sent with an empty envelope sender (MAIL FROM:<>, RFC 5321 4.5.5), so
 * that a bounce that cannot be delivered never causes another bounce. Pure.
 */

export interface Failure {
  recipient: string;
  /** RFC 3463 status: `5.1.1`. */
  status: string;
  /** What went wrong: the remote server's reply (`550 5.1.1 ...`) or our own words. */
  diagnostic: string;
  /** `smtp` when the diagnostic is a remote server's reply; otherwise our own text. */
  diagnosticType: 'smtp' | 'x-wirelab';
  /** The server that refused, when one did: `mail.example.test`. */
  remoteMta?: string;
}

export interface BounceInput {
  /** Our mail domain: the bounce comes from MAILER-DAEMON@domain. */
  domain: string;
  /** Our host name: the Reporting-MTA. */
  hostname: string;
  /** Who gets the bounce: the original envelope sender. */
  sender: string;
  failures: Failure[];
  /** The header section of the original message. */
  originalHeaders: Buffer;
  /** When the original message arrived here. */
  arrivalDate: Date;
  date: Date;
  messageId: string;
  /** The MIME boundary (must not occur in the text; the caller makes it random). */
  boundary: string;
}

export function buildBounce(b: BounceInput): Buffer {
  const explanation = [
    `This is the mail system at host ${b.hostname}.`,
    '',
    "I'm sorry to have to inform you that your message could not be delivered to one",
    'or more recipients. Below is what the receiving side said. The header of your',
    'message is attached at the end.',
    '',
    ...b.failures.flatMap((f) => [
      `<${f.recipient}>:${f.remoteMta ? ` host ${f.remoteMta} said:` : ''}`,
      `    ${oneLine(f.diagnostic)}`,
      '',
    ]),
  ];
  const status = [
    `Reporting-MTA: dns; ${b.hostname}`,
    `Arrival-Date: ${formatDate(b.arrivalDate)}`,
    '',
    ...b.failures.flatMap((f) => [
      `Final-Recipient: rfc822; ${f.recipient}`,
      'Action: failed',
      `Status: ${f.status}`,
      ...(f.remoteMta ? [`Remote-MTA: dns; ${f.remoteMta}`] : []),
      `Diagnostic-Code: ${f.diagnosticType}; ${oneLine(f.diagnostic)}`,
      '',
    ]),
  ];
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${b.domain}>`,
    `To: <${b.sender}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${formatDate(b.date)}`,
    `Message-ID: ${b.messageId}`,
    // RFC 3834: an automatic message; vacation responders and the like must not answer it.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${b.boundary}"`,
  ];
  const text = [
    ...head,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${b.boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...explanation,
    `--${b.boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    ...status,
    `--${b.boundary}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    '',
  ].join('\r\n');
  let original = b.originalHeaders.toString('latin1');
  if (original.length > 0 && !original.endsWith('\r\n')) original += '\r\n';
  return Buffer.from(`${text}\r\n${original}\r\n--${b.boundary}--\r\n`, 'latin1');
}

/** A remote server's text may hold anything: keep it to one line of printable ASCII. */
function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 900);
}

/** The RFC 3463 status at the start of a reply's text (`550 5.1.1 ...` -> `5.1.1`), else one from the code's class. */
export function statusOf(code: number, text: string): string {
  const match = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(text);
  if (match) return match[1]!;
  return `${Math.floor(code / 100)}.0.0`;
}
