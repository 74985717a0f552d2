/**
 * The DNS server keeps the answers it worked out (maxCachedAnswers) and sends them again
 * for the same query. What a client sees must not change: its own ID, its own flags and
 * question back byte for byte, truncation by transport, a log line for every query.
 */
import { FLAG } from '../../../services/dns/codes';
import { edns, query, startLab, TcpClient, UdpClient, type RunningServer } from './clients';

let lab: RunningServer;
afterEach(async () => {
  await lab?.server.close();
});

/** A reply's bytes after its ID: what must be the same for the same question. */
const afterId = (reply: Buffer): string => reply.subarray(2).toString('hex');

test('the same query again: the same answer, with the ID of this query; every query is logged', async () => {
  lab = await startLab();
  const client = new UdpClient(lab.port);
  try {
    const replies: Buffer[] = [];
    for (const id of [0x0101, 0x0202, 0x0303]) {
      client.send(query('www.lab.test', 'A', { id, flags: FLAG.RD }));
      replies.push(await client.next());
    }
    expect(replies.map((r) => r.readUInt16BE(0))).toEqual([0x0101, 0x0202, 0x0303]);
    expect(new Set(replies.map(afterId)).size).toBe(1);
    await lab.logs.waitFor(/ info query client=127\.0\.0\.1:\d+ transport=udp name=www\.lab\.test type=A rcode=NOERROR answers=1$/, { count: 3 });
    expect(lab.logs.matching(/ info query .*name=www\.lab\.test type=A /)).toHaveLength(3);
  } finally {
    await client.close();
  }
});

test('what differs in the query differs in the answer: flags, the name as written, EDNS', async () => {
  lab = await startLab();
  const client = new UdpClient(lab.port);
  try {
    const ask = async (name: string, extra: Parameters<typeof query>[2]) => {
      client.send(query(name, 'A', extra));
      return client.next();
    };
    const rd = await ask('www.lab.test', { flags: FLAG.RD });
    const plain = await ask('www.lab.test', { flags: 0 });
    const shouting = await ask('WWW.LAB.TEST', { flags: 0 });
    const withEdns = await ask('www.lab.test', { flags: 0, additionals: edns(1232) });
    const rdAgain = await ask('www.lab.test', { flags: FLAG.RD });
    expect([rd, plain, shouting, withEdns].map((r) => (r.readUInt16BE(2) & FLAG.RD) !== 0)).toEqual([true, false, false, false]);
    expect(shouting.includes(Buffer.from('WWW'))).toBe(true); // the question as sent, not as first cached
    expect(new Set([rd, plain, shouting, withEdns].map(afterId)).size).toBe(4);
    expect(afterId(rdAgain)).toBe(afterId(rd));
  } finally {
    await client.close();
  }
});

test('truncation follows the transport: UDP without EDNS gets TC, TCP the whole answer, asked in turns', async () => {
  lab = await startLab();
  const udp = new UdpClient(lab.port);
  const tcp = await TcpClient.connect(lab.port);
  try {
    for (let round = 0; round < 2; round++) {
      const overUdp = await udp.ask(query('big.lab.test', 'TXT'));
      const overTcp = await tcp.ask(query('big.lab.test', 'TXT'));
      expect([overUdp.flag_tc, overUdp.answers!.length]).toEqual([true, 0]);
      expect([overTcp.flag_tc, overTcp.answers!.length]).toEqual([false, 1]);
    }
  } finally {
    await udp.close();
    await tcp.close();
  }
});

test('maxCachedAnswers 0 keeps nothing and still answers every query', async () => {
  lab = await startLab({ maxCachedAnswers: 0 });
  const client = new UdpClient(lab.port);
  try {
    for (const id of [1, 2]) expect((await client.ask(query('www.lab.test', 'A', { id }))).answers![0]).toMatchObject({ data: '172.28.0.80' });
  } finally {
    await client.close();
  }
});
