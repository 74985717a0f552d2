import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { decodePacket, type DecodedPacket } from './decode';
import { findProgram, type CaptureTool } from './namespace';
import { CaptureReader, enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock, type CaptureInterface, type CapturedPacket } from './pcapng';

/**
 * A live packet capture: tcpdump (or dumpcap) records what the kernel sees on an
 * interface, and writes it to its stdout as it goes; we read that stream, keep the
 * packets, and write them to a pcapng file.
 *
 * Knowing when a capture really runs, and when it has everything, is the hard part:
 * - dumpcap prints "Capturing on 'Loopback: lo'" before it opens the interface, so
 *   traffic right after that line is missed (measured: 10 of 10 connections lost);
 * - at SIGINT either tool may drop packets the kernel already handed it (measured:
 *   tcpdump lost the RST of a refused connection stopped at once after it).
 * So the capture sends itself probes: UDP datagrams on loopback to a port of its own,
 * which the filter lets through. The capture runs once it has seen a probe; and
 * sync() sends one more and waits for it: the kernel hands packets over in order, so
 * everything sent before the probe is in by then. The probes are left out of
 * `packets` and out of the file.
 *
 * tcpdump is preferred: with --immediate-mode it hands each packet over at once (a
 * probe comes back in about 1 ms). dumpcap hands them over in blocks, every 250 ms or
 * so, which makes each sync() that slow.
 */

export interface CaptureOptions {
  /**
   * The interface: `lo` (the default) for the embedded lab, `any` for every interface.
   * It must carry 127.0.0.1, where the capture sends its probes.
   */
  interface?: string;
  /** A BPF filter (pcap-filter(7)), e.g. from portFilter(); default: everything on the interface. */
  filter?: string;
  /** The link-layer header to ask for (tcpdump -y): `LINUX_SLL2` on `any` says which interface each packet took. */
  linkType?: string;
  /** Write the packets to this pcapng file as they come. */
  file?: string;
  /** Default: tcpdump. */
  tool?: CaptureTool;
  /** The tool's path (captureAccess() found it); default: looked up on the PATH and in the sbin folders. */
  program?: string;
  /** How long to wait for the tool to capture its first probe. Default: 10000 ms. */
  startTimeoutMs?: number;
  /** How long sync() (and so stop()) waits for its probe. Default: 5000 ms. */
  syncTimeoutMs?: number;
}

/** A capture that could not start or finish: `code` says which way. */
export class CaptureError extends Error {
  constructor(
    message: string,
    /** ENOENT: no such tool; EPERM: not allowed to capture; ETIMEDOUT: no probe in time; EEXIT: the tool exited. */
    readonly code: 'ENOENT' | 'EPERM' | 'ETIMEDOUT' | 'EEXIT',
  ) {
    super(message);
    this.name = 'CaptureError';
  }
}

/** `port 5353 or port 8080 or portrange 30000-30009`: the lab's ports, TCP and UDP, either direction. */
export function portFilter(ports: readonly number[], ranges: readonly { from: number; to: number }[] = []): string {
  return [...new Set(ports)].map((p) => `port ${p}`).concat(ranges.map((r) => `portrange ${r.from}-${r.to}`)).join(' or ');
}

/** The command line for a tool writing the capture to stdout. */
export function captureCommand(tool: CaptureTool, iface: string, filter?: string, linkType?: string): string[] {
  const link = linkType ? ['-y', linkType] : [];
  if (tool === 'tcpdump') {
    // -U and --immediate-mode: each packet is handed over and written at once; nanosecond timestamps.
    return ['tcpdump', '-i', iface, ...link, '-U', '--immediate-mode', '--time-stamp-precision=nano', '-w', '-', ...(filter ? [filter] : [])];
  }
  return ['dumpcap', '-i', iface, ...link, '-w', '-', ...(filter ? ['-f', filter] : [])];
}

const PROBE = 'wirelab capture probe ';

export class PacketCapture {
  /** The packets captured so far (not the probes), numbered as in the file. */
  readonly packets: DecodedPacket[] = [];
  private readonly reader = new CaptureReader();
  private readonly probe = dgram.createSocket('udp4');
  private probePort = 0;
  private probesSent = 0;
  private probesSeen = 0;
  private waiters: (() => void)[] = [];
  private child?: ChildProcess;
  private out?: WriteStream;
  private headerWritten = false;
  private stopped = false;
  private stderr = '';
  private exited?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly tool: CaptureTool;

  private constructor(private readonly options: CaptureOptions) {
    this.tool = options.tool ?? 'tcpdump';
  }

  /** The interfaces of the capture, as its file describes them. */
  get interfaces(): readonly CaptureInterface[] {
    return this.reader.interfaces;
  }

  /** Start capturing; resolves once the tool has captured a probe (it is really capturing). */
  static async start(options: CaptureOptions = {}): Promise<PacketCapture> {
    const capture = new PacketCapture(options);
    try {
      await capture.begin();
    } catch (err) {
      await capture.abort();
      throw err;
    }
    return capture;
  }

  private async begin(): Promise<void> {
    this.probe.bind(0, '127.0.0.1');
    await once(this.probe, 'listening');
    this.probePort = this.probe.address().port;
    const iface = this.options.interface ?? 'lo';
    const filter = this.options.filter ? `(${this.options.filter}) or (udp and host 127.0.0.1 and port ${this.probePort})` : undefined;
    const [command, ...args] = captureCommand(this.tool, iface, filter, this.options.linkType);
    if (this.options.file) this.out = createWriteStream(this.options.file);
    const program = this.options.program ?? findProgram(command!) ?? command!;
    const child = (this.child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stdout!.on('data', (chunk: Buffer) => this.take(chunk));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000)));
    child.on('close', (code, signal) => {
      this.exited = { code, signal };
      this.wake();
    });
    const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawned) throw new CaptureError(spawned.code === 'ENOENT' ? `${command} is not installed (Debian: apt-get install ${command === 'dumpcap' ? 'wireshark-common' : 'tcpdump'})` : `cannot run ${command}: ${spawned.message}`, 'ENOENT');
    // Probe until one comes back: then the capture runs.
    const timer = setInterval(() => this.sendProbe(), 20);
    try {
      await this.waitForProbe(1, this.options.startTimeoutMs ?? 10000, `${command} to capture its first probe on ${iface}`);
    } finally {
      clearInterval(timer);
    }
  }

  /** Resolves once every packet the kernel saw before this call is in `packets`. */
  async sync(): Promise<void> {
    const n = this.sendProbe();
    // Now and then a probe does not come back on its own, on a busy machine (measured:
    // once in a few thousand, the whole wait in vain; the next packet brings it). So
    // another follows every 250 ms: any later probe proves the same, as it left later.
    const again = setInterval(() => this.sendProbe(), 250);
    try {
      await this.waitForProbe(n, this.options.syncTimeoutMs ?? 5000, `${this.tool} to capture probe ${n}`);
    } finally {
      clearInterval(again);
    }
  }

  /** Sync, stop the tool, finish the file. Returns how many packets were kept. */
  async stop(): Promise<{ packets: number; file?: string }> {
    try {
      await this.sync();
    } catch (err) {
      // Ctrl+C in a terminal reaches the tool too (it is in our process group): having
      // exited cleanly, it wrote out everything it had, and there is nothing left to wait for.
      if (!this.exitedCleanly()) throw err;
    } finally {
      await this.abort();
    }
    // SIGINT lets the tool finish its last record; anything cut short is reported, not hidden.
    this.reader.end();
    return { packets: this.packets.length, ...(this.options.file ? { file: this.options.file } : {}) };
  }

  private exitedCleanly(): boolean {
    return this.exited !== undefined && (this.exited.code === 0 || this.exited.signal === 'SIGINT' || this.exited.signal === 'SIGTERM');
  }

  /** End the tool and the file, whatever state they are in. */
  private async abort(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const child = this.child;
    if (child && !this.exited && child.pid !== undefined) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await new Promise<void>((resolve) => (this.exited ? resolve() : child.once('close', () => resolve())));
      clearTimeout(killer);
    }
    this.probe.close();
    if (this.out) {
      this.writeHeader();
      this.out.end();
      await once(this.out, 'finish');
    }
  }

  private sendProbe(): number {
    const n = ++this.probesSent;
    this.probe.send(PROBE + n, this.probePort, '127.0.0.1');
    return n;
  }

  /**
   * Resolves once the packets captured so far pass `test` (a retransmission that comes
   * a second later, the last FIN of a connection); `what` names it if time runs out.
   */
  waitFor(test: (packets: readonly DecodedPacket[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.waitUntil(() => test(this.packets), timeoutMs, what);
  }

  private waitForProbe(n: number, timeoutMs: number, what: string): Promise<void> {
    return this.waitUntil(() => this.probesSeen >= n, timeoutMs, what);
  }

  /** Checked after every chunk from the tool, and when it exits. */
  private waitUntil(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new CaptureError(`waited ${timeoutMs} ms for ${what}, in vain${this.stderrSaid()}`, 'ETIMEDOUT'));
      }, timeoutMs);
      const check = (): void => {
        if (ready()) {
          done();
          resolve();
        } else if (this.exited) {
          done();
          const denied = /permission|not permitted/i.test(this.stderr);
          reject(new CaptureError(`${this.tool} exited (${this.exited.signal ?? `code ${this.exited.code}`}) while we waited for ${what}${this.stderrSaid()}`, denied ? 'EPERM' : 'EEXIT'));
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  private stderrSaid(): string {
    const said = this.stderr.trim().split('\n').filter((l) => !/^(Packets|Running as user)/.test(l)).join(' / ');
    return said ? `; ${this.tool} said: ${said}` : '';
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Bytes from the tool: complete packets are decoded, probes counted, the rest kept and written. */
  private take(chunk: Buffer): void {
    for (const packet of this.reader.push(chunk)) {
      const decoded = decodePacket(packet);
      const probe = this.probeNumber(decoded);
      if (probe !== undefined) {
        this.probesSeen = Math.max(this.probesSeen, probe);
        continue;
      }
      // Numbered as they will be in the file, where the probes are not.
      const kept: CapturedPacket = { ...packet, number: this.packets.length + 1 };
      this.packets.push({ ...decoded, packet: kept });
      if (this.out) {
        this.writeHeader();
        this.out.write(enhancedPacketBlock(kept));
      }
    }
    this.wake();
  }

  private probeNumber(d: DecodedPacket): number | undefined {
    if (!d.udp || d.udp.sourcePort !== this.probePort || d.udp.destinationPort !== this.probePort) return undefined;
    const text = d.udp.payload.toString('latin1');
    return text.startsWith(PROBE) ? Number(text.slice(PROBE.length)) : undefined;
  }

  private writeHeader(): void {
    if (this.headerWritten || !this.out) return;
    this.headerWritten = true;
    this.out.write(Buffer.concat([sectionHeaderBlock(), ...this.reader.interfaces.map(interfaceDescriptionBlock)]));
  }
}
