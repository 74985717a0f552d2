import type { RunResult } from '../../../lab-runner/result';
import { runScenarios } from '../../../lab-runner/run';
import { labFilter, RunCapture } from '../../../lab-runner/packets/runCapture';
import { parseScenario } from '../../../lab-runner/scenario/load';
import { startLab } from '../../helpers/lab';

/**
 * A real run on the embedded lab with a real capture of it (tcpdump on lo, as root),
 * the way `wirelab run --capture` makes it (RunCapture: each step's packets matched by
 * the ends and offsets its transcript recorded): a DNS lookup over UDP, an HTTP request
 * (a TCP connection, its handshake, the request and response segments, the FINs), and a
 * POP3 login whose password crosses the wire in clear text and is a declared secret.
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
    const capture = await RunCapture.start({ filter: labFilter(status) });
    try {
      const result = await runScenarios([parseScenario(SCENARIO, 'scenarios/packets.yaml')], lab.backend, {}, { capture });
      return { result, ports };
    } finally {
      await capture.stop();
    }
  } finally {
    await lab.stop();
  }
}
