import type { Answer } from 'dns-packet';
import { lookup, type DecodedMessage, type DnsObserver, type Endpoint } from '../common/dnsClient';

/**
 * Where to deliver mail for a domain (RFC 5321 5.1): ask DNS for the domain's MX
 * records and take the one with the lowest preference number; then the address of
 * that host (from the additional section of the answer when the server put it there,
 * otherwise with a second query). A domain without MX records is its own mail host
 * (the "implicit MX": its A record).
 */

export interface MailHost {
  /** `mail.example.test` */
  host: string;
  /** `172.28.0.26` */
  address: string;
}

/** Why no mail host was found; `permanent` decides between bouncing now and retrying later. */
export class MxError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'MxError';
  }
}

export async function findMailHost(dns: Endpoint, domain: string, signal: AbortSignal, observe?: DnsObserver): Promise<MailHost> {
  const mx = await ask(dns, domain, 'MX', signal, observe);
  const exchanges = (mx.answers ?? [])
    .filter((a): a is Extract<Answer, { type: 'MX' }> => a.type === 'MX')
    .map((a) => ({ preference: a.data.preference ?? 0, exchange: a.data.exchange }))
    .sort((a, b) => a.preference - b.preference);
  // RFC 7505: a single MX of "." says the domain takes no mail at all.
  if (exchanges.length === 1 && (exchanges[0]!.exchange === '' || exchanges[0]!.exchange === '.')) {
    throw new MxError(`${domain} accepts no mail (null MX, RFC 7505)`, true);
  }
  if (!exchanges.length) {
    // No MX at all: the domain itself is the mail host (RFC 5321 5.1, the "implicit MX").
    const address = firstAddress((await ask(dns, domain, 'A', signal, observe)).answers);
    if (!address) throw new MxError(`${domain} has no MX and no A record`, true);
    return { host: domain, address };
  }
  const host = exchanges[0]!.exchange;
  const address = firstAddress(mx.additionals, host) ?? firstAddress((await ask(dns, host, 'A', signal, observe)).answers);
  if (!address) throw new MxError(`the mail host ${host} of ${domain} has no address (no A record)`, true);
  return { host, address };
}

/** One question; DNS answers that say "no such domain" are permanent, failures to get an answer are not. */
async function ask(dns: Endpoint, name: string, type: 'MX' | 'A', signal: AbortSignal, observe?: DnsObserver): Promise<DecodedMessage> {
  let response: DecodedMessage;
  try {
    response = await lookup(dns, name, type, signal, observe);
  } catch (err) {
    throw new MxError(`DNS lookup of ${type} ${name} failed: ${(err as Error).message}`, false);
  }
  const rcode = response.rcode ?? 'NOERROR';
  if (rcode === 'NXDOMAIN') throw new MxError(`${name}: no such domain (NXDOMAIN)`, true);
  // The lab DNS answers only for the lab's own zones and refuses the rest of the world:
  // asking again tomorrow would not change that, so mail there cannot go out at all.
  if (rcode === 'REFUSED') throw new MxError(`${name} is not a lab domain: the lab DNS refused to answer for it (REFUSED)`, true);
  if (rcode !== 'NOERROR') throw new MxError(`DNS lookup of ${type} ${name} failed: ${rcode}`, false);
  return response;
}

/** The first A record (for `host`, when given: the additional section may hold others). */
function firstAddress(records: Answer[] | undefined, host?: string): string | undefined {
  const a = records?.find((r) => r.type === 'A' && (!host || r.name.toLowerCase() === host.toLowerCase()));
  return a?.type === 'A' ? a.data : undefined;
}
