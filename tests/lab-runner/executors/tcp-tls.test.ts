import { runScenario } from '../../../lab-runner/run';
import { parseScenario } from '../../../lab-runner/scenario/load';
import { describeStep, startLab } from '../../helpers/lab';

/**
 * `tcp: { tls: true }`: implicit TLS to a lab port, the server's certificate checked
 * against the lab CA and the host name; the transcript keeps the plain text inside, marked
 * encrypted, and the handshake as a tls event. A port that does not speak TLS fails the step, saying so.
 */

let lab: Awaited<ReturnType<typeof startLab>>;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(async () => {
  await lab?.stop();
});

test('POP3S on 995: the greeting and the login over TLS, checked against the lab CA; a plain port fails the handshake', async () => {
  const scenario = parseScenario(
    `title: tls
steps:
  - name: POP3S
    tcp: { host: mail.lab.test, port: 995, tls: true, lines: [USER bob, PASS bob, QUIT] }
    expect:
      received: { regex: "^\\\\+OK.*\\\\r\\\\n\\\\+OK.*\\\\r\\\\n\\\\+OK bob@lab.test has" }
      transcript: { contains: { kind: tls, summary: { regex: "TLSv1\\\\.[23]" } } }
  - name: TLS to the plain POP3 port
    tcp: { host: mail.lab.test, port: 110, tls: true }
    timeout: 3s
    expect:
      error: { regex: "^TLS handshake with mail.lab.test:\\\\d+ failed: " }
`,
    'tls.yaml',
  );
  const result = await runScenario(scenario, lab.backend);
  expect(result.steps.filter((s) => s.status !== 'passed').map(describeStep)).toEqual([]);
  // The events carry the connection's ends, but no offset: the bytes on the wire are TLS records.
  const sent = result.steps[0]!.transcript.find((e) => e.kind === 'send' && e.encrypted === true)!;
  expect(sent).toMatchObject({ local: { port: expect.any(Number) }, remote: { port: expect.any(Number) } });
  expect(sent.offset).toBeUndefined();
});
