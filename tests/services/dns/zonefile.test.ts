import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Answer, OptAnswer, Packet } from 'dns-packet';
import { FLAG, OPCODE, RCODE, opcodeOf, rcodeOf } from '../../../services/dns/codes';
import { frame, splitFrames } from '../../../services/dns/framing';
import { loadZones } from '../../../services/dns/loadZones';
import { truncate, udpPayloadLimit } from '../../../services/dns/truncate';
import { answer, findZone, headerOnlyReply } from '../../../services/dns/zone';
import { ZoneFileError, parseZoneFile, type Zone, type ZoneRecord } from '../../../services/dns/zonefile';
import { LAB_DIR } from '../../helpers/paths';

/** A zone file from lines, so a test can name the line an error is on. */
const lines = (...text: string[]): string => text.join('\n') + '\n';

const HEAD = [
  '$ORIGIN lab.test.', // 1
  '$TTL 3600', // 2
  '@ IN SOA ns hostmaster 1 2 3 4 300', // 3
  '  IN NS ns', // 4
];

function parse(text: string, options: { origin?: string; defaultTtl?: number } = {}): Zone {
  return parseZoneFile(text, { file: 'lab/zones/t.zone', ...options });
}

function errorOf(text: string, options: { origin?: string; defaultTtl?: number } = {}): ZoneFileError {
  try {
    parse(text, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ZoneFileError);
    return err as ZoneFileError;
  }
  throw new Error('expected a ZoneFileError, but the file parsed');
}

function records(zone: Zone, name: string, type?: string): ZoneRecord[] {
  return (zone.byName.get(name) ?? []).filter((r) => !type || r.type === type);
}

describe('parseZoneFile: records', () => {
  const zone = parse(
    lines(
      '; a comment line',
      '$ORIGIN lab.test.',
      '$TTL 1h',
      '@  IN  SOA ns.lab.test. hostmaster.lab.test. ( 2026112101 1h 15m 1w 5m )',
      '   IN  NS  ns',
      '   IN  MX  10 mail',
      'ns      IN A    172.28.0.53',
      'www     IN A    172.28.0.80',
      '        IN AAAA FD00:28::80',
      'web     IN CNAME www',
      '_submission._tcp IN SRV 0 5 587 mail.lab.test.',
      'hello   IN TXT  "one" "two"',
      'mail    IN A    172.28.0.25',
    ),
  );

  test('SOA, with parentheses and BIND time units', () => {
    expect(zone.origin).toBe('lab.test');
    expect(zone.soa).toMatchObject({
      name: 'lab.test',
      type: 'SOA',
      ttl: 3600,
      line: 4,
      data: { mname: 'ns.lab.test', rname: 'hostmaster.lab.test', serial: 2026112101, refresh: 3600, retry: 900, expire: 604800, minimum: 300 },
    });
  });

  test('NS and MX at the apex through the blank owner, relative names completed', () => {
    expect(records(zone, 'lab.test', 'NS')[0]!.data).toBe('ns.lab.test');
    expect(records(zone, 'lab.test', 'MX')[0]!.data).toEqual({ preference: 10, exchange: 'mail.lab.test' });
  });

  test('A, AAAA (lowercased), CNAME, SRV, TXT, PTR in dns-packet shapes', () => {
    expect(records(zone, 'www.lab.test', 'A')[0]).toMatchObject({ class: 'IN', ttl: 3600, data: '172.28.0.80', line: 8 });
    expect(records(zone, 'www.lab.test', 'AAAA')[0]!.data).toBe('fd00:28::80');
    expect(records(zone, 'web.lab.test', 'CNAME')[0]!.data).toBe('www.lab.test');
    expect(records(zone, '_submission._tcp.lab.test', 'SRV')[0]!.data).toEqual({ priority: 0, weight: 5, port: 587, target: 'mail.lab.test' });
    expect(records(zone, 'hello.lab.test', 'TXT')[0]!.data).toEqual(['one', 'two']);
  });

  test('PTR in a reverse zone', () => {
    const reverse = parse(lines('$ORIGIN 0.28.172.in-addr.arpa.', '$TTL 1h', '@ SOA ns.lab.test. hm.lab.test. 1 2 3 4 5', '@ NS ns.lab.test.', '80 PTR www.lab.test.'));
    expect(reverse.origin).toBe('0.28.172.in-addr.arpa');
    expect(records(reverse, '80.0.28.172.in-addr.arpa', 'PTR')[0]!.data).toBe('www.lab.test');
  });
});

describe('parseZoneFile: directives, owners, TTLs, classes', () => {
  test('$ORIGIN may be relative to the current origin, and @ is the origin', () => {
    const zone = parse(lines('$ORIGIN test.', '$ORIGIN lab', '$TTL 60', '@ SOA ns hm 1 2 3 4 5', '@ NS ns', 'x A 10.0.0.1'));
    expect(zone.origin).toBe('lab.test');
    expect(records(zone, 'x.lab.test', 'A')).toHaveLength(1);
  });

  test('the origin option is used when the file has no $ORIGIN', () => {
    const zone = parse(lines('$TTL 60', '@ SOA ns hm 1 2 3 4 5', '  NS ns', 'x A 10.0.0.1'), { origin: 'example.test.' });
    expect(zone.origin).toBe('example.test');
    expect(records(zone, 'x.example.test', 'A')[0]!.data).toBe('10.0.0.1');
  });

  test('$TTL accepts units and combinations; a record TTL wins; TTL and class in either order', () => {
    const zone = parse(
      lines(...HEAD, '$TTL 1h30m', 'a A 10.0.0.1', 'b 2d IN A 10.0.0.2', 'c IN 1W A 10.0.0.3', 'd 45 A 10.0.0.4', 'e in a 10.0.0.5'),
    );
    expect(records(zone, 'a.lab.test')[0]!.ttl).toBe(5400);
    expect(records(zone, 'b.lab.test')[0]!.ttl).toBe(172800);
    expect(records(zone, 'c.lab.test')[0]!.ttl).toBe(604800);
    expect(records(zone, 'd.lab.test')[0]!.ttl).toBe(45);
    expect(records(zone, 'e.lab.test')[0]!.type).toBe('A');
  });

  test('defaultTtl applies when there is no $TTL', () => {
    const zone = parse(lines('$ORIGIN lab.test.', '@ SOA ns hm 1 2 3 4 5', '  NS ns'), { defaultTtl: 120 });
    expect(zone.soa.ttl).toBe(120);
  });

  test('a line starting with a blank (space or tab) reuses the previous owner', () => {
    const zone = parse(lines(...HEAD, 'www A 10.0.0.1', '\tA 10.0.0.2', '    AAAA ::1'));
    expect(records(zone, 'www.lab.test').map((r) => r.data)).toEqual(['10.0.0.1', '10.0.0.2', '::1']);
  });

  test('names are absolute, lowercased, without the trailing dot', () => {
    const zone = parse(lines(...HEAD, 'WWW.Lab.Test. A 10.0.0.1', 'Alias CNAME WWW'));
    expect(records(zone, 'www.lab.test', 'A')).toHaveLength(1);
    expect(records(zone, 'alias.lab.test')[0]!.data).toBe('www.lab.test');
  });

  test('SRV and MX may point at the root (no service / null MX)', () => {
    const zone = parse(lines(...HEAD, '_x._tcp SRV 0 0 0 .', 'nomail MX 0 .'));
    expect(records(zone, '_x._tcp.lab.test')[0]!.data).toMatchObject({ target: '.' });
    expect(records(zone, 'nomail.lab.test')[0]!.data).toEqual({ preference: 0, exchange: '.' });
  });

  test('a repeated record is kept once (RFC 2181 5)', () => {
    const zone = parse(lines(...HEAD, 'a A 10.0.0.1', 'a A 10.0.0.1'));
    expect(records(zone, 'a.lab.test')).toHaveLength(1);
  });

  test('CRLF line endings', () => {
    const zone = parse(lines(...HEAD, 'a A 10.0.0.1').replace(/\n/g, '\r\n'));
    expect(records(zone, 'a.lab.test')).toHaveLength(1);
  });
});

describe('parseZoneFile: comments, parentheses and quotes', () => {
  test('comments end at the line end, but not inside quotes', () => {
    const zone = parse(lines(...HEAD, 'a TXT "semi; colon" ; a real comment', 'b A 10.0.0.1;comment without a space'));
    expect(records(zone, 'a.lab.test')[0]!.data).toEqual(['semi; colon']);
    expect(records(zone, 'b.lab.test')[0]!.data).toBe('10.0.0.1');
  });

  test('parentheses span lines, with comments inside, for any record', () => {
    const zone = parse(
      lines('$ORIGIN lab.test.', '$TTL 60', '@ IN SOA ns hm (', '  7     ; serial', '  1h ; refresh', '  2 3', '  4 )', '@ NS ns', 't TXT ( "a"', '  "b" )'),
    );
    expect(zone.soa.data).toEqual({ mname: 'ns.lab.test', rname: 'hm.lab.test', serial: 7, refresh: 3600, retry: 2, expire: 3, minimum: 4 });
    expect(records(zone, 't.lab.test')[0]!.data).toEqual(['a', 'b']);
    expect(records(zone, 'lab.test', 'NS')[0]!.line).toBe(8);
  });

  test('TXT escapes: \\" and \\\\ and \\DDD (bytes, read as UTF-8), several and empty strings', () => {
    const zone = parse(lines(...HEAD, 'a TXT "say \\"hi\\"" "back\\\\slash" "caf\\195\\169" "" word', 'b TXT "\\059 not a comment"'));
    expect(records(zone, 'a.lab.test')[0]!.data).toEqual(['say "hi"', 'back\\slash', 'café', '', 'word']);
    expect(records(zone, 'b.lab.test')[0]!.data).toEqual(['; not a comment']);
  });

  test('parentheses inside quotes are text', () => {
    const zone = parse(lines(...HEAD, 'a TXT "(not) a paren"'));
    expect(records(zone, 'a.lab.test')[0]!.data).toEqual(['(not) a paren']);
  });
});

describe('parseZoneFile: errors carry the file, the line and what was expected', () => {
  const cases: Array<[string, string[], number, string]> = [
    ['MX with one field', [...HEAD, 'mail A 10.0.0.1', '@ MX mail'], 6, 'MX needs a preference and an exchange, got "mail"'],
    ['A with a bad address', [...HEAD, 'www A 300.1.1.1'], 5, 'A needs an IPv4 address like 172.28.0.80, got "300.1.1.1"'],
    ['A with a leading zero', [...HEAD, 'www A 10.0.0.01'], 5, 'A needs an IPv4 address'],
    ['A with two addresses', [...HEAD, 'www A 10.0.0.1 10.0.0.2'], 5, 'A needs an IPv4 address, got "10.0.0.1 10.0.0.2"'],
    ['AAAA with a bad address', [...HEAD, 'www AAAA fd00::28::1'], 5, 'AAAA needs an IPv6 address like fd00:28::80'],
    ['AAAA with a zone index', [...HEAD, 'www AAAA fe80::1%eth0'], 5, 'AAAA needs an IPv6 address'],
    ['MX preference out of range', [...HEAD, '@ MX 70000 mail'], 5, 'MX preference must be a number from 0 to 65535, got "70000"'],
    ['SRV with a missing field', [...HEAD, '_s._tcp SRV 0 1 mail'], 5, 'SRV needs a priority, a weight, a port and a target, got "0 1 mail"'],
    ['SRV port not a number', [...HEAD, '_s._tcp SRV 0 1 smtp mail'], 5, 'SRV port must be a number from 0 to 65535, got "smtp"'],
    ['TXT without strings', [...HEAD, 't TXT'], 5, 'TXT needs at least one string, got nothing'],
    ['CNAME with two names', [...HEAD, 'w CNAME a b'], 5, 'CNAME needs one domain name, got "a b"'],
    ['unknown type', [...HEAD, 'w FOO 1'], 5, 'unknown or unsupported record type "FOO"'],
    ['no type at all', [...HEAD, 'w 300 IN'], 5, 'a record for w.lab.test needs a type'],
    ['class CH', [...HEAD, 'w CH TXT "x"'], 5, 'class CH is not served here'],
    ['TTL too large', [...HEAD, 'w 4294967295 A 10.0.0.1'], 5, 'TTL "4294967295" is too large'],
    ['bad $TTL', [...HEAD, '$TTL 1x'], 5, 'expected a TTL (seconds, or like 1h, 2d), got "1x"'],
    ['$TTL with two values', [...HEAD, '$TTL 1 2'], 5, '$TTL takes one value, got "1 2"'],
    ['$INCLUDE', [...HEAD, '$INCLUDE other.zone'], 5, '$INCLUDE is not supported'],
    ['unknown directive', [...HEAD, '$FOO bar'], 5, 'unknown directive $FOO'],
    ['no TTL anywhere', ['$ORIGIN lab.test.', '@ SOA ns hm 1 2 3 4 5'], 2, 'the record for lab.test has no TTL'],
    ['relative name without an origin', ['$TTL 1', 'www A 10.0.0.1'], 2, '"www" is relative to the origin, but there is none yet'],
    ['blank owner on the first record', ['$ORIGIN lab.test.', '$TTL 1', '  A 10.0.0.1'], 3, 'reuses the owner of the record above, but there is none'],
    ['a bad character in a name', [...HEAD, 'w!w A 10.0.0.1'], 5, '"w!w" is not a valid domain name: "w!w" may contain only letters, digits'],
    ['an empty label', [...HEAD, 'a..b A 10.0.0.1'], 5, 'it has an empty label'],
    ['a label over 63 characters', [...HEAD, `${'x'.repeat(64)} A 10.0.0.1`], 5, 'is longer than 63 characters'],
    ['a wildcard', [...HEAD, '* A 10.0.0.1'], 5, 'wildcard names are not supported'],
    ['a quoted name', [...HEAD, 'w CNAME "www"'], 5, 'names are not quoted'],
    ['unterminated quote', [...HEAD, 't TXT "open', 'x A 10.0.0.1'], 5, 'a quoted string is not closed on its line'],
    ['a "(" never closed', [...HEAD, 't TXT ( "a"', 'x A 10.0.0.1'], 5, '"(" is never closed with ")"'],
    ['a ")" without "("', [...HEAD, 't TXT "a" )'], 5, '")" without a "(" before it'],
    ['nested parentheses', [...HEAD, 't TXT ( ( "a" ) )'], 5, '"(" inside parentheses already opened on line 5'],
    ['a TXT string over 255 bytes', [...HEAD, `t TXT "${'x'.repeat(256)}"`], 5, 'a TXT string can hold at most 255 bytes, this one has 256'],
    ['\\DDD over 255', [...HEAD, 't TXT "\\999"'], 5, '\\999 is not a byte (0-255)'],
    ['\\DDD that is not UTF-8', [...HEAD, 't TXT "\\255"'], 5, 'do not make valid UTF-8 text'],
    ['a second SOA', [...HEAD, '@ SOA ns hm 1 2 3 4 5'], 5, 'a second SOA record: a zone has exactly one (the first is on line 3)'],
    ['a name outside the zone', [...HEAD, 'www.example.test. A 10.0.0.1'], 5, 'www.example.test is outside the zone lab.test'],
    ['NS below the apex', [...HEAD, 'sub NS ns.sub'], 5, 'NS records below the apex delegate a subzone'],
    ['CNAME and other data', [...HEAD, 'www A 10.0.0.1', 'www CNAME web'], 6, 'www.lab.test cannot have a CNAME and other records, or two CNAMEs (RFC 1034 3.6.2); see also line 5'],
    ['two CNAMEs', [...HEAD, 'w CNAME a', 'w CNAME b'], 6, 'cannot have a CNAME and other records, or two CNAMEs'],
    ['CNAME at the apex', [...HEAD, '@ CNAME www'], 5, 'lab.test cannot have a CNAME and other records'],
    ['SOA with too few fields, reported on its first line', ['$ORIGIN lab.test.', '$TTL 1', '@ SOA ns hm (', '  1 2 3', '  4 )'], 3, 'SOA needs a primary server, a mailbox, a serial, refresh, retry, expire and minimum, got "ns hm 1 2 3 4"'],
    ['no NS at the apex', ['$ORIGIN lab.test.', '$TTL 1', '@ SOA ns hm 1 2 3 4 5'], 3, 'the zone lab.test has no NS record at its apex'],
  ];

  test.each(cases)('%s', (_title, text, line, message) => {
    const err = errorOf(lines(...text));
    expect(err.file).toBe('lab/zones/t.zone');
    expect(err.line).toBe(line);
    expect(err.message).toBe(`lab/zones/t.zone:${line}: ${err.reason}`);
    expect(err.reason).toContain(message);
  });

  test('a file without an SOA points at line 1', () => {
    const err = errorOf(lines('$ORIGIN lab.test.', '$TTL 1', 'a A 10.0.0.1'));
    expect([err.line, err.reason]).toEqual([1, 'no SOA record: a zone file starts with exactly one, at the zone apex (@)']);
  });

  test('the exact message of the brief', () => {
    const err = errorOf(lines(...HEAD, 'x A 10.0.0.1', ...Array(6).fill('; filler'), '@ IN MX mail'));
    expect(err.message).toBe('lab/zones/t.zone:12: MX needs a preference and an exchange, got "mail"');
  });
});

describe('the lab zone files', () => {
  let zones: Zone[];
  beforeAll(async () => {
    zones = await loadZones({ zoneDir: path.join(LAB_DIR, 'zones') });
  });

  test('load: lab.test, example.test and the reverse zone', () => {
    expect(zones.map((z) => z.origin).sort()).toEqual(['0.28.172.in-addr.arpa', 'example.test', 'lab.test']);
  });

  test('every host of lab/README.md resolves to its address, and back', () => {
    const table = readFileSync(path.join(LAB_DIR, 'README.md'), 'utf8');
    const hosts = [...table.matchAll(/^\| ([a-z.]+\.test) \| (172\.28\.0\.\d+) \|$/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(hosts.length).toBeGreaterThanOrEqual(9);
    for (const [host, address] of hosts) {
      const forward = answer(query(host, 'A'), zones);
      expect([host, forward.answers?.map(dataOf)]).toEqual([host, [address]]);
      const reverse = answer(query(address.split('.').reverse().join('.') + '.in-addr.arpa', 'PTR'), zones);
      expect([address, reverse.answers?.map(dataOf)]).toEqual([address, [host]]);
    }
  });

  test('big.lab.test needs more than 512 bytes, but fits in 1232', async () => {
    const { encode } = await import('dns-packet');
    const size = encode(answer(query('big.lab.test', 'TXT'), zones)).length;
    expect(size).toBeGreaterThan(512);
    expect(size).toBeLessThan(1232);
  });
});

// ---------------------------------------------------------------------------
// answer(): the pure logic

function query(name: string, type: string, extra: Partial<Packet> = {}): Packet {
  return { id: 4242, type: 'query', flags: FLAG.RD, questions: [{ name, type: type as 'A', class: 'IN' }], ...extra };
}

const opt = (fields: Partial<OptAnswer> = {}): OptAnswer => ({
  name: '.',
  type: 'OPT',
  udpPayloadSize: 4096,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: 0,
  flag_do: false,
  options: [],
  ...fields,
});

const dataOf = (a: Answer | undefined): unknown => (a && 'data' in a ? a.data : undefined);
const ttlOf = (a: Answer | undefined): number | undefined => (a && 'ttl' in a ? a.ttl : undefined);
const rcode = (p: Packet): number => rcodeOf(p.flags ?? 0);
const has = (p: Packet, flag: number): boolean => ((p.flags ?? 0) & flag) !== 0;
const brief = (list: Answer[] | undefined): string[] => (list ?? []).map((a) => `${a.name} ${a.type} ${JSON.stringify('data' in a ? a.data : '')}`);

describe('answer()', () => {
  const labZone = parse(
    lines(
      '$ORIGIN lab.test.',
      '$TTL 3600',
      '@ SOA ns hostmaster 1 2 3 4 300',
      '  NS ns',
      '  MX 10 mail',
      'ns A 10.0.0.53',
      'mail A 10.0.0.25',
      '  AAAA fd00::25',
      'www A 10.0.0.80',
      'web CNAME www',
      'blog CNAME web',
      'away CNAME www.example.org.',
      'dangling CNAME nothing',
      'loop1 CNAME loop2',
      'loop2 CNAME loop1',
      'cross CNAME www.example.test.',
      '_submission._tcp SRV 0 1 587 mail',
      'txt TXT "hello"',
    ),
  );
  const exampleZone = parseZoneFile(
    lines('$ORIGIN example.test.', '$TTL 60', '@ 7200 SOA ns hm 1 2 3 4 600', '  NS ns', 'ns A 10.0.0.53', 'www A 10.0.0.90'),
    { file: 'example.zone' },
  );
  const zones = [labZone, exampleZone];

  test('an A query: AA set, RA clear, RD copied, ID and question echoed', () => {
    const q = query('www.lab.test', 'A');
    const r = answer(q, zones);
    expect(r.type).toBe('response');
    expect(r.id).toBe(4242);
    expect(r.questions).toEqual(q.questions);
    expect([has(r, FLAG.AA), has(r, FLAG.RA), has(r, FLAG.RD), rcode(r)]).toEqual([true, false, true, RCODE.NOERROR]);
    expect(brief(r.answers)).toEqual(['www.lab.test A "10.0.0.80"']);
    expect(r.answers![0]).toMatchObject({ ttl: 3600, class: 'IN' });
    expect(r.authorities).toEqual([]);
  });

  test('RD clear stays clear (dig +norec)', () => {
    const r = answer(query('www.lab.test', 'A', { flags: 0 }), zones);
    expect(has(r, FLAG.RD)).toBe(false);
  });

  test('the question keeps its letter case, and so does the answer owner (0x20)', () => {
    const q = query('WwW.LaB.tEsT', 'A');
    const r = answer(q, zones);
    expect(r.questions![0]!.name).toBe('WwW.LaB.tEsT');
    expect(brief(r.answers)).toEqual(['WwW.LaB.tEsT A "10.0.0.80"']);
  });

  test('a CNAME chain is followed inside the zone (RFC 1034 4.3.2 3a)', () => {
    const r = answer(query('blog.lab.test', 'A'), zones);
    expect(rcode(r)).toBe(RCODE.NOERROR);
    expect(brief(r.answers)).toEqual(['blog.lab.test CNAME "web.lab.test"', 'web.lab.test CNAME "www.lab.test"', 'www.lab.test A "10.0.0.80"']);
  });

  test('a CNAME is followed into another of our zones', () => {
    const r = answer(query('cross.lab.test', 'A'), zones);
    expect(brief(r.answers)).toEqual(['cross.lab.test CNAME "www.example.test"', 'www.example.test A "10.0.0.90"']);
  });

  test('a CNAME out of our zones: the CNAME alone, NOERROR', () => {
    const r = answer(query('away.lab.test', 'A'), zones);
    expect([rcode(r), brief(r.answers)]).toEqual([RCODE.NOERROR, ['away.lab.test CNAME "www.example.org"']]);
  });

  test('a CNAME to a missing name: NXDOMAIN for the last name, with the CNAME and the SOA (RFC 6604)', () => {
    const r = answer(query('dangling.lab.test', 'A'), zones);
    expect(rcode(r)).toBe(RCODE.NXDOMAIN);
    expect(brief(r.answers)).toEqual(['dangling.lab.test CNAME "nothing.lab.test"']);
    expect(r.authorities![0]!.type).toBe('SOA');
  });

  test('a CNAME loop ends', () => {
    const r = answer(query('loop1.lab.test', 'A'), zones);
    expect(rcode(r)).toBe(RCODE.NOERROR);
    expect(r.answers!.length).toBeGreaterThan(1);
    expect(r.answers!.length).toBeLessThanOrEqual(10);
  });

  test('asking for the CNAME itself does not follow it', () => {
    expect(brief(answer(query('web.lab.test', 'CNAME'), zones).answers)).toEqual(['web.lab.test CNAME "www.lab.test"']);
  });

  test('NXDOMAIN carries the SOA, TTL = min(SOA TTL, minimum) (RFC 2308 3)', () => {
    const r = answer(query('nope.lab.test', 'A'), zones);
    expect([rcode(r), has(r, FLAG.AA), r.answers]).toEqual([RCODE.NXDOMAIN, true, []]);
    expect(r.authorities).toHaveLength(1);
    expect(r.authorities![0]).toMatchObject({ name: 'lab.test', type: 'SOA', ttl: 300, data: { mname: 'ns.lab.test', minimum: 300 } });
    // SOA TTL 7200, minimum 600: the minimum wins
    expect(ttlOf(answer(query('nope.example.test', 'A'), zones).authorities![0])).toBe(600);
    // the other way round: the SOA's own TTL (60) is smaller than its minimum (600)
    const example = parseZoneFile(lines('$ORIGIN e.test.', '@ 60 SOA ns hm 1 2 3 4 600', '@ 60 NS ns'), { file: 'e.zone' });
    expect(ttlOf(answer(query('nope.e.test', 'A'), [example]).authorities![0])).toBe(60);
  });

  test('NODATA: NOERROR, no answer, the SOA in authority (RFC 2308 2.2)', () => {
    const r = answer(query('www.lab.test', 'AAAA'), zones);
    expect([rcode(r), r.answers, r.authorities![0]!.type]).toEqual([RCODE.NOERROR, [], 'SOA']);
  });

  test('an empty non-terminal (_tcp.lab.test) is NODATA, not NXDOMAIN (RFC 8020)', () => {
    const r = answer(query('_tcp.lab.test', 'A'), zones);
    expect([rcode(r), r.answers, r.authorities![0]!.type]).toEqual([RCODE.NOERROR, [], 'SOA']);
  });

  test('a name outside our zones is REFUSED, without AA', () => {
    const q = query('www.example.com', 'A');
    const r = answer(q, zones);
    expect([rcode(r), has(r, FLAG.AA), r.answers, r.authorities, r.questions]).toEqual([RCODE.REFUSED, false, [], [], q.questions]);
    expect(rcode(answer(query('test', 'A'), zones))).toBe(RCODE.REFUSED);
    expect(rcode(answer(query('.', 'NS'), zones))).toBe(RCODE.REFUSED);
  });

  test('ANY gets one synthesized HINFO "RFC8482" (RFC 8482 4.2)', () => {
    const r = answer(query('lab.test', 'ANY'), zones);
    expect(rcode(r)).toBe(RCODE.NOERROR);
    expect(r.answers).toEqual([{ name: 'lab.test', type: 'HINFO', class: 'IN', ttl: 300, data: { cpu: 'RFC8482', os: '' } }]);
    expect(rcode(answer(query('nope.lab.test', 'ANY'), zones))).toBe(RCODE.NXDOMAIN);
  });

  test('MX: the exchange\'s A and AAAA go into the additional section', () => {
    const r = answer(query('lab.test', 'MX'), zones);
    expect(brief(r.answers)).toEqual(['lab.test MX {"preference":10,"exchange":"mail.lab.test"}']);
    expect(brief(r.additionals)).toEqual(['mail.lab.test A "10.0.0.25"', 'mail.lab.test AAAA "fd00::25"']);
  });

  test('SRV: the target\'s addresses in additional', () => {
    const r = answer(query('_submission._tcp.lab.test', 'SRV'), zones);
    expect(dataOf(r.answers![0])).toEqual({ priority: 0, weight: 1, port: 587, target: 'mail.lab.test' });
    expect(brief(r.additionals)).toEqual(['mail.lab.test A "10.0.0.25"', 'mail.lab.test AAAA "fd00::25"']);
  });

  test('NS at the apex: the NS set, with the server\'s address', () => {
    const r = answer(query('lab.test', 'NS'), zones);
    expect(brief(r.answers)).toEqual(['lab.test NS "ns.lab.test"']);
    expect(brief(r.additionals)).toEqual(['ns.lab.test A "10.0.0.53"']);
  });

  test('SOA and TXT queries', () => {
    expect(answer(query('lab.test', 'SOA'), zones).answers![0]!.type).toBe('SOA');
    expect(dataOf(answer(query('txt.lab.test', 'TXT'), zones).answers![0])).toEqual(['hello']);
  });

  test('an unknown opcode is NOTIMP, with the opcode and the question copied', () => {
    const q = query('www.lab.test', 'A', { flags: (OPCODE.UPDATE << 11) | FLAG.RD });
    const r = answer(q, zones);
    expect([rcode(r), opcodeOf(r.flags!), r.answers, r.questions]).toEqual([RCODE.NOTIMP, OPCODE.UPDATE, [], q.questions]);
    expect(rcode(answer(query('www.lab.test', 'A', { flags: OPCODE.STATUS << 11 }), zones))).toBe(RCODE.NOTIMP);
  });

  test('not exactly one question is FORMERR', () => {
    expect(rcode(answer(query('x', 'A', { questions: [] }), zones))).toBe(RCODE.FORMERR);
    const two = answer(query('x', 'A', { questions: [{ name: 'www.lab.test', type: 'A' }, { name: 'ns.lab.test', type: 'A' }] }), zones);
    expect([rcode(two), two.id, two.answers]).toEqual([RCODE.FORMERR, 4242, []]);
  });

  test('class CH and zone transfers are REFUSED', () => {
    expect(rcode(answer({ id: 1, flags: 0, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] }, zones))).toBe(RCODE.REFUSED);
    expect(rcode(answer(query('lab.test', 'AXFR'), zones))).toBe(RCODE.REFUSED);
  });

  describe('EDNS (RFC 6891)', () => {
    test('no OPT in the query: none in the reply', () => {
      expect(answer(query('www.lab.test', 'A'), zones).additionals).toEqual([]);
    });

    test('an OPT in the query: one in the reply, with our payload size and the DO bit copied', () => {
      const r = answer(query('www.lab.test', 'A', { additionals: [opt({ flags: 1 << 15 })] }), zones, { udpPayloadSize: 1400 });
      const o = r.additionals!.find((a): a is OptAnswer => a.type === 'OPT')!;
      expect(o).toMatchObject({ name: '.', udpPayloadSize: 1400, ednsVersion: 0, extendedRcode: 0, flags: 1 << 15 });
    });

    test('EDNS version 1 gets BADVERS (16: 1 in the OPT, 0 in the header)', () => {
      const r = answer(query('www.lab.test', 'A', { additionals: [opt({ ednsVersion: 1 })] }), zones);
      const o = r.additionals!.find((a): a is OptAnswer => a.type === 'OPT')!;
      expect([rcode(r), o.extendedRcode, r.answers]).toEqual([0, 1, []]);
    });

    test('two OPT records: FORMERR', () => {
      expect(rcode(answer(query('www.lab.test', 'A', { additionals: [opt(), opt()] }), zones))).toBe(RCODE.FORMERR);
    });
  });

  test('findZone picks the longest matching origin', () => {
    const sub = parseZoneFile(lines('$ORIGIN sub.lab.test.', '$TTL 1', '@ SOA ns hm 1 2 3 4 5', '@ NS ns'), { file: 's.zone' });
    expect(findZone([labZone, sub], 'A.Sub.Lab.Test')).toBe(sub);
    expect(findZone([labZone, sub], 'lab.test')).toBe(labZone);
    expect(findZone([labZone, sub], 'xlab.test')).toBeUndefined();
  });
});

describe('UDP size limits and replies without a parsed query', () => {
  test('512 without EDNS; with EDNS the client\'s size, between 512 and our maximum', () => {
    expect(udpPayloadLimit(query('a', 'A'), 1232)).toBe(512);
    expect(udpPayloadLimit(query('a', 'A', { additionals: [opt({ udpPayloadSize: 4096 })] }), 1232)).toBe(1232);
    expect(udpPayloadLimit(query('a', 'A', { additionals: [opt({ udpPayloadSize: 800 })] }), 1232)).toBe(800);
    expect(udpPayloadLimit(query('a', 'A', { additionals: [opt({ udpPayloadSize: 100 })] }), 1232)).toBe(512);
  });

  test('truncate(): TC set, question kept, records dropped but the OPT', () => {
    const full: Packet = {
      id: 7,
      type: 'response',
      flags: FLAG.AA,
      questions: [{ name: 'big.lab.test', type: 'TXT' }],
      answers: [{ name: 'big.lab.test', type: 'TXT', data: ['x'] }],
      authorities: [{ name: 'lab.test', type: 'NS', data: 'ns.lab.test' }],
      additionals: [{ name: 'ns.lab.test', type: 'A', data: '10.0.0.1' }, opt()],
    };
    const t = truncate(full);
    expect([t.id, has(t, FLAG.TC), has(t, FLAG.AA), t.questions, t.answers, t.authorities]).toEqual([7, true, true, full.questions, [], []]);
    expect(t.additionals!.map((a) => a.type)).toEqual(['OPT']);
  });

  test('headerOnlyReply(): the ID, opcode and RD of the query, QR and the rcode', () => {
    const header = Buffer.from([0xbe, 0xef, 0x29, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // opcode 5, RD
    const r = headerOnlyReply(header, RCODE.FORMERR);
    expect([r.id, r.type, opcodeOf(r.flags!), has(r, FLAG.RD), rcode(r), r.questions]).toEqual([0xbeef, 'response', 5, true, RCODE.FORMERR, undefined]);
  });
});

describe('TCP framing (RFC 1035 4.2.2)', () => {
  const msg = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

  test('whole messages are cut out, in order', () => {
    const { frames, rest, oversized } = splitFrames(Buffer.concat([frame(msg(3, 1)), frame(msg(5, 2))]));
    expect(frames).toEqual([msg(3, 1), msg(5, 2)]);
    expect([rest.length, oversized]).toEqual([0, false]);
  });

  test('an unfinished message stays in rest, and completes with the next read', () => {
    const wire = Buffer.concat([frame(msg(3, 1)), frame(msg(5, 2))]);
    const first = splitFrames(wire.subarray(0, 7));
    expect(first.frames).toEqual([msg(3, 1)]);
    expect(first.rest).toEqual(wire.subarray(5, 7));
    const second = splitFrames(Buffer.concat([first.rest, wire.subarray(7)]));
    expect([second.frames, second.rest.length]).toEqual([[msg(5, 2)], 0]);
  });

  test('a lone first byte of a length prefix waits for the second', () => {
    expect(splitFrames(Buffer.from([0]))).toEqual({ frames: [], rest: Buffer.from([0]), oversized: false });
  });

  test('a zero-length message is a frame (empty)', () => {
    expect(splitFrames(Buffer.from([0, 0])).frames).toEqual([Buffer.alloc(0)]);
  });

  test('a length over the maximum is reported, after the frames before it', () => {
    const wire = Buffer.concat([frame(msg(2, 9)), Buffer.from([0x40, 0x00])]);
    const { frames, oversized } = splitFrames(wire, 1024);
    expect([frames, oversized]).toEqual([[msg(2, 9)], true]);
  });
});
