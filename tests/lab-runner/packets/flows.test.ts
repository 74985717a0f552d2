/**
 * Conversations, relative sequence numbers, handshakes, endings and retransmissions
 * against tshark's TCP analysis of the same real captures; choosing a step's packets
 * by its flows and time; placing application messages on their segments.
 */
import path from 'node:path';
import { encode } from 'dns-packet';
import { portFilter } from '../../../lab-runner/packets/capture';
import { nowMs } from '../../../lab-runner/wire';
import { conversations, packetInfo, packetsCarrying, type Conversation, type Endpoint } from '../../../lab-runner/packets/flows';
import { stepCapture } from '../../../lab-runner/packets/steps';
import type { WireEvent } from '../../../lab-runner/wire';
import { freePort } from '../../helpers/ports';
import { run } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { query, UdpClient } from '../../services/dns/clients';
import { curl } from '../../services/http/harness';
import { captureWhile, ncProbe, rootOnly, synRetransmission, tsharkRows, useScratch } from './helpers';

const lab = useScratch({ http: true, dns: true });

/** Per frame, what our flow analysis says, written as tshark's fields. */
function ourAnalysis(all: Conversation[]): Record<string, string>[] {
  const rows: Record<string, string>[] = [];
  for (const c of all) {
    for (const p of c.packets) {
      const tcp = c.transport === 'tcp';
      rows[p.decoded.packet.number - 1] = {
        'tcp.stream': tcp ? String(c.index) : '',
        'udp.stream': tcp ? '' : String(c.index),
        'tcp.seq': tcp ? String(p.seq) : '',
        'tcp.ack': tcp ? String(p.ack) : '',
        'tcp.nxtseq': tcp ? String(p.nextSeq) : '',
        'tcp.window_size': tcp ? String(p.window) : '',
        'tcp.analysis.retransmission': p.retransmission ? '1' : '',
        info: packetInfo(p),
      };
    }
  }
  return rows;
}

async function tsharkAnalysis(file: string): Promise<Record<string, string>[]> {
  // With the application protocols off, the Info column is TCP's and UDP's own. Of
  // Wireshark's analysis notes only "[TCP Retransmission]" is ours: the others are left out.
  const rows = await tsharkRows(file, ['tcp.stream', 'udp.stream', 'tcp.seq', 'tcp.ack', 'tcp.nxtseq', 'tcp.window_size', 'tcp.analysis.retransmission', '_ws.col.Info'], ['--disable-protocol', 'http', '--disable-protocol', 'dns']);
  return rows.map(({ '_ws.col.Info': info, ...row }) => ({ ...row, info: info!.replace(/\[TCP (?!Retransmission)[^\]]*\] /g, '') }));
}

rootOnly('conversations as tshark sees them', () => {
  test('HTTP keep-alive, a refused connection, DNS over UDP and TCP: streams, relative numbers, handshakes, endings', async () => {
    const file = path.join(lab.dir, 'mixed.pcapng');
    const capture = await captureWhile({ filter: portFilter([lab.http.port, lab.refused, lab.dns.port]), file }, async () => {
      expect((await curl('-o', '/dev/null', `${lab.http.base}/`, '-o', '/dev/null', `${lab.http.base}/api/notes`)).code).toBe(0);
      await ncProbe('127.0.0.1', lab.refused);
      await udpAsk(lab.dns.port, encode(query('www.lab.test', 'A')));
      expect((await run('dig', ['@127.0.0.1', '-p', String(lab.dns.port), '+tcp', '+time=5', 'lab.test', 'MX'])).code).toBe(0);
    });
    const all = conversations(capture.packets);
    expect(ourAnalysis(all)).toEqual(await tsharkAnalysis(file));

    const [httpConn, refusedConn, dnsTcp] = all.filter((c) => c.transport === 'tcp');
    expect(all.map((c) => `${c.transport} ${c.server.port}`)).toEqual([`tcp ${lab.http.port}`, `tcp ${lab.refused}`, `udp ${lab.dns.port}`, `tcp ${lab.dns.port}`]);
    // The handshake is the first three frames; both sides said FIN; no RST.
    expect(httpConn!.handshake).toEqual({ syn: 1, synAck: 2, ack: 3 });
    expect([typeof httpConn!.fin.client, typeof httpConn!.fin.server, httpConn!.reset]).toEqual(['number', 'number', undefined]);
    // Refused: a SYN answered by a RST from the server; no handshake.
    expect([refusedConn!.handshake, refusedConn!.reset?.by, refusedConn!.packets.length]).toEqual([undefined, 'server', 2]);
    expect(dnsTcp!.handshake).toBeDefined();
  });

  test('a SYN dropped by a listener whose queue is full is sent again: marked as tshark marks it', async () => {
    const file = path.join(lab.dir, 'retransmission.pcapng');
    const { capture } = await synRetransmission(file);
    const all = conversations(capture.packets);
    expect(ourAnalysis(all)).toEqual(await tsharkAnalysis(file));
    const second = all[1]!;
    expect(second.packets.map((p) => [p.decoded.tcp!.flagNames.join(), p.seq, p.retransmission])).toEqual([
      ['SYN', 0, false],
      ['SYN', 0, true],
    ]);
  }, 20000);
});

rootOnly("a step's packets: its flows, in its time", () => {
  test('two connections from the same local port, one after the other: each step gets its own, as many as tshark counts', async () => {
    const file = path.join(lab.dir, 'reuse.pcapng');
    const steps: { connect: WireEvent; from: number; to: number; afterFrame: number }[] = [];
    const localPort = await freePort(); // below the kernel's ephemeral range: no other connection is given it between our two uses
    const capture = await captureWhile({ filter: portFilter([lab.http.port]), file }, async (live) => {
      for (let i = 0; i < 2; i++) {
        const from = nowMs();
        const afterFrame = live.packets.length;
        const ends = await httpOnce(lab.http.port, localPort);
        // The server closed first, so it, not the client, waits in TIME_WAIT: the client may take the same port again.
        await live.waitFor((packets) => closed(conversations(packets)[i]), 5000, `connection ${i + 1} to close`);
        // The connect event the runner records: the socket's two ends as the kernel numbers them (wire/tcp.ts socketEnds).
        steps.push({ connect: { at: 0, kind: 'connect', from: 'client', to: 'www.lab.test:80', protocol: 'http', transport: 'tcp', summary: 'connect', ...ends }, from, to: nowMs(), afterFrame });
      }
    });
    const all = conversations(capture.packets);
    expect(all.length).toBe(2);
    // The second SYN on the same ports starts a new stream, for tshark too ("TCP Port numbers reused").
    expect(ourAnalysis(all)).toEqual(await tsharkAnalysis(file));
    for (const [i, step] of steps.entries()) {
      const { packets } = stepCapture(all, [step.connect], { from: step.from, to: step.to, afterFrame: step.afterFrame }, step.from, capture.interfaces);
      expect(packets.rows.map((r) => r.frame)).toEqual(all[i]!.packets.map((p) => p.decoded.packet.number));
      expect(packets.conversations.map((c) => [c.index, c.serverLabel, c.handshake, c.fin])).toEqual([[i, 'www.lab.test:80', true, ['client', 'server']]]);
      // What a step's report carries: plain rows, timed from the step's start.
      const rows = packets.rows;
      expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
      expect(rows.every((r) => r.at >= 0 && r.at <= step.to - step.from)).toBe(true);
      expect(rows.slice(0, 3).map((r) => [r.from, r.flags.join()])).toEqual([['client', 'SYN'], ['server', 'SYN,ACK'], ['client', 'ACK']]);
      // tshark counts the same packets for that connection.
      const counted = await tsharkRows(file, ['frame.number'], ['-Y', `tcp.stream == ${i} && tcp.port == ${step.connect.local!.port}`]);
      expect(rows.length).toBe(counted.length);
    }
    // One window over both connections: the flow's ends alone take in both, each its own conversation.
    const both = stepCapture(all, [steps[0]!.connect], { from: steps[0]!.from, to: steps[1]!.to, afterFrame: 0 }, steps[0]!.from, capture.interfaces);
    expect(both.packets.conversations.map((c) => c.index)).toEqual([0, 1]);
    expect(both.packets.rows.length).toBe(all[0]!.packets.length + all[1]!.packets.length);
  });

  test('the application messages placed on their segments: two HTTP requests on one connection, a DNS query and its answer', async () => {
    const requests = [`GET / HTTP/1.1\r\nHost: www.lab.test\r\n\r\n`, `GET /api/notes HTTP/1.1\r\nHost: www.lab.test\r\n\r\n`].map((r) => Buffer.from(r));
    const ask = Buffer.from(encode(query('www.lab.test', 'A')));
    let answer: Buffer = Buffer.alloc(0);
    let received: Buffer[] = [];
    let flow: { local: Endpoint; remote: Endpoint } | undefined;
    const capture = await captureWhile({ filter: portFilter([lab.http.port, lab.dns.port]) }, async () => {
      ({ flow, received } = await keepAlive(lab.http.port, requests));
      answer = await udpAsk(lab.dns.port, ask);
    });
    const all = conversations(capture.packets);
    const conn = all.find((c) => c.transport === 'tcp' && c.client.port === flow!.local.port);
    // The second request starts where the first ends in the client's byte stream.
    const second = packetsCarrying(conn!, 'client', { offset: requests[0]!.length, length: requests[1]!.length });
    expect(second.map((p) => p.decoded.tcp!.payload.toString())).toEqual([requests[1]!.toString()]);
    const firstResponse = packetsCarrying(conn!, 'server', { offset: 0, length: received[0]!.length });
    expect(Buffer.concat(firstResponse.map((p) => p.decoded.tcp!.payload)).subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
    const udp = all.find((c) => c.transport === 'udp')!;
    expect(packetsCarrying(udp, 'client', { bytes: ask }).length).toBe(1);
    expect(packetsCarrying(udp, 'server', { bytes: answer }).map((p) => p.from)).toEqual(['server']);
  });
});

/** Both sides have sent their FIN, and the last one is acknowledged. */
function closed(c: Conversation | undefined): boolean {
  const last = c?.packets.at(-1);
  return !!c && c.fin.client !== undefined && c.fin.server !== undefined && !!last && last.decoded.packet.number > Math.max(c.fin.client, c.fin.server) && last.length === 0;
}

/** A DNS query over UDP; resolves with the answer's bytes. */
async function udpAsk(port: number, bytes: Buffer | Uint8Array): Promise<Buffer> {
  const client = new UdpClient(port);
  try {
    client.send(Buffer.from(bytes));
    return await client.next();
  } finally {
    await client.close();
  }
}

/** One HTTP/1.0 request from a chosen local port; the server answers and closes first. */
async function httpOnce(port: number, localPort: number): Promise<{ local: Endpoint; remote: Endpoint }> {
  const client = await RawSocket.connect(port, { localAddress: '127.0.0.1', localPort });
  const ends = { local: { address: client.socket.localAddress!, port: client.localPort }, remote: { address: client.socket.remoteAddress!, port: client.socket.remotePort! } };
  client.write('GET / HTTP/1.0\r\nHost: www.lab.test\r\n\r\n');
  await client.rest();
  return ends;
}

/** Requests one after the other on one connection, each after the previous response (Content-Length) is in. */
async function keepAlive(port: number, requests: Buffer[]): Promise<{ flow: { local: Endpoint; remote: Endpoint }; received: Buffer[] }> {
  const client = await RawSocket.connect(port);
  const flow = { local: { address: client.socket.localAddress!, port: client.localPort }, remote: { address: client.socket.remoteAddress!, port: client.socket.remotePort! } };
  const received: Buffer[] = [];
  for (const request of requests) {
    client.write(request);
    const response = await client.read('an HTTP response and its body (Content-Length)', (unread) => {
      const end = unread.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(unread.toString('latin1'))?.[1] ?? NaN);
      return end >= 0 && unread.length >= end + 4 + length ? { value: Buffer.from(unread.subarray(0, end + 4 + length)), length: end + 4 + length } : undefined;
    });
    received.push(response);
  }
  client.end();
  await client.closed();
  return { flow, received };
}
