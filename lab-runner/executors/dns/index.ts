import { z } from 'zod';
import type { Answer, RecordType } from 'dns-packet';
import { dnsExchange, flagsOf, FLAG_NAMES, rdataText, splitHostPort, txtStrings, type LooseRecord } from '../../wire';
import { outputSchema, type Executor } from '../types';

/** `dns:` — ask a DNS server one question, over UDP or TCP. See README.md beside this file. */

const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT', 'ANY', 'CAA', 'HINFO', 'NAPTR', 'DS', 'DNSKEY'] as const;

export const dnsSchema = z
  .object({
    query: z.string().min(1).optional().describe('The name to look up, e.g. www.lab.test.'),
    reverse: z.ipv4().optional().describe('Or an address to look up backwards, as dig -x does: a PTR query for its in-addr.arpa name.'),
    type: z.enum(RECORD_TYPES).optional().describe('The record type to ask for. Default: A, or PTR with reverse.'),
    server: z
      .string()
      .optional()
      .describe('The server to ask, as a lab host or address with an optional :port. Default: the lab DNS (ns.lab.test).'),
    transport: z.enum(['udp', 'tcp']).default('udp').describe('UDP (one datagram) or TCP (length-prefixed, RFC 1035 4.2.2).'),
    recursion: z.boolean().default(true).describe('Set the RD (recursion desired) bit, as dig does by default.'),
    edns: z.number().int().min(512).max(65535).optional().describe('Advertise EDNS(0) with this UDP payload size.'),
  })
  .strict()
  .refine((v) => (v.query === undefined) !== (v.reverse === undefined), { message: 'give query (a name) or reverse (an address)' });

export type DnsInput = z.infer<typeof dnsSchema>;

/** A resource record as the output shows it; `data` is open: a string, or MX's { preference, exchange }, SOA's fields... */
const recordOutput = z.strictObject({
  name: z.string(),
  type: z.string(),
  class: z.string(),
  ttl: z.number().optional(),
  data: z.unknown().describe('The record data: an address or a name, or an object (MX: preference, exchange; SOA: mname, serial...).'),
  strings: z.array(z.string()).optional().describe("A TXT record's character-strings, one by one."),
  text: z.string().describe('The record as a zone file line.'),
});

export const dnsOutput = outputSchema({
  server: z.string().describe('The server asked, as a lab host:port.'),
  transport: z.enum(['udp', 'tcp']),
  id: z.number().optional(),
  opcode: z.string(),
  rcode: z.string().describe('NOERROR, NXDOMAIN, REFUSED, SERVFAIL...'),
  flags: z.strictObject(Object.fromEntries(FLAG_NAMES.map((f) => [f, z.boolean()])) as Record<(typeof FLAG_NAMES)[number], z.ZodBoolean>),
  question: z.array(z.strictObject({ name: z.string(), type: z.string(), class: z.string().optional() })),
  answers: z.array(recordOutput),
  authority: z.array(recordOutput),
  additional: z.array(recordOutput),
  size: z.number().describe('Bytes of the response message.'),
});

export type DnsOutput = z.infer<typeof dnsOutput>;

/** 172.28.0.80 -> 80.0.28.172.in-addr.arpa (RFC 1035 3.5): the name a PTR record has. */
export function reverseName(address: string): string {
  return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
}

const questionOf = (input: DnsInput): { name: string; type: RecordType } => ({
  name: input.query ?? reverseName(input.reverse!),
  type: (input.type ?? (input.reverse ? 'PTR' : 'A')) as RecordType,
});

function record(answer: Answer): z.infer<typeof recordOutput> {
  const a = answer as LooseRecord;
  const data = a.type === 'TXT' ? txtStrings(a.data).join('') : a.data;
  return {
    name: a.name,
    type: a.type,
    class: a.class ?? 'IN',
    ttl: a.ttl,
    data,
    ...(a.type === 'TXT' ? { strings: txtStrings(a.data) } : {}),
    text: `${a.name}. ${a.ttl ?? 0} ${a.class ?? 'IN'} ${a.type} ${rdataText(answer)}`,
  };
}

export const dnsExecutor: Executor<DnsInput, DnsOutput> = {
  name: 'dns',
  schema: dnsSchema,
  output: dnsOutput,
  describe: (input) => {
    const q = questionOf(input);
    return `${q.type}? ${q.name}${input.transport === 'tcp' ? ' over TCP' : ''}`;
  },
  async run(input, ctx) {
    let server = ctx.network.dns;
    if (input.server) {
      const [host, port] = splitHostPort(input.server, 53);
      server = ctx.network.route(await ctx.network.resolve(host, ctx.wire, ctx.signal), port);
    }
    const { response, size } = await dnsExchange(
      server,
      { ...questionOf(input), transport: input.transport, recursion: input.recursion, edns: input.edns },
      ctx.wire,
      ctx.signal,
    );
    const additionals = (response.additionals ?? []).filter((a) => a.type !== 'OPT');
    return {
      server: server.label,
      transport: input.transport,
      id: response.id,
      opcode: response.opcode ?? 'QUERY',
      rcode: response.rcode ?? 'NOERROR',
      flags: flagsOf(response),
      question: response.questions ?? [],
      answers: (response.answers ?? []).map(record),
      authority: (response.authorities ?? []).map(record),
      additional: additionals.map(record),
      size,
    };
  },
};
