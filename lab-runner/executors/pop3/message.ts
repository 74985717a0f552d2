/**
 * An Internet message (RFC 5322) split into header fields and body, for expectations
 * on a retrieved mail: `message.headers.subject`, `message.received`, `message.body`.
 * Pure.
 */

export interface ParsedMessage {
  /** Field names in lower case; a repeated field keeps its first value here. */
  headers: Record<string, string>;
  /** Every Received: field, top (the last hop) first: the path the message took, read backwards. */
  received: string[];
  /** Every field in order, as [name, value]. */
  fields: [string, string][];
  body: string;
  subject?: string;
  from?: string;
  to?: string;
}

export function parseMessage(text: string): ParsedMessage {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const fields: [string, string][] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') {
      i++;
      break;
    }
    // A line starting with white space continues the field above (folding, RFC 5322 2.2.3).
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1]![1] += ' ' + line.trim();
    else {
      const colon = line.indexOf(':');
      if (colon <= 0) break; // not a header: the body starts here
      fields.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of fields) if (!(name.toLowerCase() in headers)) headers[name.toLowerCase()] = value;
  return {
    headers,
    received: fields.filter(([n]) => n.toLowerCase() === 'received').map(([, v]) => v),
    fields,
    body: lines.slice(i).join('\n'),
    subject: headers.subject,
    from: headers.from,
    to: headers.to,
  };
}

/**
 * Whether a retrieved message is one the scenario sent: its Message-ID is one of `sent`
 * (the ids its `smtp:` steps gave their messages), or it is a delivery report (a bounce,
 * RFC 3464: `multipart/report; report-type=delivery-status`) about one of them: a bounce
 * returns the failed message's header, Message-ID included. A reply a person wrote to
 * one of them is theirs, not the scenario's.
 */
export function sentBy(raw: string, sent: ReadonlySet<string> | undefined): boolean {
  if (!sent?.size) return false;
  const { headers, body } = parseMessage(raw);
  if (headers['message-id'] && sent.has(headers['message-id'])) return true;
  const report = /^multipart\/report\b/i.test(headers['content-type'] ?? '') && /report-type="?delivery-status/i.test(headers['content-type'] ?? '');
  return report && [...sent].some((id) => new RegExp(`^message-id:[ \\t]*${escapeRegExp(id)}[ \\t]*$`, 'im').test(body));
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
