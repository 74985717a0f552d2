import { exchange as ask, DnsClientError, type DnsExchange, type DnsObserver, type DnsQuestion } from '../../services/common/dnsClient';
import { formatMessage, summarize } from './dnsFormat';
import { StepError } from './errors';
import { CLIENT, type Wire } from './recorder';
import type { Route } from './route';

/**
 * The runner's DNS exchange: services/common/dnsClient.ts does the asking; this
 * records each message on the wire, decoded the way dig prints it.
 */
export async function dnsExchange(server: Route, question: DnsQuestion, wire: Wire, signal: AbortSignal): Promise<DnsExchange> {
  try {
    return await ask(server, question, signal, dnsRecorder(wire, server.label, question.transport));
  } catch (err) {
    if (err instanceof DnsClientError) throw new StepError(err.message, err.code);
    throw err;
  }
}

/** A dnsClient observer that records each message between the client and `server` on the wire. */
export function dnsRecorder(wire: Wire, server: string, transport: 'udp' | 'tcp'): DnsObserver {
  return (direction, bytes, decoded, ends) => {
    const [from, to] = direction === 'send' ? [CLIENT, server] : [server, CLIENT];
    const view = decoded ? { summary: summarize(decoded), text: formatMessage(decoded) } : { summary: 'undecodable message' };
    // Over TCP each message follows its two-byte length (RFC 1035 4.2.2): one message per connection here.
    wire.record({ protocol: 'dns', transport, kind: direction, from, to, ...view, bytes, ...ends, ...(transport === 'tcp' ? { offset: 2 } : {}) });
  };
}
