/**
 * Bad input gets a clear answer (or is dropped) and loses nothing: after each case
 * the server still answers a good query.
 */
import { randomBytes } from 'node:crypto';
import { decode, encode } from 'dns-packet';
import { OPCODE, RCODE, opcodeOf, rcodeOf } from '../../../services/dns/codes';
import { frame } from '../../../services/dns/framing';
import { RunningServer, TcpClient, UdpClient, query, startLab, tcpQuery, udpQuery } from './clients';

let lab: RunningServer;

beforeAll(async () => {
  lab = await startLab({ tcpIdleTimeoutMs: 200, maxTcpMessage: 1024 });
});

afterAll(async () => {
  await lab.server.close();
});

/** The server still works: a good query over UDP and over TCP. */
async function stillAnswers(): Promise<void> {
  const udp = await udpQuery(lab.port, query('www.lab.test', 'A'));
  expect([rcodeOf(udp.flags!), udp.answers!.length]).toEqual([RCODE.NOERROR, 1]);
  const tcp = await tcpQuery(lab.port, query('mail.lab.test', 'A'));
  expect([rcodeOf(tcp.flags!), tcp.answers!.length]).toEqual([RCODE.NOERROR, 1]);
}

const logged = (pattern: RegExp): boolean => lab.logs.lines.some((line) => pattern.test(line));

describe('over UDP', () => {
  test('a 5-byte packet is dropped: no reply, a warn line', async () => {
    const client = new UdpClient(lab.port);
    client.send(Buffer.from([1, 2, 3, 4, 5]));
    const good = query('www.lab.test', 'A', { id: 0x5151 });
    client.send(good);
    // The only datagram back is the good query's reply: nothing came for the short one.
    const reply = decode(await client.next());
    expect(reply.id).toBe(0x5151);
    expect(client.received).toHaveLength(1);
    await client.close();
    expect(logged(/ dns warn dropped client=127\.0\.0\.1:\d+ transport=udp reason="shorter than a DNS header" bytes=5/)).toBe(true);
    await stillAnswers();
  });

  test('a header and 38 random bytes: FORMERR with the ID and opcode, header only', async () => {
    const header = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]); // 65535 questions promised
    const client = new UdpClient(lab.port);
    client.send(Buffer.concat([header, randomBytes(38)]));
    const raw = await client.next();
    await client.close();
    expect(raw.length).toBe(12);
    const reply = decode(raw);
    expect([reply.id, reply.type, rcodeOf(reply.flags!), opcodeOf(reply.flags!), reply.flag_rd, reply.questions]).toEqual([0xabcd, 'response', RCODE.FORMERR, OPCODE.QUERY, true, []]);
    expect(logged(/ dns warn malformed .*bytes=50 .*rcode=FORMERR/)).toBe(true);
    await stillAnswers();
  });

  test('an unknown opcode (STATUS): NOTIMP', async () => {
    const reply = await udpQuery(lab.port, query('www.lab.test', 'A', { id: 77, flags: OPCODE.STATUS << 11 }));
    expect([reply.id, rcodeOf(reply.flags!), opcodeOf(reply.flags!), reply.answers]).toEqual([77, RCODE.NOTIMP, OPCODE.STATUS, []]);
    await stillAnswers();
  });

  test('no question at all: FORMERR', async () => {
    const reply = await udpQuery(lab.port, { id: 9, type: 'query', flags: 0, questions: [] });
    expect([reply.id, rcodeOf(reply.flags!)]).toEqual([9, RCODE.FORMERR]);
    await stillAnswers();
  });

  test('a response (QR set) is not answered', async () => {
    const client = new UdpClient(lab.port);
    client.send(encode({ ...query('www.lab.test', 'A'), type: 'response' }));
    const good = query('www.lab.test', 'A', { id: 0x6161 });
    client.send(good);
    expect(decode(await client.next()).id).toBe(0x6161);
    expect(client.received).toHaveLength(1);
    await client.close();
    expect(logged(/ dns warn dropped .*reason="a response, not a query"/)).toBe(true);
  });
});

describe('over TCP', () => {
  test('a length prefix that lies: closed after tcpIdleTimeoutMs, logged', async () => {
    const client = await TcpClient.connect(lab.port);
    client.write(Buffer.concat([Buffer.from([0x00, 0x40]), Buffer.alloc(10)])); // promises 64 bytes, sends 10
    await client.closed();
    expect(logged(/ dns warn connection closed .*reason="incomplete message" bytes=12/)).toBe(true);
    await stillAnswers();
  });

  test('a length prefix over maxTcpMessage: closed at once', async () => {
    const client = await TcpClient.connect(lab.port);
    client.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    await client.closed();
    expect(logged(/ dns warn connection closed .*reason="length prefix over maxTcpMessage" length=65535 limit=1024/)).toBe(true);
    await stillAnswers();
  });

  test('garbage inside a frame: FORMERR, and the connection goes on', async () => {
    const client = await TcpClient.connect(lab.port);
    const header = Buffer.from([0x12, 0x34, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    client.write(frame(Buffer.concat([header, randomBytes(20)])));
    const bad = decode(await client.next());
    expect([bad.id, rcodeOf(bad.flags!)]).toEqual([0x1234, RCODE.FORMERR]);
    const good = await client.ask(query('www.lab.test', 'A', { id: 5 }));
    expect([good.id, good.answers!.length]).toEqual([5, 1]);
    await client.close();
  });

  test('a frame shorter than a header is dropped, the connection goes on', async () => {
    const client = await TcpClient.connect(lab.port);
    client.write(frame(Buffer.from([1, 2, 3])));
    const good = await client.ask(query('www.lab.test', 'A', { id: 6 }));
    expect(good.id).toBe(6);
    await client.close();
  });

  test('over maxTcpConnections (3): the next connection is closed and logged; the others still work', async () => {
    // A server of its own, so connections of other tests do not count.
    const small = await startLab({ maxTcpConnections: 3 });
    try {
      const open = await Promise.all([1, 2, 3].map(() => TcpClient.connect(small.port)));
      // A reply on each proves the server has taken all three connections.
      for (const [i, client] of open.entries()) expect((await client.ask(query('www.lab.test', 'A', { id: i }))).id).toBe(i);
      const extra = await TcpClient.connect(small.port);
      await extra.closed();
      expect(small.logs.lines.some((l) => / dns warn connection refused .*reason="too many TCP connections" limit=3/.test(l))).toBe(true);
      // The three open connections still work, and so does UDP.
      for (const [i, client] of open.entries()) expect((await client.ask(query('shop.lab.test', 'A', { id: 40 + i }))).id).toBe(40 + i);
      expect((await udpQuery(small.port, query('www.lab.test', 'A'))).answers).toHaveLength(1);
      await Promise.all(open.map((client) => client.close()));
    } finally {
      await small.server.close();
    }
  });
});

describe('questions that cannot be echoed exactly', () => {
  test('a label of bytes that are not UTF-8: FORMERR, not a garbled echo', async () => {
    const header = Buffer.from([0x0b, 0xad, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const name = Buffer.from([3, 0xff, 0xfe, 0xfd, 3, 0x6c, 0x61, 0x62, 0]); // \255\254\253.lab
    const client = new UdpClient(lab.port);
    client.send(Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])]));
    const reply = decode(await client.next());
    await client.close();
    expect([reply.id, rcodeOf(reply.flags!)]).toEqual([0x0bad, RCODE.FORMERR]);
    await stillAnswers();
  });

  test('an unknown class (9) is no malformed query: REFUSED, the question echoed byte for byte', async () => {
    const header = Buffer.from([0x0c, 0xad, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const name = Buffer.from([3, 0x77, 0x77, 0x77, 3, 0x6c, 0x61, 0x62, 4, 0x74, 0x65, 0x73, 0x74, 0]); // www.lab.test
    const question = Buffer.concat([name, Buffer.from([0, 1, 0, 9])]);
    const raw = await sendRaw(Buffer.concat([header, question]));
    const reply = decode(raw);
    expect([reply.id, rcodeOf(reply.flags!), reply.answers]).toEqual([0x0cad, RCODE.REFUSED, []]);
    expect(raw.readUInt16BE(4)).toBe(1); // QDCOUNT
    expect(raw.subarray(12, 12 + question.length)).toEqual(question); // class 9 is 9 again, not 0
    expect(logged(/ dns info query .*name=www\.lab\.test type=A class=CLASS9 rcode=REFUSED/)).toBe(true);
    // the same question in class IN is answered
    const ok = decode(await sendRaw(Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])])));
    expect([rcodeOf(ok.flags!), ok.answers!.length]).toEqual([RCODE.NOERROR, 1]);
  });
});

async function sendRaw(bytes: Buffer): Promise<Buffer> {
  const client = new UdpClient(lab.port);
  try {
    client.send(bytes);
    return await client.next();
  } finally {
    await client.close();
  }
}
