import type { ServiceStatus } from '../backends/types';
import { splitHostPort } from '../wire/network';
import { FTP_ACTIVE_PORTS, FTP_PASSIVE_PORTS, STACK } from '../wire/plan';
import { nowMs, type WireEvent } from '../wire/recorder';
import { PacketCapture, portFilter, type CaptureOptions } from './capture';
import { conversations } from './flows';
import { CLOCK_MARGIN_MS, stepCapture, type StepCapture } from './steps';

/**
 * `wirelab run --capture`: one capture for the whole run, written to one pcapng file,
 * and each step's share of it handed to the runner as the step ends. `wirelab up
 * --capture`: one capture for the lab's life, shared by the console's runs.
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

/** What the runner asks of a capture (run.ts RunOptions.capture): the packets of a step, as it ends. */
export interface StepPacketSource {
  /**
   * The packets of a step that started at `started` (epoch ms) and whose transcript
   * counts from `origin`: once every packet sent until now is in (sync), the step's
   * conversations within its window.
   */
  step(transcript: readonly WireEvent[], started: number, origin: number): Promise<StepCapture>;
}

/**
 * One capture, and the runs that take their steps' packets from it: `wirelab run`'s one
 * run (step()), or, under `wirelab up --capture`, each of the console's runs (run()):
 * a Try it beside a scenario run, each with its own steps in turn.
 */
export class RunCapture implements StepPacketSource {
  /** `wirelab run --capture`: the one run. */
  private readonly whole: StepPacketSource;

  private constructor(private readonly capture: PacketCapture) {
    this.whole = this.run();
  }

  static async start(options: CaptureOptions): Promise<RunCapture> {
    return new RunCapture(await PacketCapture.start(options));
  }

  /** Packets captured so far. */
  get count(): number {
    return this.capture.packets.length;
  }

  step(transcript: readonly WireEvent[], started: number, origin: number): Promise<StepCapture> {
    return this.whole.step(transcript, started, origin);
  }

  /**
   * The steps of one run, in turn. A step's window starts after the frames that were in
   * when the run's step before it ended (the capture was synced then); another run's
   * steps, going on meanwhile, move no window of this one's, and their flows are theirs.
   */
  run(): StepPacketSource {
    let lastFrame = this.capture.packets.length;
    return {
      step: async (transcript, started, origin) => {
        await this.capture.sync();
        const window = { from: started - CLOCK_MARGIN_MS, to: nowMs(), afterFrame: lastFrame };
        lastFrame = this.capture.packets.length;
        return stepCapture(conversations(this.capture.packets), transcript, window, origin, this.capture.interfaces);
      },
    };
  }

  /** Sync, stop the tool (waiting for it to exit), finish the file. */
  stop(): Promise<{ packets: number; file?: string }> {
    return this.capture.stop();
  }
}
