/**
 * A query with bytes after its last section (the question, and the OPT record of an
 * EDNS query) is malformed: its counts say where the message ends, and something else
 * follows. BIND answers it FORMERR (RFC 1035 4.1.1 "format error", logged as "trailing
 * garbage"); the lab's server does the same over UDP and TCP, and answers the query
 * without them. NSD 4.6 (run here on loopback, on a copy of lab.test's zone) reads the
 * question and ignores the rest: measured, it answers NOERROR; the lab follows BIND, as
 * issue 16 asks, since a message whose counts do not match its length cannot be trusted.
 */
import { decode, encode } from 'dns-packet';
import { RCODE, rcodeOf } from '../../../services/dns/codes';
import { frame } from '../../../services/dns/framing';
import { run } from '../../helpers/process';
import { edns, labAndNsd, query, TcpClient, UdpClient } from './clients';

const servers = labAndNsd();

const TRAILING = Buffer.from([0xde, 0xad, 0xbe]);

/** A query's bytes with TRAILING after them. */
function withTrailing(name: string, ednsQuery: boolean): Buffer {
  return Buffer.concat([encode(query(name, 'A', ednsQuery ? { additionals: edns(1232) } : {})), TRAILING]);
}

async function overUdp(port: number, bytes: Buffer): Promise<Buffer> {
  const client = new UdpClient(port);
  try {
    client.send(bytes);
    return await client.next();
  } finally {
    await client.close();
  }
}

describe.each([
  ['a plain query', false],
  ['an EDNS query (trailing bytes after its OPT record)', true],
])('%s with 3 bytes after it', (_what, ednsQuery) => {
  test('UDP: FORMERR from the lab\'s server, with the query\'s ID; NSD reads past them (NOERROR)', async () => {
    const bytes = withTrailing('www.lab.test', ednsQuery);
    const id = bytes.readUInt16BE(0);
    const ours = decode(await overUdp(servers.lab.port, bytes));
    expect([rcodeOf(ours.flags!), ours.id]).toEqual([RCODE.FORMERR, id]);
    await servers.lab.logs.waitFor(/ dns warn malformed .*error="3 byte\(s\) after the last section" rcode=FORMERR/);
    const reference = decode(await overUdp(servers.nsd.port, bytes));
    expect([rcodeOf(reference.flags!), reference.id]).toEqual([RCODE.NOERROR, id]);
  });

  test('TCP: FORMERR from the lab\'s server; the same connection then answers a proper query', async () => {
    const client = await TcpClient.connect(servers.lab.port);
    try {
      client.write(frame(withTrailing('www.lab.test', ednsQuery)));
      expect(rcodeOf(decode(await client.next()).flags!)).toBe(RCODE.FORMERR);
      const ok = await client.ask(query('www.lab.test', 'A'));
      expect([rcodeOf(ok.flags!), ok.answers!.length]).toEqual([RCODE.NOERROR, 1]);
    } finally {
      await client.close();
    }
  });
});

test('kdig and dig, which send no trailing bytes, are answered as before, over UDP and TCP', async () => {
  for (const args of [['+notcp'], ['+tcp']]) {
    const { stdout } = await run('kdig', ['@127.0.0.1', '-p', String(servers.lab.port), ...args, 'www.lab.test', 'A']);
    expect(stdout).toMatch(/status: NOERROR/);
  }
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(servers.lab.port), '+tcp', 'www.lab.test', 'A']);
  expect(stdout).toMatch(/status: NOERROR/);
});
