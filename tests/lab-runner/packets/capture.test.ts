/**
 * A live capture as root: it has started when start() resolves, it has everything
 * when stop() resolves (the races measured with bare tcpdump and dumpcap), its own
 * probes stay out, and it says clearly why it could not run.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CaptureError, PacketCapture, portFilter } from '../../../lab-runner/packets/capture';
import { readCapture } from '../../../lab-runner/packets/pcapng';
import { refusedConnection, rootOnly, tsharkProblems, tsharkRows, useScratch } from './helpers';

const lab = useScratch();

const knock = (): Promise<void> => refusedConnection(lab.refused);

const flagsOf = (capture: PacketCapture): string[] => capture.packets.map((d) => d.tcp!.flagNames.join());

rootOnly('capturing on lo as root', () => {
  test.each([
    ['tcpdump', 5],
    ['dumpcap', 2],
  ] as const)('%s: traffic right after start() and right before stop() is all there (%i rounds)', async (tool, rounds) => {
    const file = path.join(lab.dir, `${tool}.pcapng`);
    for (let round = 0; round < rounds; round++) {
      const capture = await PacketCapture.start({ tool, filter: portFilter([lab.refused]), file });
      await knock();
      await capture.stop();
      expect(flagsOf(capture)).toEqual(['SYN', 'RST,ACK']);
      expect(readCapture(await readFile(file)).packets.length).toBe(2);
    }
    // tshark (slow to start) reads the last round's file.
    expect(await tsharkProblems(file)).toEqual([]);
    expect((await tsharkRows(file, ['frame.number'])).length).toBe(2);
  });

  test('the probes stay out of the packets and the file; the packets are numbered as in the file', async () => {
    const file = path.join(lab.dir, 'probes.pcapng');
    const capture = await PacketCapture.start({ filter: portFilter([lab.refused]), file });
    for (let i = 0; i < 3; i++) {
      await knock();
      await capture.sync();
    }
    await capture.stop();
    expect(capture.packets.map((d) => d.packet.number)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(capture.packets.some((d) => d.udp)).toBe(false);
    expect(readCapture(await readFile(file)).packets.map((p) => p.data)).toEqual(capture.packets.map((d) => d.packet.data));
    expect(await tsharkRows(file, ['frame.number'], ['-Y', 'udp'])).toEqual([]);
  });

  test('sync(): what was sent before it is in, while the capture goes on', async () => {
    const capture = await PacketCapture.start({ filter: portFilter([lab.refused]) });
    try {
      await knock();
      await capture.sync();
      expect(flagsOf(capture)).toEqual(['SYN', 'RST,ACK']);
      await knock();
      await capture.sync();
      expect(flagsOf(capture)).toEqual(['SYN', 'RST,ACK', 'SYN', 'RST,ACK']);
    } finally {
      await capture.stop();
    }
  });

  test('waitFor() names what it waited for when the time is up', async () => {
    const capture = await PacketCapture.start({ filter: portFilter([lab.refused]) });
    try {
      await expect(capture.waitFor(() => false, 200, 'a packet that never comes')).rejects.toThrow('waited 200 ms for a packet that never comes, in vain');
    } finally {
      await capture.stop();
    }
  });

  test('a filter tcpdump cannot compile: the capture fails with its words', async () => {
    const failure = PacketCapture.start({ filter: 'port banana' });
    await expect(failure).rejects.toThrow(CaptureError);
    await expect(failure).rejects.toMatchObject({ code: 'EEXIT' });
    await expect(failure).rejects.toThrow(/tcpdump exited \(code 1\) .*tcpdump said: .*banana/);
  });
});

describe('without a capture tool', () => {
  test('a tool that is not there: ENOENT, and which package has it', async () => {
    const failure = PacketCapture.start({ program: path.join(lab.dir, 'no-such-tcpdump') });
    await expect(failure).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(failure).rejects.toThrow('tcpdump is not installed (Debian: apt-get install tcpdump)');
  });
});
