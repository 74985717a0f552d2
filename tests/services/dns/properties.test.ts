/**
 * Properties of the DNS service's parsers, checked on many generated cases (fast-check,
 * fixed seed): zone files written in every way RFC 1035 5 allows read back as the
 * records they were written from; TCP framing cut anywhere gives the same messages;
 * any bytes sent to the server get a reply with their ID and never a SERVFAIL.
 */
import dgram from 'node:dgram';
import path from 'node:path';
import { decode, encode, type Packet } from 'dns-packet';
import fc from 'fast-check';
import { frame, splitFrames } from '../../../services/dns/framing';
import { DnsServer } from '../../../services/dns/server';
import { parseZoneFile, ZoneFileError, type ZoneRecord } from '../../../services/dns/zonefile';
import { LogCollector } from '../../helpers/logs';
import { chunksOf, cuts, garbage, holds, holdsAsync, thrown, type ValueOf } from '../../helpers/properties';
import { RCODE, rcodeOf } from '../../../services/dns/codes';
import { createLogger } from '../../../services/common/logger';

describe('TCP framing (RFC 1035 4.2.2)', () => {
  const messages = fc.array(fc.uint8Array({ maxLength: 600 }).map((m): Buffer => Buffer.from(m)), { maxLength: 8 });

  test('messages framed, then cut into any chunks and split as they arrive, come out as they went in', () => {
    holds(
      fc.property(messages, cuts(), (sent, at) => {
        const got: Buffer[] = [];
        let pending: Buffer = Buffer.alloc(0);
        for (const chunk of chunksOf(Buffer.concat(sent.map(frame)), at)) {
          const { frames, rest, oversized } = splitFrames(Buffer.concat([pending, chunk]));
          expect(oversized).toBe(false);
          got.push(...frames.map((f) => Buffer.from(f)));
          pending = rest;
        }
        expect(got).toEqual(sent);
        expect(pending.length).toBe(0);
      }),
    );
  });

  test('any bytes: frames and rest add up to the input, no frame over the limit, and a prefix over it is reported', () => {
    holds(
      fc.property(garbage(2000), fc.integer({ min: 0, max: 0xffff }), (bytes, max) => {
        const { frames, rest, oversized } = splitFrames(bytes, max);
        expect(frames.reduce((n, f) => n + 2 + f.length, 0) + rest.length).toBe(bytes.length);
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(max);
        if (oversized) expect(rest.readUInt16BE(0)).toBeGreaterThan(max);
        else if (rest.length >= 2) expect(rest.length - 2).toBeLessThan(rest.readUInt16BE(0));
      }),
      500,
    );
  });
});

// ---------------------------------------------------------------------------
// Zone files: a zone drawn at random, written out in one of the many ways the format
// allows (relative or absolute names, @, blank owners, TTL units, class before or after
// the TTL, parentheses, comments), parses back into the same records.

const ORIGIN = 'fuzz.test';
const label = fc.stringMatching(/^[a-z0-9_-]{1,12}$/);
const relativeName = fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.'));
const u16 = fc.integer({ min: 0, max: 65535 });
const ttl = fc.integer({ min: 0, max: 2 ** 31 - 1 });
/** TXT text: any Unicode, up to 255 bytes once UTF-8. */
const txtString = fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => Buffer.byteLength(s) <= 255 && !/\p{Cs}/u.test(s));

type Data = ZoneRecord['data'];
interface Drawn {
  owner: string; // relative to ORIGIN; '' is the apex
  type: ZoneRecord['type'];
  data: Data;
  ttl?: number;
}

/** Record data, with the names in it relative to ORIGIN (the parsed form is absolute). */
const rdata: fc.Arbitrary<Pick<Drawn, 'type' | 'data'>> = fc.oneof(
  fc.ipV4().map((data) => ({ type: 'A' as const, data })),
  fc.ipV6().filter((a) => !a.includes('%')).map((data) => ({ type: 'AAAA' as const, data })),
  relativeName.map((data) => ({ type: 'PTR' as const, data })),
  fc.record({ preference: u16, exchange: relativeName }).map((data) => ({ type: 'MX' as const, data })),
  fc.record({ priority: u16, weight: u16, port: u16, target: relativeName }).map((data) => ({ type: 'SRV' as const, data })),
  fc.array(txtString, { minLength: 1, maxLength: 3 }).map((data) => ({ type: 'TXT' as const, data })),
);

const zone = fc.record({
  soa: fc.record({ mname: relativeName, rname: relativeName, serial: fc.integer({ min: 0, max: 2 ** 32 - 1 }), refresh: ttl, retry: ttl, expire: ttl, minimum: ttl }),
  ns: fc.array(relativeName, { minLength: 1, maxLength: 2 }),
  records: fc.array(fc.record({ owner: relativeName, rr: rdata, ttl: fc.option(ttl, { nil: undefined }) }), { maxLength: 12 }),
  aliases: fc.array(fc.record({ owner: label.map((l) => `alias-${l}`), target: relativeName }), { maxLength: 3 }),
  defaultTtl: ttl,
  style: fc.record({
    origin: fc.constantFrom('directive', 'option'),
    absolute: fc.boolean(),
    reuseOwner: fc.boolean(),
    units: fc.boolean(),
    classFirst: fc.boolean(),
    withClass: fc.boolean(),
    comments: fc.boolean(),
    upper: fc.boolean(),
  }),
});

const absolute = (relative: string): string => (relative === '' ? ORIGIN : `${relative}.${ORIGIN}`);

/** The zone's records in parsed form: absolute names, the default TTL filled in, repeated records once (RFC 2181 5). */
function expectedRecords(drawn: Drawn[], defaultTtl: number): { name: string; type: string; ttl: number; data: unknown }[] {
  const out: { name: string; type: string; ttl: number; data: unknown }[] = [];
  for (const r of drawn) {
    const name = absolute(r.owner);
    let data: unknown = r.data;
    if (r.type === 'MX') data = { ...(r.data as { exchange: string }), exchange: absolute((r.data as { exchange: string }).exchange) };
    else if (r.type === 'SRV') data = { ...(r.data as { target: string }), target: absolute((r.data as { target: string }).target) };
    else if (r.type === 'SOA') {
      const soa = r.data as { mname: string; rname: string };
      data = { ...soa, mname: absolute(soa.mname), rname: absolute(soa.rname) };
    } else if (r.type === 'NS' || r.type === 'PTR' || r.type === 'CNAME') data = absolute(r.data as string);
    else if (r.type === 'AAAA') data = (r.data as string).toLowerCase();
    if (out.some((o) => o.name === name && o.type === r.type && JSON.stringify(o.data) === JSON.stringify(data))) continue;
    out.push({ name, type: r.type, ttl: r.ttl ?? defaultTtl, data });
  }
  return out;
}

/** A TTL as BIND writes it: 3600 or 1h, 5400 or 1h30m. */
function ttlText(seconds: number, units: boolean): string {
  if (!units || seconds === 0) return String(seconds);
  let text = '';
  let left = seconds;
  for (const [unit, size] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (left >= size) {
      text += `${Math.floor(left / size)}${unit}`;
      left %= size;
    }
  }
  return text;
}

/** A TXT string in quotes: `"` and `\` escaped, control characters and some others as \DDD bytes. */
function quoted(text: string): string {
  let out = '';
  for (const ch of text) {
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch < ' ' || ch === '\x7f' || (ch > '\x7f' && ch.codePointAt(0)! % 2 === 0)) out += [...Buffer.from(ch, 'utf8')].map((b) => `\\${String(b).padStart(3, '0')}`).join('');
    else out += ch;
  }
  return `"${out}"`;
}

function zoneText(z: ValueOf<typeof zone>): { text: string; records: Drawn[]; lines: number[] } {
  const { style } = z;
  const name = (relative: string): string => {
    const n = style.absolute ? `${absolute(relative)}.` : relative === '' ? '@' : relative;
    return style.upper ? n.toUpperCase() : n;
  };
  const drawn: Drawn[] = [
    { owner: '', type: 'SOA', data: z.soa as Data },
    ...z.ns.map((n): Drawn => ({ owner: '', type: 'NS', data: n })),
    ...z.records.filter((r) => !z.aliases.some((a) => a.owner === r.owner)).map((r): Drawn => ({ owner: r.owner, ...r.rr, ttl: r.ttl })),
  ];
  // A name with a CNAME has nothing else (RFC 1034 3.6.2): one alias per owner.
  const aliasOwners = new Set<string>();
  for (const a of z.aliases) {
    if (aliasOwners.has(a.owner)) continue;
    aliasOwners.add(a.owner);
    drawn.push({ owner: a.owner, type: 'CNAME', data: a.target });
  }

  const lines: string[] = [];
  const at: number[] = [];
  if (style.origin === 'directive') lines.push(`$ORIGIN ${ORIGIN}.${style.comments ? ' ; the origin' : ''}`);
  lines.push(`$TTL ${ttlText(z.defaultTtl, style.units)}`);
  let previous: string | undefined;
  for (const r of drawn) {
    const fields: string[] = [];
    const sameOwner = style.reuseOwner && previous === r.owner;
    previous = r.owner;
    const ttlField = r.ttl === undefined ? [] : [ttlText(r.ttl, style.units)];
    const classField = style.withClass ? ['IN'] : [];
    fields.push(...(style.classFirst ? [...classField, ...ttlField] : [...ttlField, ...classField]), r.type);
    let data: string;
    switch (r.type) {
      case 'SOA': {
        const s = r.data as ValueOf<typeof zone>['soa'];
        data = `${name(s.mname)} ${name(s.rname)} (\n  ${s.serial}${style.comments ? ' ; serial' : ''}\n  ${ttlText(s.refresh, style.units)} ${ttlText(s.retry, style.units)}\n  ${ttlText(s.expire, style.units)} ${ttlText(s.minimum, style.units)} )`;
        break;
      }
      case 'MX': {
        const mx = r.data as { preference: number; exchange: string };
        data = `${mx.preference} ${name(mx.exchange)}`;
        break;
      }
      case 'SRV': {
        const srv = r.data as { priority: number; weight: number; port: number; target: string };
        data = `${srv.priority} ${srv.weight} ${srv.port} ${name(srv.target)}`;
        break;
      }
      case 'TXT':
        data = (r.data as string[]).map(quoted).join(' ');
        break;
      case 'NS':
      case 'PTR':
      case 'CNAME':
        data = name(r.data as string);
        break;
      default:
        data = r.data as string;
    }
    at.push(lines.length + 1);
    lines.push(`${sameOwner ? '\t' : name(r.owner)} ${fields.join(' ')} ${data}${style.comments ? ' ; "a comment" (with parentheses)' : ''}`);
    lines.push(...lines.pop()!.split('\n'));
  }
  return { text: lines.join('\n') + '\n', records: drawn, lines: at };
}

describe('zone files (RFC 1035 5)', () => {
  test('a zone written out in any style parses back into the records it was written from, each on its own line', () => {
    holds(
      fc.property(zone, (z) => {
        const { text, records, lines } = zoneText(z);
        const parsed = parseZoneFile(text, { file: 'fuzz.test.zone', origin: z.style.origin === 'option' ? ORIGIN : undefined });
        expect(parsed.origin).toBe(ORIGIN);
        expect(parsed.records.map((r) => ({ name: r.name, type: r.type, ttl: r.ttl, data: r.data }))).toEqual(expectedRecords(records, z.defaultTtl));
        // Every parsed record names the line it was written on.
        for (const r of parsed.records) expect(lines).toContain(r.line);
      }),
      300,
    );
  });

  test('found by the property above: a character outside the BMP written as it is in a TXT string keeps its UTF-8 bytes', () => {
    const parsed = parseZoneFile('@ 1 SOA ns admin 1 1 1 1 1\n@ 1 NS ns\nhi 1 TXT "tea \u{1F375}"\n', { file: 'z.zone', origin: ORIGIN });
    // It used to be read one UTF-16 unit at a time: each half of the pair became U+FFFD.
    expect(parsed.records.find((r) => r.type === 'TXT')?.data).toEqual(['tea \u{1F375}']);
  });

  test('any text, or a good zone with bytes changed: a Zone or a ZoneFileError with the file and a line of the text, nothing else', () => {
    const good = zone.map((z) => zoneText(z).text);
    const mutated = fc.tuple(good, fc.nat(), fc.string({ maxLength: 4 }), fc.nat({ max: 6 })).map(([text, at, insert, cut]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + insert + text.slice(i + cut);
    });
    holds(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), mutated), (text) => {
        const err = thrown(() => parseZoneFile(text, { file: 'z.zone', origin: ORIGIN }));
        if (err === undefined) return;
        expect(err).toBeInstanceOf(ZoneFileError);
        const { file, line } = err as ZoneFileError;
        expect(file).toBe('z.zone');
        expect(line).toBeGreaterThanOrEqual(1);
        expect(line).toBeLessThanOrEqual(text.split('\n').length);
      }),
      500,
    );
  });
});

// ---------------------------------------------------------------------------
// Messages: any bytes in a datagram, and well-formed queries of every shape, sent to
// the real server. Every message that has a header and is a query gets a reply with
// its ID; none makes the server fail (SERVFAIL, an error in its log).

describe('DNS messages at the real server (UDP)', () => {
  let server: DnsServer;
  let port: number;
  let client: dgram.Socket;
  const logs = new LogCollector();
  const replies = new Map<number, (reply: Buffer) => void>();

  beforeAll(async () => {
    server = DnsServer.fromLab(path.resolve(__dirname, '../../../lab'), { log: createLogger('dns', { sink: logs.sink }) });
    port = (await server.listen(0)).port;
    client = dgram.createSocket('udp4');
    client.on('message', (reply) => replies.get(reply.readUInt16BE(0))?.(reply));
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  /** Send one datagram; resolve with the reply to its ID. The deadline names the query. */
  function ask(message: Buffer): Promise<Buffer> {
    const id = message.readUInt16BE(0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to the datagram with ID ${id} within 2 s: ${message.toString('hex')}`)), 2000);
      replies.set(id, (reply) => {
        clearTimeout(timer);
        replies.delete(id);
        resolve(reply);
      });
      client.send(message, port, '127.0.0.1');
    });
  }

  /** The reply to a query: its ID, QR set, the same opcode, and a server that did not fail. */
  function checkReply(query: Buffer, reply: Buffer): void {
    expect(reply.readUInt16BE(0)).toBe(query.readUInt16BE(0));
    expect(reply[2]! & 0x80).toBe(0x80);
    expect((reply[2]! >> 3) & 0xf).toBe((query[2]! >> 3) & 0xf);
    expect(reply[3]! & 0xf).not.toBe(2); // SERVFAIL: the server's own failure
    expect(logs.matching(/ dns error /)).toEqual([]);
  }

  const queries = fc.record({
    id: u16,
    opcode: fc.constantFrom(0, 0, 0, 1, 2, 4, 5),
    rd: fc.boolean(),
    name: fc.oneof(fc.constantFrom('www.lab.test', 'WWW.Lab.Test', 'blog.lab.test', '_tcp.lab.test', 'nothing.lab.test', 'lab.test', 'example.test', '80.0.28.172.in-addr.arpa', 'outside.example', '.'), fc.domain()),
    type: fc.constantFrom('A', 'AAAA', 'MX', 'TXT', 'SRV', 'NS', 'SOA', 'CNAME', 'PTR', 'ANY', 'AXFR', 'HINFO', 'CAA'),
    klass: fc.constantFrom('IN', 'IN', 'CH', 'HS', 'ANY'),
    edns: fc.option(fc.record({ size: u16, version: fc.constantFrom(0, 0, 1), do: fc.boolean() }), { nil: undefined }),
  });

  function queryBytes(q: ValueOf<typeof queries>): Buffer {
    const packet: Packet = {
      id: q.id,
      type: 'query',
      flags: (q.opcode << 11) | (q.rd ? 0x100 : 0),
      questions: [{ name: q.name, type: q.type as 'A', class: q.klass as 'IN' }],
      additionals: q.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: q.edns.size, extendedRcode: 0, ednsVersion: q.edns.version, flags: q.edns.do ? 0x8000 : 0, flag_do: q.edns.do, options: [] }] : [],
    };
    return encode(packet);
  }

  test('a well-formed query of any shape gets a decodable reply that repeats its question byte for byte', async () => {
    await holdsAsync(
      fc.asyncProperty(queries, async (q) => {
        const query = queryBytes(q);
        const reply = await ask(query);
        checkReply(query, reply);
        const decoded = decode(reply);
        if (decoded.questions?.length) expect(reply.subarray(12, query.length - (q.edns ? 11 : 0))).toEqual(query.subarray(12, query.length - (q.edns ? 11 : 0)));
        // Names the lab serves, asked properly, are answered with authority; others are refused.
        if (q.opcode === 0 && q.klass === 'IN' && q.type !== 'AXFR' && !(q.edns && q.edns.version > 0)) {
          const ours = /(^|\.)(lab\.test|example\.test|0\.28\.172\.in-addr\.arpa)$/i.test(q.name);
          expect({ name: q.name, aa: (decoded.flags ?? 0) & 0x400 ? 'AA' : '-' }).toEqual({ name: q.name, aa: ours ? 'AA' : '-' });
          if (!ours) expect(rcodeOf(decoded.flags ?? 0)).toBe(RCODE.REFUSED);
        }
      }),
      300,
    );
  });

  test('any bytes, or a good query with bytes changed: a reply with its ID when it has a header and is a query, and the server keeps answering', async () => {
    const mutated = fc.tuple(queries, fc.array(fc.tuple(fc.nat(), u16), { minLength: 1, maxLength: 4 })).map(([q, edits]) => {
      const bytes = Buffer.from(queryBytes(q));
      for (const [at, value] of edits) bytes[at % bytes.length] = value & 0xff;
      return bytes;
    });
    await holdsAsync(
      fc.asyncProperty(fc.oneof(garbage(600), mutated), u16, async (bytes, id) => {
        if (bytes.length < 12 || bytes[2]! & 0x80) return; // no header, or a response: dropped by design (server.ts)
        bytes.writeUInt16BE(id, 0);
        checkReply(bytes, await ask(bytes));
      }),
      500,
    );
    // Still answering: a plain question gets its answer.
    const reply = decode(await ask(encode({ id: 7, type: 'query', flags: 0x100, questions: [{ name: 'www.lab.test', type: 'A' }] })));
    expect(reply.answers?.map((a) => (a as { data?: unknown }).data)).toEqual(['172.28.0.80']);
  });
});
