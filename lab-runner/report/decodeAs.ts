import type { StepConversation } from '../result';
import { STACK, type PortPlan } from '../wire/plan';
import { splitEndpoint } from './ladder';

/**
 * Wireshark picks a dissector by port number: 8080 it may guess is HTTP, but 2525 is
 * not SMTP and 5353 is multicast DNS to it. The embedded lab listens on such ports, so
 * a capture of it reads right only with "Decode As" settings (`-d tcp.port==2525,smtp`
 * on tshark's command line). These are the ones a step's packets need, from the lab
 * plan (wire/plan.ts); a Docker lab uses the standard ports and needs none.
 */

export interface DecodeAs {
  /** `tcp.port==2525`, Wireshark's Decode As field and value. */
  field: string;
  /** Wireshark's dissector name, for tshark's `-d`: `smtp`. */
  dissector: string;
  /** What a person calls it: `SMTP`. */
  protocol: string;
}

/** A port's name in the plan -> the dissector Wireshark has for it. The implicit-TLS ports are TLS first. */
const DISSECTORS: Record<string, string> = { dns: 'dns', http: 'http', smtp: 'smtp', submission: 'smtp', pop3: 'pop', imap: 'imap', ftp: 'ftp', sftp: 'ssh' };

function dissectorOf(name: string, port: PortPlan): string | undefined {
  return port.tls === 'implicit' ? 'tls' : DISSECTORS[name];
}

/** The plan's port that a conversation's server was: by its real port (embedded), else by its lab name (a `--target`). */
function planned(server: string, label: string | undefined): { name: string; port: PortPlan } | undefined {
  const real = Number(splitEndpoint(server).port);
  const ports = STACK.flatMap((s) => Object.entries(s.ports).map(([name, port]) => ({ name, port, host: s.host })));
  const byReal = ports.find((p) => p.port.embedded === real);
  if (byReal) return byReal;
  if (!label) return undefined;
  const { host, port } = splitEndpoint(label);
  return ports.find((p) => p.host === host && String(p.port.lab) === port);
}

/** The Decode As settings a step's conversations need: one per server port that is not its protocol's standard one. */
export function decodeAsSettings(conversations: readonly Pick<StepConversation, 'transport' | 'server' | 'serverLabel'>[]): DecodeAs[] {
  const out: DecodeAs[] = [];
  for (const c of conversations) {
    const real = Number(splitEndpoint(c.server).port);
    const plan = planned(c.server, c.serverLabel);
    if (!plan || plan.port.lab === real) continue;
    const dissector = dissectorOf(plan.name, plan.port);
    const field = `${c.transport}.port==${real}`;
    if (dissector && !out.some((d) => d.field === field)) out.push({ field, dissector, protocol: dissector === 'pop' ? 'POP' : dissector.toUpperCase() });
  }
  return out;
}

/** The same as tshark options: `-d tcp.port==2525,smtp -d udp.port==5353,dns`. */
export function tsharkDecodeAs(settings: readonly DecodeAs[]): string[] {
  return settings.flatMap((d) => ['-d', `${d.field},${d.dissector}`]);
}
