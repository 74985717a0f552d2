/**
 * The DNS service on a real port, asked by real clients: dns-packet over UDP and TCP,
 * and dig. The server serves the lab's own zone files (lab/zones).
 */
import { encode, type Answer, type TxtAnswer } from 'dns-packet';
import { FLAG, RCODE, rcodeOf } from '../../../services/dns/codes';
import { frame } from '../../../services/dns/framing';
import { RunningServer, TcpClient, UdpClient, dig, digHeader, digSection, edns, query, startLab, tcpQuery, udpQuery } from './clients';

let lab: RunningServer;

beforeAll(async () => {
  lab = await startLab();
});

afterAll(async () => {
  await lab.server.close();
});

const rcode = (p: { flags?: number }): number => rcodeOf(p.flags ?? 0);
const dataOf = (a: Answer | undefined): unknown => (a && 'data' in a ? a.data : undefined);

describe('over UDP (dns-packet)', () => {
  test('A for www.lab.test: authoritative, ID and question echoed', async () => {
    const q = query('WWW.lab.TEST', 'A', { id: 0x1234, flags: FLAG.RD });
    const r = await udpQuery(lab.port, q);
    expect([r.id, r.type, rcode(r), r.flag_aa, r.flag_ra, r.flag_rd, r.flag_tc]).toEqual([0x1234, 'response', RCODE.NOERROR, true, false, true, false]);
    expect(r.questions).toEqual([{ name: 'WWW.lab.TEST', type: 'A', class: 'IN' }]);
    expect(r.answers).toEqual([expect.objectContaining({ name: 'WWW.lab.TEST', type: 'A', ttl: 3600, data: '172.28.0.80' })]);
  });

  test('MX with the exchange in the additional section', async () => {
    const r = await udpQuery(lab.port, query('lab.test', 'MX'));
    expect(r.answers!.map(dataOf)).toEqual([{ preference: 10, exchange: 'mail.lab.test' }]);
    expect(r.additionals!.map((a) => [a.name, a.type, 'data' in a && a.data])).toEqual([['mail.lab.test', 'A', '172.28.0.25']]);
  });

  test('a CNAME across zones: www.example.test -> www.lab.test', async () => {
    const r = await udpQuery(lab.port, query('www.example.test', 'A'));
    expect(r.answers!.map((a) => a.type)).toEqual(['CNAME', 'A']);
  });

  test('NXDOMAIN with the SOA in the authority section', async () => {
    const r = await udpQuery(lab.port, query('nothing.lab.test', 'A'));
    expect([rcode(r), r.answers, r.authorities!.map((a) => [a.type, 'ttl' in a && a.ttl])]).toEqual([RCODE.NXDOMAIN, [], [['SOA', 300]]]);
  });

  test('REFUSED outside the lab zones', async () => {
    const r = await udpQuery(lab.port, query('example.com', 'A'));
    expect([rcode(r), r.flag_aa]).toEqual([RCODE.REFUSED, false]);
  });

  test('big.lab.test without EDNS: truncated (TC, the question, no records)', async () => {
    const r = await udpQuery(lab.port, query('big.lab.test', 'TXT'));
    expect([r.flag_tc, rcode(r), r.questions!.length, r.answers, r.authorities, r.additionals]).toEqual([true, RCODE.NOERROR, 1, [], [], []]);
    expect(lab.logs.lines.some((l) => / query .*name=big\.lab\.test .*answers=0 truncated=true/.test(l))).toBe(true);
  });

  test('big.lab.test with EDNS 4096: whole (the server caps at 1232, enough here), OPT in the reply', async () => {
    const r = await udpQuery(lab.port, query('big.lab.test', 'TXT', { additionals: edns(4096) }));
    expect(r.flag_tc).toBe(false);
    expect(((r.answers![0] as TxtAnswer).data as Buffer[]).length).toBe(5);
    expect(r.additionals).toEqual([expect.objectContaining({ type: 'OPT', udpPayloadSize: 1232 })]);
  });

  test('EDNS with a small buffer (512) still truncates', async () => {
    const r = await udpQuery(lab.port, query('big.lab.test', 'TXT', { additionals: edns(512) }));
    expect([r.flag_tc, r.answers, r.additionals!.map((a) => a.type)]).toEqual([true, [], ['OPT']]);
  });

  test('ANY: the RFC 8482 HINFO', async () => {
    const r = await udpQuery(lab.port, query('lab.test', 'ANY'));
    expect(r.answers).toEqual([expect.objectContaining({ type: 'HINFO', data: { cpu: 'RFC8482', os: '' } })]);
  });
});

describe('over TCP (dns-packet, RFC 7766)', () => {
  test('big.lab.test whole, no truncation', async () => {
    const r = await tcpQuery(lab.port, query('big.lab.test', 'TXT'));
    expect([r.flag_tc, r.flag_aa, r.answers!.length]).toEqual([false, true, 1]);
  });

  test('several queries on one connection, in one write, answered in order', async () => {
    const client = await TcpClient.connect(lab.port);
    const names = ['www.lab.test', 'mail.lab.test', 'nope.lab.test', 'ftp.lab.test'];
    client.write(Buffer.concat(names.map((name, i) => frame(encode(query(name, 'A', { id: 100 + i }))))));
    const replies = [];
    for (let i = 0; i < names.length; i++) replies.push(await client.next());
    const { decode } = await import('dns-packet');
    expect(replies.map((b) => decode(b)).map((r) => [r.id, r.questions![0]!.name, rcode(r)])).toEqual([
      [100, 'www.lab.test', RCODE.NOERROR],
      [101, 'mail.lab.test', RCODE.NOERROR],
      [102, 'nope.lab.test', RCODE.NXDOMAIN],
      [103, 'ftp.lab.test', RCODE.NOERROR],
    ]);
    await client.close();
  });

  test('a query split across writes (even inside its length prefix) is put back together', async () => {
    const client = await TcpClient.connect(lab.port);
    const first = frame(encode(query('www.lab.test', 'A', { id: 1 })));
    const second = frame(encode(query('shop.lab.test', 'A', { id: 2 })));
    const third = frame(encode(query('app.lab.test', 'A', { id: 3 })));
    // The first query whole plus one byte of the second: the reply to the first proves
    // the server has read (and kept) the partial second one.
    client.write(Buffer.concat([first, second.subarray(0, 1)]));
    expect((await client.next()).readUInt16BE(0)).toBe(1);
    client.write(Buffer.concat([second.subarray(1, 9)]));
    client.write(Buffer.concat([second.subarray(9), third.subarray(0, 5)]));
    expect((await client.next()).readUInt16BE(0)).toBe(2);
    client.write(third.subarray(5));
    const { decode } = await import('dns-packet');
    const r = decode(await client.next());
    expect([r.id, dataOf(r.answers![0])]).toEqual([3, '172.28.0.82']);
    await client.close();
  });
});

describe('with dig', () => {
  test('+norec www.lab.test: NOERROR, aa, no rd, no ra', async () => {
    const out = await dig(lab.port, '+norec', 'www.lab.test', 'A');
    const header = digHeader(out);
    expect(header.status).toBe('NOERROR');
    expect(header.flags).toContain('aa');
    expect(header.flags).not.toContain('rd');
    expect(header.flags).not.toContain('ra');
    expect(digSection(out, 'ANSWER')).toEqual([['www.lab.test.', '3600', 'IN', 'A', '172.28.0.80']]);
  });

  test('NXDOMAIN with the SOA in AUTHORITY', async () => {
    const out = await dig(lab.port, '+norec', 'nothing.lab.test', 'A');
    expect(digHeader(out).status).toBe('NXDOMAIN');
    expect(digSection(out, 'AUTHORITY')).toEqual([
      ['lab.test.', '300', 'IN', 'SOA', 'ns.lab.test.', 'hostmaster.lab.test.', '2026112101', '3600', '900', '604800', '300'],
    ]);
  });

  test('REFUSED for example.com', async () => {
    const out = await dig(lab.port, '+norec', 'example.com', 'A');
    expect(digHeader(out).status).toBe('REFUSED');
  });

  test('MX answer with the exchange address in ADDITIONAL', async () => {
    const out = await dig(lab.port, '+norec', 'lab.test', 'MX');
    expect(digSection(out, 'ANSWER')).toEqual([['lab.test.', '3600', 'IN', 'MX', '10', 'mail.lab.test.']]);
    expect(digSection(out, 'ADDITIONAL')).toEqual([['mail.lab.test.', '300', 'IN', 'A', '172.28.0.25']]);
  });

  test('a CNAME chain: blog -> web -> www', async () => {
    const out = await dig(lab.port, '+norec', '+noall', '+answer', 'blog.lab.test', 'A');
    expect(digSection(';; ANSWER SECTION:\n' + out, 'ANSWER').map((r) => [r[0], r[3], r[4]])).toEqual([
      ['blog.lab.test.', 'CNAME', 'web.lab.test.'],
      ['web.lab.test.', 'CNAME', 'www.lab.test.'],
      ['www.lab.test.', 'A', '172.28.0.80'],
    ]);
  });

  test('-x 172.28.0.80: the PTR in the reverse zone', async () => {
    const out = await dig(lab.port, '+norec', '-x', '172.28.0.80');
    expect(digHeader(out).flags).toContain('aa');
    expect(digSection(out, 'ANSWER')).toEqual([['80.0.28.172.in-addr.arpa.', '3600', 'IN', 'PTR', 'www.lab.test.']]);
  });

  test('+tcp', async () => {
    const before = lab.logs.lines.length;
    const out = await dig(lab.port, '+tcp', '+norec', 'ftp.lab.test', 'A');
    expect(digSection(out, 'ANSWER')).toEqual([['ftp.lab.test.', '3600', 'IN', 'A', '172.28.0.21']]);
    expect(lab.logs.lines.slice(before).some((l) => l.includes(' transport=tcp name=ftp.lab.test type=A rcode=NOERROR answers=1'))).toBe(true);
  });

  test('big.lab.test over UDP with +ignore: the tc flag and no answer', async () => {
    const out = await dig(lab.port, '+norec', '+noedns', '+ignore', 'big.lab.test', 'TXT');
    const header = digHeader(out);
    expect(header.flags).toContain('tc');
    expect(header.answers).toBe(0);
  });

  test('big.lab.test without +ignore: dig retries over TCP and gets all of it', async () => {
    const out = await dig(lab.port, '+norec', '+noedns', 'big.lab.test', 'TXT');
    expect(out).toContain('Truncated, retrying in TCP mode');
    const header = digHeader(out);
    expect(header.flags).not.toContain('tc');
    expect(header.answers).toBe(1);
    expect(out).toContain('"5. This record is about 650 bytes long');
  });

  test('+bufsize=512 also truncates; dig\'s default EDNS size (1232) does not', async () => {
    expect(await dig(lab.port, '+norec', '+bufsize=512', 'big.lab.test', 'TXT')).toContain('Truncated, retrying in TCP mode');
    const whole = await dig(lab.port, '+norec', 'big.lab.test', 'TXT');
    expect(whole).not.toContain('Truncated');
    expect(digHeader(whole).answers).toBe(1);
  });

  test('ANY: one HINFO "RFC8482"', async () => {
    const out = await dig(lab.port, '+norec', 'lab.test', 'ANY');
    expect(digSection(out, 'ANSWER')).toEqual([['lab.test.', '300', 'IN', 'HINFO', '"RFC8482"', '""']]);
  });

  test('SRV and TXT with escapes', async () => {
    const srv = await dig(lab.port, '+norec', '+short', '_submission._tcp.lab.test', 'SRV');
    expect(srv.trim()).toBe('0 1 587 mail.lab.test.');
    const txt = await dig(lab.port, '+norec', '+short', 'hello.lab.test', 'TXT');
    expect(txt.trim()).toBe('"Welcome to wirelab, the \\"lab.test\\" network!" "A semicolon inside quotes; is text, not a comment."');
  });

  test('EDNS version 1: BADVERS', async () => {
    const out = await dig(lab.port, '+norec', '+edns=1', '+noednsneg', 'www.lab.test', 'A');
    expect(digHeader(out).status).toBe('BADVERS');
  });
});

describe('logging', () => {
  test('one info line per query, with client, transport, name, type, rcode and answers', async () => {
    const before = lab.logs.lines.length;
    const client = new UdpClient(lab.port);
    await client.ask(query('www.lab.test', 'A'));
    await client.ask(query('nope.lab.test', 'AAAA'));
    await client.ask(query('www.lab.test', 'MX'));
    await client.close();
    const lines = lab.logs.lines.slice(before).filter((l) => / dns info query /.test(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/ dns info query client=127\.0\.0\.1:\d+ transport=udp name=www\.lab\.test type=A rcode=NOERROR answers=1$/);
    expect(lines[1]).toMatch(/ name=nope\.lab\.test type=AAAA rcode=NXDOMAIN answers=0$/);
    expect(lines[2]).toMatch(/ name=www\.lab\.test type=MX rcode=NOERROR answers=0$/);
  });
});
