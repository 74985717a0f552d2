/**
 * The header decoders against tshark: real traffic from real clients (curl, dig, nc,
 * Python's sockets) captured on loopback, decoded by ours and by tshark from the same
 * file; every field ours yields must read the same in tshark.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LINKTYPE } from '../../../lab-runner/packets/link';
import { writePcapng, type CapturedPacket } from '../../../lab-runner/packets/pcapng';
import { portFilter } from '../../../lab-runner/packets/capture';
import { run } from '../../helpers/process';
import { listenTcp } from '../../helpers/socket';
import { dig } from '../../services/dns/clients';
import { curl } from '../../services/http/harness';
import { captureWhile, compareWithTshark, ncProbe, rootOnly, useScratch } from './helpers';

const lab = useScratch({ http: true, dns: true });

rootOnly('decoding real captures as tshark does (captured as root on lo)', () => {
  test('HTTP with keep-alive (curl, two requests on one connection) and a refused connection (nc): Ethernet, IPv4, TCP', async () => {
    const file = path.join(lab.dir, 'http.pcapng');
    await captureWhile({ filter: portFilter([lab.http.port, lab.refused]), file }, async () => {
      const got = await curl('-o', '/dev/null', `${lab.http.base}/`, '-o', '/dev/null', `${lab.http.base}/api/notes`);
      expect(got.code).toBe(0);
      await ncProbe('127.0.0.1', lab.refused);
    });
    const decoded = await compareWithTshark(file);
    // What the comparison covered: a handshake with options, two requests with data, a RST.
    const tcp = decoded.map((d) => d.tcp!);
    expect(tcp.filter((t) => t.flagNames.join() === 'SYN').length).toBe(2);
    expect(tcp.filter((t) => t.payload.toString('latin1').startsWith('GET ')).length).toBe(2);
    expect(tcp.some((t) => t.flagNames.includes('RST') && t.sourcePort === lab.refused)).toBe(true);
    expect(tcp.find((t) => t.flagNames.join() === 'SYN')).toMatchObject({ sackPermitted: true, mss: expect.any(Number), windowScale: expect.any(Number) });
    expect(decoded.every((d) => d.link!.source === '00:00:00:00:00:00' && d.ip!.version === 4)).toBe(true);
  });

  test('DNS over UDP and over TCP (dig): UDP datagrams, a TCP exchange', async () => {
    const file = path.join(lab.dir, 'dns.pcapng');
    await captureWhile({ filter: portFilter([lab.dns.port]), file }, async () => {
      expect(await dig(lab.dns.port, 'www.lab.test', 'A')).toMatch(/status: NOERROR/);
      expect(await dig(lab.dns.port, '+tcp', 'lab.test', 'MX')).toMatch(/status: NOERROR/);
    });
    const decoded = await compareWithTshark(file);
    expect(decoded.filter((d) => d.udp).length).toBe(2);
    expect(decoded.some((d) => d.tcp && d.tcp.payload.length > 2)).toBe(true);
  });

  test('IPv6: curl to [::1], and UDP with hop-by-hop and destination options headers (Python)', async () => {
    // Answers once the request is in, and reads on, so that the client's FIN ends the socket.
    const server = await listenTcp((socket) => socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n')).resume(), '::1');
    const { port } = server;
    const file = path.join(lab.dir, 'ipv6.pcapng');
    // BPF's `port` does not look past extension headers: the Python datagram is caught by its first Next Header (0, hop-by-hop).
    const filter = `${portFilter([port])} or (ip6 and ip6[6] == 0)`;
    await captureWhile({ filter, file }, async () => {
      expect((await curl('-g', '-o', '/dev/null', '-w', '%{http_code}', `http://[::1]:${port}/`)).stdout).toBe('204');
      const sent = await run('python3', ['-c', [
        'import socket',
        's = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)',
        // RFC 8200 4.3 and 4.6: the options headers, padded with a PadN option (type 1) to 8 and 16 bytes.
        's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))',
        's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 1, 1, 12] + [0] * 12))',
        `s.sendto(b'extension headers', ('::1', ${port}))`,
      ].join('\n')]);
      expect(sent).toMatchObject({ code: 0, stderr: '' });
    });
    await server.close();
    const decoded = await compareWithTshark(file);
    expect(decoded.every((d) => d.ip!.version === 6)).toBe(true);
    const udp = decoded.find((d) => d.udp)!;
    expect(udp.ip).toMatchObject({ nextHeader: 0, protocol: 17, extensions: [{ type: 0, length: 8 }, { type: 60, length: 16 }] });
    expect(udp.udp!.payload.toString()).toBe('extension headers');
  });

  test.each([
    ['LINUX_SLL', LINKTYPE.LINUX_SLL],
    ['LINUX_SLL2', LINKTYPE.LINUX_SLL2],
  ])('tcpdump -i any -y %s: Linux cooked capture headers', async (name, linkType) => {
    const file = path.join(lab.dir, `any-${name}.pcapng`);
    await captureWhile({ interface: 'any', linkType: name, filter: portFilter([lab.http.port]), file }, async () => {
      expect((await curl('-o', '/dev/null', `${lab.http.base}/`)).code).toBe(0);
    });
    const decoded = await compareWithTshark(file);
    expect(decoded.length).toBeGreaterThan(5);
    expect(decoded.every((d) => d.link!.linkType === linkType)).toBe(true);
    // On lo, "any" keeps each packet once: as received (sll_pkttype 0, PACKET_HOST).
    expect(decoded.map((d) => d.link!.packetType).filter((t) => t !== 0)).toEqual([]);
  });

  test.each([
    ['NULL (BSD loopback, host byte order)', LINKTYPE.NULL, (family: Buffer) => family.writeUInt32LE(2)],
    ['LOOP (OpenBSD loopback, network byte order)', LINKTYPE.LOOP, (family: Buffer) => family.writeUInt32BE(2)],
  ])('%s: real IPv4 packets behind a 4-byte address family', async (_name, linkType, writeFamily) => {
    // Linux cannot capture with these link types: the same real packets are given the
    // header a BSD's lo0 puts in front, and tshark reads them back.
    const capture = await captureWhile({ filter: portFilter([lab.refused]) }, async () => void (await ncProbe('127.0.0.1', lab.refused)));
    const packets: CapturedPacket[] = capture.packets.map(({ packet }) => {
      const family = Buffer.alloc(4);
      writeFamily(family);
      const data = Buffer.concat([family, packet.data.subarray(14)]);
      return { ...packet, linkType, data, originalLength: data.length };
    });
    const file = path.join(lab.dir, `loopback-${linkType}.pcapng`);
    await writeFile(file, writePcapng([{ linkType, snapLength: 262144, unitsPerSecond: 1_000_000_000n, offsetSeconds: 0n }], packets));
    const decoded = await compareWithTshark(file);
    expect(decoded.map((d) => [d.link!.network, d.link!.type, d.tcp!.flagNames.includes('RST')])).toEqual([
      ['ipv4', 2, false],
      ['ipv4', 2, true],
    ]);
  });
});
