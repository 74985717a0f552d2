import { PacketCapture, portFilter } from '../../../lab-runner/packets/capture';
import { conversations } from '../../../lab-runner/packets/flows';
import type { RunResult } from '../../../lab-runner/result';
import { runScenarios } from '../../../lab-runner/run';
import { parseScenario } from '../../../lab-runner/scenario/load';
import { nowMs } from '../../../lab-runner/wire';
import { startLab } from '../../helpers/lab';
import { packetsOfStep } from '../../helpers/stepPackets';

/**
 * A real run on the embedded lab with a real capture of it (tcpdump on lo, as root):
 * a DNS lookup over UDP, an HTTP request (a TCP connection, its handshake, the request
 * and response segments, the FINs), and a POP3 login whose password crosses the wire in
 * clear text and is a declared secret. Each step gets the packets of its own flows
 * (tests/helpers/stepPackets.ts), as `wirelab run --capture` will give it.
 */

export const PASSWORD = 'alice';

export const SCENARIO = `
title: Packets under the messages
secrets: [password]
vars: { password: ${PASSWORD} }
steps:
  - name: Look up www
    dns: { query: www.lab.test }
    expect: { rcode: NOERROR }
    points: 1
  - name: Fetch the home page
    http: { url: "http://www.lab.test/" }
    expect: { status: 200 }
    points: 1
  - name: Read alice's mailbox
    pop3: { user: alice, password: "\${password}" }
    points: 1
`;

export interface CapturedRun {
  result: RunResult;
  /** The ports the lab's services really listened on: `dns`, `http`, `pop3`. */
  ports: Record<string, number>;
}

export async function capturedRun(): Promise<CapturedRun> {
  const lab = await startLab();
  try {
    const status = await lab.backend.status();
    const port = (service: string, name: string): number => Number(status.find((s) => s.name === service)!.endpoints[name]!.split(':').pop());
    const ports = { dns: port('dns', 'dns'), http: port('http', 'http'), pop3: port('pop3', 'pop3') };
    const capture = await PacketCapture.start({ filter: portFilter(Object.values(ports)) });
    const windows: { from: number; to: number }[] = [];
    // Each step's origin, the epoch ms its transcript's `at` counts from: told by its first event, as it is recorded.
    const origins: number[] = [];
    let from = nowMs();
    let result: RunResult;
    try {
      result = await runScenarios([parseScenario(SCENARIO, 'scenarios/packets.yaml')], lab.backend, {
        wireEvent(_scenario, _step, event) {
          origins[windows.length] ??= nowMs() - event.at;
        },
        stepEnd() {
          const to = nowMs();
          windows.push({ from, to });
          from = to;
        },
      });
    } finally {
      await capture.stop();
    }
    const all = conversations(capture.packets);
    for (const [k, step] of result.scenarios[0]!.steps.entries()) {
      const window = windows[k]!;
      step.packets = packetsOfStep(all, capture.interfaces, step, window, origins[k] ?? window.from, [{ port: ports.dns, label: 'ns.lab.test:53' }]);
    }
    return { result, ports };
  } finally {
    await lab.stop();
  }
}
