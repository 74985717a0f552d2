import type { Answer, OptAnswer, Packet, Question, SoaAnswer } from 'dns-packet';
import { EDNS_DO, FLAG, OPCODE, RCODE, opcodeOf } from './codes';
import { isAtOrBelow, type SoaRecord, type Zone, type ZoneRecord } from './zonefile';

/**
 * How an authoritative server answers a query: a pure function from the query to the
 * response, with no sockets, so it can be read top to bottom and unit-tested.
 *
 * The algorithm is RFC 1034 4.3.2 without its recursive parts: find the zone, find the
 * name, return the records of the asked type, following a CNAME on the way; if the
 * name or the type is missing, say so with the zone's SOA (RFC 2308).
 */

export interface AnswerOptions {
  /** The UDP payload size this server advertises in its EDNS OPT record (RFC 6891 6.2.5). Default 1232. */
  udpPayloadSize?: number;
}

/** The classic default when EDNS is in use: fits an IPv6 packet without fragmenting. */
export const DEFAULT_EDNS_PAYLOAD = 1232;

/** How many CNAMEs in a row we follow before giving up (a loop, or a silly chain). */
const MAX_CNAME_CHAIN = 8;

export function answer(query: Packet, zones: readonly Zone[], options: AnswerOptions = {}): Packet {
  const flags = query.flags ?? 0;
  const questions = query.questions ?? [];
  const opts = (query.additionals ?? []).filter((r): r is OptAnswer => r.type === 'OPT');

  // The reply starts as a copy of the query's header: same ID, same opcode, RD copied
  // (RFC 1035 4.1.1). AA is set when the answer comes from one of our zones; RA stays
  // clear, because this server never recurses (the lab must not query the outside world).
  const reply = (rcode: number, sections: Sections = {}): Packet => {
    const aa = sections.authoritative ? FLAG.AA : 0;
    const response: Packet = {
      id: query.id ?? 0,
      type: 'response',
      flags: (opcodeOf(flags) << 11) | aa | (flags & FLAG.RD) | (rcode & 0xf),
      questions: sections.echo === false ? [] : questions,
      answers: sections.answers ?? [],
      authorities: sections.authorities ?? [],
      additionals: sections.additionals ?? [],
    };
    // RFC 6891 7: a query with an OPT record gets one back, which tells the client the
    // largest UDP answer we send and carries the top bits of an extended rcode.
    if (opts.length === 1) response.additionals!.push(optRecord(opts[0]!, rcode, options));
    return response;
  };

  // RFC 1035 4.1.1: an opcode we do not implement (IQUERY, STATUS, NOTIFY, UPDATE) is NOTIMP.
  if (opcodeOf(flags) !== OPCODE.QUERY) return reply(RCODE.NOTIMP);
  // RFC 9619 (and RFC 1035 4.1.2 in practice): a query asks exactly one question.
  if (questions.length !== 1) return reply(RCODE.FORMERR, { echo: false });
  // RFC 6891 6.1.1: at most one OPT record.
  if (opts.length > 1) return reply(RCODE.FORMERR, { echo: false });
  // RFC 6891 6.1.3: we speak EDNS version 0 only.
  if (opts.length === 1 && opts[0]!.ednsVersion > 0) return reply(RCODE.BADVERS);

  const question = questions[0]!;
  // Our zones hold class IN data; ANY (255) as a class asks for that too. Another class
  // (CH, HS, or one without a name, written CLASS1234 by RFC 3597 5) is a well-formed
  // query for data we do not serve: REFUSED, with the OPT record like any reply, as NSD
  // answers it. Not FORMERR: nothing in the message is malformed.
  if (question.class !== undefined && question.class !== 'IN' && question.class !== 'ANY') return reply(RCODE.REFUSED);
  // Zone transfers are not offered (and AXFR never runs over UDP, RFC 5936 4.2).
  if (question.type === 'AXFR' || question.type === 'IXFR') return reply(RCODE.REFUSED);

  // RFC 1034 4.3.2 step 2: find the zone nearest to the name. None: we are not the
  // server for this name, and we do not recurse, so we refuse (rather than point the
  // client at the root servers, which a lab must not do).
  const zone = findZone(zones, question.name);
  if (!zone) return reply(RCODE.REFUSED);

  const result = lookup(question, zone, zones);
  return reply(result.rcode, {
    authoritative: true,
    answers: result.answers,
    authorities: result.negative ? [negativeSoa(result.negative)] : [],
    additionals: additionalAddresses(result.answers, zones),
  });
}

interface Sections {
  /** Set AA: the answer comes from our zone data. */
  authoritative?: boolean;
  /** Echo the question (default); not for a FORMERR, whose question we do not trust. */
  echo?: boolean;
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

interface LookupResult {
  rcode: number;
  answers: Answer[];
  /** For NXDOMAIN and NODATA: the zone whose SOA goes into the authority section. */
  negative?: Zone;
}

/**
 * RFC 1034 4.3.2 step 3, for a name inside one of our zones: match the name, follow a
 * CNAME (step 3a), and report a missing name (NXDOMAIN) or a missing type (NODATA).
 */
function lookup(question: Question, first: Zone, zones: readonly Zone[]): LookupResult {
  // dns-packet's types leave out the query-only types; ANY (255) is one of them.
  const qtype: string = question.type;
  const answers: Answer[] = [];
  // The first owner is written as the client asked (same letter case); the rest as in the zone.
  let owner = question.name;
  let zone = first;

  for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
    const name = owner.toLowerCase();
    const records = zone.byName.get(name);

    if (!records) {
      // RFC 8020: a name with nothing of its own but with names below it (an "empty
      // non-terminal", like _tcp.lab.test) exists; only a name with nothing at all is NXDOMAIN.
      if (hasNamesBelow(zone, name)) return { rcode: RCODE.NOERROR, answers, negative: zone };
      // RFC 2308 2.1: NXDOMAIN, with the SOA so the resolver knows how long to cache it.
      // After a CNAME, the rcode speaks of the last name in the chain (RFC 6604 3).
      return { rcode: RCODE.NXDOMAIN, answers, negative: zone };
    }

    // RFC 8482 4: ANY does not mean "all": answer with one small record instead of
    // every RRset (ANY was abused to make big answers for amplification attacks).
    if (qtype === 'ANY') {
      const cname = records.find((r) => r.type === 'CNAME');
      answers.push(cname ? toAnswer(cname, owner) : rfc8482Hinfo(owner, zone));
      return { rcode: RCODE.NOERROR, answers };
    }

    const matching = records.filter((r) => r.type === qtype);
    if (matching.length > 0) {
      answers.push(...matching.map((r) => toAnswer(r, owner)));
      return { rcode: RCODE.NOERROR, answers };
    }

    // RFC 1034 4.3.2 step 3a: the name is an alias. Put the CNAME in the answer, then
    // look for the asked type at the alias's target, in this zone or in another of ours.
    const cname = records.find((r) => r.type === 'CNAME');
    if (!cname) {
      // RFC 2308 2.2: NODATA is NOERROR with no answer, and the SOA in the authority section.
      return { rcode: RCODE.NOERROR, answers, negative: zone };
    }
    answers.push(toAnswer(cname, owner));
    owner = cname.data as string;
    const next = findZone(zones, owner);
    // A target outside our zones: the CNAME is all we know; the client's resolver goes on.
    if (!next) return { rcode: RCODE.NOERROR, answers };
    zone = next;
  }
  // A chain longer than MAX_CNAME_CHAIN (likely a loop): stop with what we have.
  return { rcode: RCODE.NOERROR, answers };
}

/** The zone whose origin is the longest suffix of `name`, if any (RFC 1034 4.3.2 step 2). */
export function findZone(zones: readonly Zone[], name: string): Zone | undefined {
  const lower = name.toLowerCase();
  let best: Zone | undefined;
  for (const zone of zones) {
    if (isAtOrBelow(lower, zone.origin) && (!best || zone.origin.length > best.origin.length)) best = zone;
  }
  return best;
}

function hasNamesBelow(zone: Zone, name: string): boolean {
  for (const owner of zone.byName.keys()) if (owner.endsWith('.' + name)) return true;
  return false;
}

/**
 * RFC 2308 3: the SOA in a negative answer has a TTL of the smaller of the SOA's own
 * TTL and its minimum field; that is how long a resolver caches the "no".
 */
function negativeSoa(zone: Zone): SoaAnswer {
  const soa: SoaRecord = zone.soa;
  return { name: soa.name, type: 'SOA', class: 'IN', ttl: Math.min(soa.ttl, soa.data.minimum), data: soa.data };
}

/** RFC 8482 4.2: a synthesized HINFO with CPU "RFC8482" and an empty OS. */
function rfc8482Hinfo(owner: string, zone: Zone): Answer {
  return { name: owner, type: 'HINFO', class: 'IN', ttl: zone.soa.data.minimum, data: { cpu: 'RFC8482', os: '' } };
}

/**
 * RFC 1034 4.3.2 step 6 / RFC 1035 3.3.9: with an MX, NS or SRV answer, add the
 * addresses of the names it points at, when we have them, so the client need not ask.
 */
function additionalAddresses(answers: readonly Answer[], zones: readonly Zone[]): Answer[] {
  const targets: string[] = [];
  for (const record of answers) {
    if (record.type === 'MX') targets.push(record.data.exchange);
    else if (record.type === 'NS') targets.push(record.data);
    else if (record.type === 'SRV') targets.push(record.data.target);
  }
  const additionals: Answer[] = [];
  for (const target of new Set(targets.map((t) => t.toLowerCase()))) {
    const records = findZone(zones, target)?.byName.get(target) ?? [];
    for (const record of records) {
      if (record.type === 'A' || record.type === 'AAAA') additionals.push(toAnswer(record, record.name));
    }
  }
  return additionals;
}

/** A zone record as dns-packet puts it on the wire, under the owner name given. */
function toAnswer(record: ZoneRecord, owner: string): Answer {
  const { line: _line, name: _name, ...wire } = record;
  return { ...wire, name: owner } as Answer;
}

/**
 * A reply built from a query's header alone, for a message we could not decode
 * (FORMERR) or could not answer (SERVFAIL): the same ID and opcode, RD copied, QR set,
 * the rcode, and no sections (RFC 1035 4.1.1).
 */
export function headerOnlyReply(header: Buffer, rcode: number): Packet {
  const flags = header.readUInt16BE(2);
  return {
    id: header.readUInt16BE(0),
    type: 'response',
    flags: (opcodeOf(flags) << 11) | (flags & FLAG.RD) | (rcode & 0xf),
  };
}

function optRecord(query: OptAnswer, rcode: number, options: AnswerOptions): OptAnswer {
  return {
    name: '.',
    type: 'OPT',
    udpPayloadSize: options.udpPayloadSize ?? DEFAULT_EDNS_PAYLOAD,
    // The rcode is 12 bits with EDNS: the header holds the low 4, the OPT the high 8.
    extendedRcode: rcode >> 4,
    ednsVersion: 0,
    // RFC 3225 3: the DO bit is copied from the query (we sign nothing, so it changes nothing).
    flags: query.flags & EDNS_DO,
    flag_do: (query.flags & EDNS_DO) !== 0,
    options: [],
  };
}
