import type { LabDialer } from '../common/dialer';
import type { DecodedMessage, DnsObserver, Endpoint } from '../common/dnsClient';
import { logWire, type Logger } from '../common/logger';
import { statusOf, type Failure } from './bounce';
import { SmtpClient, SmtpClientError } from './client';
import { permanentNegative, positiveCompletion, REPLY } from './codes';
import { findMailHost, MxError, type MailHost } from './mx';
import { replyText, type SmtpReply } from './replyParser';

/**
 * One attempt to hand a queued message to the server of its recipients' domain:
 * find the domain's mail host in the lab DNS (mx.ts), connect to it on port 25, and
 * run the SMTP dialogue (client.ts), inside TLS when that server offers STARTTLS and
 * its certificate checks out. Each recipient comes out delivered, failed for
 * good (a 5xx reply, no such domain, an address outside the lab: bounce it) or failed
 * for now (no connection, a 4xx reply, no DNS answer: keep it and retry later).
 *
 * Every step is logged as a `wire` line, so a scenario's transcript shows the MX
 * lookup and the second SMTP hop next to what the student's client did.
 */

export interface RelayContext {
  /** Our host name: EHLO, and `from` on the wire lines. */
  hostname: string;
  dialer: LabDialer;
  log: Logger;
  /** What the wire lines call the DNS server: `ns.lab.test:53`. */
  dnsLabel: string;
  /** For the connection, and for each reply. */
  timeoutMs: number;
  dnsTimeoutMs: number;
  /**
   * The CA certificates (PEM) a next server's certificate must chain to, when it offers
   * STARTTLS (the lab CA's root). Default: none: the dialogue stays in clear.
   */
  tlsCa?: string;
  /** Aborted when the server closes: the attempt stops, the entry stays as it was. */
  signal: AbortSignal;
}

export type RecipientResult = (Failure & { outcome: 'permanent' | 'temporary' }) | { outcome: 'delivered'; recipient: string; diagnostic: string; remoteMta: string };

export async function relay(ctx: RelayContext, from: string, domain: string, recipients: readonly string[], message: Buffer): Promise<RecipientResult[]> {
  const everyone = (outcome: 'permanent' | 'temporary', status: string, diagnostic: string, remoteMta?: string): RecipientResult[] =>
    recipients.map((recipient) => ({ outcome, recipient, status, diagnostic, diagnosticType: 'x-wirelab', remoteMta }));

  // 1. Where does mail for this domain go? (RFC 5321 5.1)
  let mailHost: MailHost;
  try {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.dnsTimeoutMs)]);
    mailHost = await findMailHost(ctx.dialer.dns(), domain, signal, dnsObserver(ctx));
  } catch (err) {
    if (!(err instanceof MxError)) throw err;
    return everyone(err.permanent ? 'permanent' : 'temporary', err.permanent ? '5.1.2' : '4.4.3', err.message);
  }

  // 2. Where is that address really? The dialer refuses any address outside the lab.
  const peer = `${mailHost.host}:25`;
  let endpoint: Endpoint;
  try {
    endpoint = ctx.dialer.route(mailHost.address, 25);
  } catch (err) {
    return everyone('permanent', '5.4.4', `cannot route to ${mailHost.host} (${mailHost.address}): ${(err as Error).message}`);
  }

  // 3. Connect and talk.
  const wire = (kind: 'send' | 'recv' | 'connect' | 'close' | 'note', summary: string): void =>
    logWire(ctx.log, { kind, proto: 'smtp', from: kind === 'recv' ? peer : ctx.hostname, to: kind === 'recv' ? ctx.hostname : peer, summary });
  wire('connect', `connect to ${mailHost.address}:25`);
  let client: SmtpClient;
  try {
    client = await SmtpClient.connect(endpoint, { timeoutMs: ctx.timeoutMs, signal: ctx.signal, onWire: (direction, text) => wire(direction, text) });
  } catch (err) {
    wire('note', (err as Error).message);
    return everyone('temporary', '4.4.1', `cannot connect to ${mailHost.host} (${mailHost.address}:25): ${(err as Error).message}`, mailHost.host);
  }
  const results = new Map<string, RecipientResult>();
  try {
    await dialogue(client, ctx, from, recipients, message, mailHost.host, results);
  } catch (err) {
    if (!(err instanceof SmtpClientError)) throw err;
    wire('note', err.message);
    // A certificate that does not check out is a cryptographic failure (RFC 3463 X.7.5): kept, and tried again later.
    const [status, diagnostic] = err.code === 'ETLS' ? ['4.7.5', err.message] : ['4.4.2', `lost the connection to ${mailHost.host}: ${err.message}`];
    for (const r of recipients) {
      if (!results.has(r)) results.set(r, { outcome: 'temporary', recipient: r, status, diagnostic, diagnosticType: 'x-wirelab', remoteMta: mailHost.host });
    }
  } finally {
    await client.quit();
    wire('close', 'connection closed');
  }
  return recipients.map((r) => results.get(r)!);
}

/** EHLO, STARTTLS when offered, MAIL, RCPT for each recipient, DATA (RFC 5321 3.3). Fills `results` as replies decide. */
async function dialogue(
  client: SmtpClient,
  ctx: RelayContext,
  from: string,
  recipients: readonly string[],
  message: Buffer,
  remoteMta: string,
  results: Map<string, RecipientResult>,
): Promise<void> {
  /** Delivered if the reply is the one that means "done" (2yz); otherwise failed, for good on 5yz. */
  const decide = (recipient: string, reply: SmtpReply, command: string, done = positiveCompletion): void => {
    const text = replyText(reply);
    if (done(reply.code)) {
      results.set(recipient, { outcome: 'delivered', recipient, diagnostic: text, remoteMta });
    } else {
      const outcome = permanentNegative(reply.code) ? 'permanent' : 'temporary';
      results.set(recipient, { outcome, recipient, status: statusOf(reply.code, text), diagnostic: `${text} (in reply to ${command})`, diagnosticType: 'smtp', remoteMta });
    }
  };
  const all = (list: readonly string[], reply: SmtpReply, command: string): void => list.forEach((r) => decide(r, reply, command));
  const never = (): boolean => false;

  const hostname = ctx.hostname;
  let reply = await client.read(); // the greeting: 220, or 554 "no service for you"
  if (!positiveCompletion(reply.code)) return all(recipients, reply, 'the greeting');
  reply = await client.command(`EHLO ${hostname}`);
  // A server that does not know EHLO answers 500/502: say HELO instead (RFC 5321 3.2).
  if (permanentNegative(reply.code)) reply = await client.command(`HELO ${hostname}`);
  if (!positiveCompletion(reply.code)) return all(recipients, reply, 'HELO');
  if (ctx.tlsCa && offers(reply, 'STARTTLS')) {
    // Encrypt the hop when the next server can (RFC 3207). Its certificate must be the
    // lab CA's for its name: a hop that fails that check waits, and is tried again
    // later, rather than going on in clear to whoever answered.
    reply = await client.command('STARTTLS');
    if (reply.code !== REPLY.READY) return all(recipients, reply, 'STARTTLS command');
    const secure = await client.startTls({ ca: ctx.tlsCa, servername: remoteMta });
    const cipher = secure.getCipher();
    logWire(ctx.log, { kind: 'note', proto: 'smtp', from: hostname, to: `${remoteMta}:25`, summary: `TLS started: ${secure.getProtocol()} ${cipher.name}` });
    // RFC 3207 4.2: after the handshake, the client starts again with EHLO.
    reply = await client.command(`EHLO ${hostname}`);
    if (!positiveCompletion(reply.code)) return all(recipients, reply, 'EHLO after STARTTLS');
  }
  reply = await client.command(`MAIL FROM:<${from}>`);
  if (!positiveCompletion(reply.code)) return all(recipients, reply, 'MAIL FROM command');
  const accepted: string[] = [];
  for (const recipient of recipients) {
    reply = await client.command(`RCPT TO:<${recipient}>`);
    if (positiveCompletion(reply.code)) accepted.push(recipient);
    else decide(recipient, reply, 'RCPT TO command');
  }
  if (!accepted.length) return;
  const go = await client.command('DATA');
  if (go.code !== 354) return accepted.forEach((r) => decide(r, go, 'DATA command', never)); // only 354 lets the message go
  reply = await client.data(message);
  all(accepted, reply, 'end of DATA');
}

/** Does an EHLO reply offer `keyword` (one extension per line after the first, RFC 5321 4.1.1.1)? */
function offers(ehlo: SmtpReply, keyword: string): boolean {
  return ehlo.lines.slice(1).some((line) => line.split(' ')[0]!.toUpperCase() === keyword);
}

/** Wire lines for the DNS questions and answers: `MX? example.test`, `NOERROR MX 10 mail.example.test`. */
function dnsObserver(ctx: RelayContext): DnsObserver {
  return (direction, _bytes, decoded) => {
    const summary = decoded ? describeDns(direction, decoded) : '(not a DNS message)';
    const [from, to] = direction === 'send' ? [ctx.hostname, ctx.dnsLabel] : [ctx.dnsLabel, ctx.hostname];
    logWire(ctx.log, { kind: direction, proto: 'dns', from, to, summary });
  };
}

function describeDns(direction: 'send' | 'recv', m: DecodedMessage): string {
  const q = m.questions?.[0];
  if (direction === 'send') return `${q?.type}? ${q?.name}`;
  const records = [...(m.answers ?? []), ...(m.additionals ?? [])].filter((a) => a.type === 'MX' || a.type === 'A' || a.type === 'CNAME');
  const shown = records.map((a) => {
    if (a.type === 'MX') return `MX ${a.data.preference ?? 0} ${a.data.exchange}`;
    return `${a.name} ${a.type} ${a.type === 'A' || a.type === 'CNAME' ? a.data : ''}`;
  });
  return [m.rcode ?? 'NOERROR', ...shown].join(', ') + (shown.length ? '' : ` (no ${q?.type} record for ${q?.name})`);
}
