import net from 'node:net';
import type { LabDialer } from '../common/dialer';
import { lookup, type DecodedMessage, type DnsObserver, type Endpoint } from '../common/dnsClient';
import { Status } from '../common/httpStatus';
import { duration, ProxyError } from './errors';

/**
 * Step one of every forwarded request: where is the app? Its name is looked up in
 * the lab DNS (never the operating system's resolver: in the embedded lab that would
 * not know lab.test, and in Docker it would hide the lookup from the transcript),
 * then the dialer says where that address really is (in the embedded lab, a port on
 * 127.0.0.1). The address is then kept for the record's TTL (at most dnsCacheMs), as a
 * production proxy keeps it: the transcript shows the lookup when the proxy first needs
 * the app, and again once the TTL has run out (app.lab.test's record says 5 minutes).
 * A failed lookup is never kept: the next request asks again.
 */

/** The lab DNS as it appears in wire lines (the dialer may really point at 127.0.0.1:5353). */
export const LAB_DNS_LABEL = 'ns.lab.test:53';

export interface Located {
  /** The app's address in the lab network: `172.28.0.82`. */
  address: string;
  /** Where to connect for it. */
  endpoint: Endpoint;
}

/** The app's address from the last lookup, until its TTL (capped at `maxMs`) runs out. */
export class AddressCache {
  private kept?: { host: string; address: string; until: number };

  constructor(private readonly maxMs: number) {}

  get(host: string): string | undefined {
    const kept = this.kept;
    return kept && kept.host === host && performance.now() < kept.until ? kept.address : undefined;
  }

  set(host: string, address: string, ttlSeconds: number): void {
    this.kept = { host, address, until: performance.now() + Math.min(ttlSeconds * 1000, this.maxMs) };
  }
}

export interface LocateRequest {
  dialer: LabDialer;
  host: string;
  port: number;
  /** Where the last address found is kept. */
  cache: AddressCache;
  /** The DNS exchange, for the wire log. */
  observe?: DnsObserver;
  /** The proxy's name and how long it waits, for the error sentences. */
  proxy: string;
  timeoutMs: number;
}

export async function locate(req: LocateRequest): Promise<Located> {
  const address = net.isIP(req.host) ? req.host : (req.cache.get(req.host) ?? (await addressOf(req)));
  try {
    return { address, endpoint: req.dialer.route(address, req.port) };
  } catch (err) {
    // The dialer refuses any address outside the lab: the proxy forwards nowhere else.
    throw new ProxyError(
      Status.BadGateway,
      'EHOSTUNREACH',
      `the proxy ${req.proxy} has no route to ${address}:${req.port} (${(err as Error).message}): is that address in the lab network?`,
    );
  }
}

/** The first A record for the name, or a ProxyError that says why there is none. */
async function addressOf(req: LocateRequest): Promise<string> {
  const { host, proxy } = req;
  let response: DecodedMessage;
  const signal = AbortSignal.timeout(req.timeoutMs);
  try {
    response = await lookup(req.dialer.dns(), host, 'A', signal, req.observe);
  } catch (err) {
    // No answer at all: node's own resolver calls this EAI_AGAIN ("try again later").
    const why = signal.aborted ? `did not answer within ${duration(req.timeoutMs)}` : `could not be asked (${(err as Error).message})`;
    throw new ProxyError(Status.BadGateway, 'EAI_AGAIN', `the proxy ${proxy} could not look up ${host}: the lab DNS ${why}`);
  }
  const rcode = response.rcode ?? 'NOERROR';
  const answer = response.answers?.find((a) => a.type === 'A');
  if (rcode === 'NOERROR' && answer?.type === 'A') {
    req.cache.set(host, answer.data, answer.ttl ?? 0);
    return answer.data;
  }
  if (rcode === 'NOERROR' || rcode === 'NXDOMAIN' || rcode === 'REFUSED') {
    const said = rcode === 'NOERROR' ? 'has no A record for it' : rcode === 'NXDOMAIN' ? 'says there is no such name (NXDOMAIN)' : 'refused to answer for it (REFUSED): it is not a lab name';
    throw new ProxyError(
      Status.BadGateway,
      'ENOTFOUND',
      `the proxy ${proxy} could not find the address of ${host}: the lab DNS ${said}. Is there an A record for it in lab/zones?`,
    );
  }
  throw new ProxyError(Status.BadGateway, 'EAI_AGAIN', `the proxy ${proxy} could not look up ${host}: the lab DNS answered ${rcode}`);
}

/** Wire-line summaries of the lookup: `A? app.lab.test`, then `NOERROR app.lab.test A 172.28.0.82`. */
export function describeDns(direction: 'send' | 'recv', message: DecodedMessage | undefined): string {
  if (!message) return '(not a DNS message)';
  const question = message.questions?.[0];
  if (direction === 'send') return `${question?.type}? ${question?.name}`;
  const records: string[] = [];
  for (const a of message.answers ?? []) if (a.type === 'A' || a.type === 'CNAME') records.push(`${a.name} ${a.type} ${a.data}`);
  return [message.rcode ?? 'NOERROR', ...records].join(' ') + (records.length ? '' : ` (no A record for ${question?.name})`);
}
