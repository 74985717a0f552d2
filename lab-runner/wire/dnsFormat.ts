import type { Answer, Question } from 'dns-packet';
import type { DecodedMessage } from '../../services/common/dnsClient';

/**
 * DNS messages laid out the way `dig` prints them, so the runner's transcript reads
 * like the tool students already know. Pure functions, no I/O.
 */

export type Decoded = DecodedMessage;

export const FLAG_NAMES = ['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const;
export type FlagName = (typeof FLAG_NAMES)[number];

export function flagsOf(packet: Decoded): Record<FlagName, boolean> {
  return {
    qr: packet.flag_qr,
    aa: packet.flag_aa,
    tc: packet.flag_tc,
    rd: packet.flag_rd,
    ra: packet.flag_ra,
    ad: packet.flag_ad,
    cd: packet.flag_cd,
  };
}

const fqdn = (name: string): string => (name.endsWith('.') ? name : `${name}.`);

/** The rdata of a record in zone-file presentation form: `10 mail.lab.test.`. */
export function rdataText(answer: Answer): string {
  const data = (answer as { data?: unknown }).data;
  switch (answer.type) {
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return fqdn(String(data));
    case 'MX': {
      const mx = data as { preference: number; exchange: string };
      return `${mx.preference} ${fqdn(mx.exchange)}`;
    }
    case 'SRV': {
      const srv = data as { priority: number; weight: number; port: number; target: string };
      return `${srv.priority} ${srv.weight} ${srv.port} ${fqdn(srv.target)}`;
    }
    case 'SOA': {
      const soa = data as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      return `${fqdn(soa.mname)} ${fqdn(soa.rname)} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}`;
    }
    case 'TXT':
      return txtStrings(data).map((s) => JSON.stringify(s)).join(' ');
    case 'HINFO': {
      const h = data as { cpu: string; os: string };
      return `${JSON.stringify(h.cpu)} ${JSON.stringify(h.os)}`;
    }
    default:
      return Buffer.isBuffer(data) ? `\\# ${data.length} ${data.toString('hex')}` : String(data);
  }
}

/** TXT data decodes as Buffers (one per character-string); turn them into text. */
export function txtStrings(data: unknown): string[] {
  const parts = Array.isArray(data) ? data : [data];
  return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p)));
}

/** A resource record as decoded, whatever its type (OPT has no class or TTL of its own). */
export type LooseRecord = { name: string; type: string; class?: string; ttl?: number; data?: unknown };

function recordLine(answer: Answer): string {
  const rr = answer as LooseRecord;
  return `${fqdn(rr.name)}\t${rr.ttl ?? 0}\t${rr.class ?? 'IN'}\t${rr.type}\t${rdataText(answer)}`;
}

function questionLine(q: Question): string {
  return `;${fqdn(q.name)}\t\t${q.class ?? 'IN'}\t${q.type}`;
}

/** A whole message, like dig's output between the header and the statistics. */
export function formatMessage(packet: Decoded): string {
  const flags = FLAG_NAMES.filter((f) => flagsOf(packet)[f]).join(' ');
  const opt = packet.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const additionals = (packet.additionals ?? []).filter((a) => a.type !== 'OPT');
  const lines = [
    `;; ->>HEADER<<- opcode: ${packet.opcode ?? 'QUERY'}, status: ${packet.rcode ?? 'NOERROR'}, id: ${packet.id ?? 0}`,
    `;; flags: ${flags}; QUERY: ${packet.questions?.length ?? 0}, ANSWER: ${packet.answers?.length ?? 0}, ` +
      `AUTHORITY: ${packet.authorities?.length ?? 0}, ADDITIONAL: ${packet.additionals?.length ?? 0}`,
  ];
  if (opt) lines.push(`;; OPT PSEUDOSECTION: EDNS: version: 0; udp: ${opt.udpPayloadSize}`);
  const section = (title: string, records: Answer[] | undefined): void => {
    if (!records?.length) return;
    lines.push('', `;; ${title} SECTION:`, ...records.map(recordLine));
  };
  if (packet.questions?.length) lines.push('', ';; QUESTION SECTION:', ...packet.questions.map(questionLine));
  section('ANSWER', packet.answers);
  section('AUTHORITY', packet.authorities);
  section('ADDITIONAL', additionals);
  return lines.join('\n');
}

/** One line for a list or a ladder arrow: `A? www.lab.test` / `NOERROR A 172.28.0.80 (aa)`. */
export function summarize(packet: Decoded): string {
  const q = packet.questions?.[0];
  if (!packet.flag_qr) return `${q?.type ?? '?'}? ${q?.name ?? ''}${packet.flag_rd ? '' : ' (norec)'}`;
  const answers = (packet.answers ?? []).map((a) => `${a.type} ${rdataText(a)}`);
  const shown = answers.slice(0, 3).join(', ') + (answers.length > 3 ? `, +${answers.length - 3} more` : '');
  const flags = (['aa', 'tc'] as const).filter((f) => flagsOf(packet)[f]).join(' ');
  return `${packet.rcode ?? 'NOERROR'}${shown ? ' ' + shown : ''}${flags ? ` (${flags})` : ''}`;
}
