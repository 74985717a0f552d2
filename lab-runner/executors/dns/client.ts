import { exchange as ask, DnsClientError, type DnsExchange, type DnsQuestion, type Endpoint } from '../../../services/common/dnsClient';
import { CLIENT, type Wire } from '../wire';
import { StepError } from '../types';
import { formatMessage, summarize } from './format';

export type { Endpoint } from '../../../services/common/dnsClient';

/**
 * The runner's DNS exchange: services/common/dnsClient.ts does the asking; this
 * records each message on the wire, decoded the way dig prints it.
 */
export async function exchange(server: Endpoint, serverLabel: string, question: DnsQuestion, wire: Wire, signal: AbortSignal): Promise<DnsExchange> {
  const common = { protocol: 'dns', transport: question.transport } as const;
  try {
    return await ask(server, question, signal, (direction, bytes, decoded) => {
      const [from, to] = direction === 'send' ? [CLIENT, serverLabel] : [serverLabel, CLIENT];
      const view = decoded ? { summary: summarize(decoded), text: formatMessage(decoded) } : { summary: 'undecodable message' };
      wire.record({ ...common, kind: direction, from, to, ...view, bytes });
    });
  } catch (err) {
    if (err instanceof DnsClientError) throw new StepError(err.message, err.code);
    throw err;
  }
}
