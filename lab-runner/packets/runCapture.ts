import type { ServiceStatus } from '../backends/types';
import { splitHostPort } from '../wire/network';
import { FTP_ACTIVE_PORTS, FTP_PASSIVE_PORTS, STACK } from '../wire/plan';
import { nowMs, type WireEvent } from '../wire/recorder';
import { PacketCapture, portFilter, type CaptureOptions } from './capture';
import { conversations } from './flows';
import { CLOCK_MARGIN_MS, stepCapture, type StepCapture } from './steps';

/**
 * `wirelab run --capture`: one capture for the whole run, written to one pcapng file,
 * and each step's share of it handed to the runner as the step ends.
 */

/**
 * The BPF filter for a lab: every port its services really listen on (TCP and UDP),
 * and FTP's data ports, passive (the server's) and active (the runner's). Without
 * statuses (inside the lab network, the Docker client): the plan's lab ports.
 */
export function labFilter(statuses?: readonly ServiceStatus[]): string {
  const ports = statuses
    ? statuses.flatMap((s) => Object.values(s.endpoints).map((where) => splitHostPort(where, 0)[1])).filter((p) => p > 0)
    : STACK.flatMap((s) => Object.values(s.ports).map((p) => p.lab));
  return portFilter(ports, [FTP_PASSIVE_PORTS, FTP_ACTIVE_PORTS]);
}

export class RunCapture {
  /** Frames up to this one were there when the last step ended: the next step's start from after it. */
  private lastFrame = 0;

  private constructor(private readonly capture: PacketCapture) {}

  static async start(options: CaptureOptions): Promise<RunCapture> {
    return new RunCapture(await PacketCapture.start(options));
  }

  /** Packets captured so far. */
  get count(): number {
    return this.capture.packets.length;
  }

  /**
   * The packets of a step that started at `started` (epoch ms) and whose transcript
   * counts from `origin`: once every packet sent until now is in (sync), the step's
   * conversations within its window.
   */
  async step(transcript: readonly WireEvent[], started: number, origin: number): Promise<StepCapture> {
    await this.capture.sync();
    const window = { from: started - CLOCK_MARGIN_MS, to: nowMs(), afterFrame: this.lastFrame };
    this.lastFrame = this.capture.packets.length;
    return stepCapture(conversations(this.capture.packets), transcript, window, origin, this.capture.interfaces);
  }

  /** Sync, stop the tool (waiting for it to exit), finish the file. */
  stop(): Promise<{ packets: number; file?: string }> {
    return this.capture.stop();
  }
}
