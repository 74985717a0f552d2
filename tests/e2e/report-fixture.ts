import { runScenarios } from '../../lab-runner/run';
import type { RunResult } from '../../lab-runner/result';
import { parseScenario } from '../../lab-runner/scenario/load';
import { startLab } from '../helpers/lab';

/**
 * A real run on the embedded lab for the report tests: one scenario with a step of
 * every kind (passed, failed with a hint, skipped, errored, hidden, a server reply
 * with markup in it), one that declares secrets and sends them the ways the lab
 * shows passwords travel (AUTH PLAIN, AUTH LOGIN, POP3 PASS, a Bearer token, a header),
 * and one that passes.
 */

/** The secret values the second scenario declares: none of them may reach a report. */
export const PASSWORD = 'Tr0ub4dor&3';
export const LITERAL = 'literal-S3cret-42';

export const MIXED = `
title: Every kind of step <b>&</b> more
description: A scenario with a step of each status, for the reports.
tags: [report, http]
steps:
  - name: Look up www
    dns: { query: www.lab.test }
    expect: { rcode: NOERROR }
    save: { ip: "answers[0].data" }
    points: 2
  - name: A page that is not there
    http: { url: "http://www.lab.test/no-such-page.html" }
    expect: { status: 200 }
    points: 3
    hint: Check the file name in lab/www.
  - name: A lookup that fails
    dns: { query: nosuch.lab.test }
    expect: { rcode: NOERROR }
    save: { lost: "answers[0].data" }
  - name: Uses what the failed lookup did not save
    http: { url: "http://\${lost}/" }
    points: 2
  - name: Nothing listens on port 81
    tcp: { host: www.lab.test, port: 81 }
    timeout: 2s
    hint: Is a server listening there?
  - name: Hidden from students
    visibility: hidden
    http:
      url: http://www.lab.test/inspect
      headers: { X-Note: "<script>alert('pwned')</script><img src=x onerror=alert(1)>" }
    expect: { status: 200 }
    points: 2
`;

export const SECRET = `
title: Passwords never reach a report
visibility: after_due_date
secrets: [password, token, ${LITERAL}]
vars: { password: "${PASSWORD}" }
steps:
  - name: AUTH PLAIN with a wrong password
    smtp:
      port: 587
      auth: { user: alice, password: "\${password}", mechanism: PLAIN }
      from: alice@lab.test
      to: bob@lab.test
      subject: plain
      body: hello
    expect:
      auth.code: 235
      auth.decoded[0]: "\\0alice\\0\${password}"
    points: 2
    hint: The password is \${password}? Look at the base64 on the AUTH line.
  - name: AUTH LOGIN with a wrong password
    visibility: visible
    smtp:
      port: 587
      auth: { user: alice, password: "\${password}", mechanism: LOGIN }
      from: alice@lab.test
      to: bob@lab.test
      subject: login
      body: hello
    expect:
      auth.sent[2]: "\${password}"
    points: 2
  - name: POP3 PASS with a wrong password
    pop3: { user: bob, password: "\${password}", retrieve: none }
    expect: { loggedIn: true }
  - name: Log in as alice
    http:
      method: POST
      url: http://www.lab.test/api/login
      json: { username: alice, password: alice }
    expect: { status: 200 }
    save: { token: json.token }
  - name: With the token and an API key
    http:
      url: http://www.lab.test/inspect
      headers: { Authorization: "Bearer \${token}", X-Api-Key: ${LITERAL} }
    expect: { status: 200 }
`;

export const PASSING = `
title: A scenario that passes
tags: [http]
steps:
  - name: Fetch the home page
    http: { url: "http://www.lab.test/" }
    expect: { status: 200 }
    points: 2
`;

/** The three scenarios, run on a fresh embedded lab. */
export async function reportFixture(): Promise<RunResult> {
  const lab = await startLab();
  try {
    const scenarios = [parseScenario(MIXED, 'scenarios/mixed.yaml'), parseScenario(SECRET, 'scenarios/secret.yaml'), parseScenario(PASSING, 'scenarios/passing.yaml')];
    return await runScenarios(scenarios, lab.backend);
  } finally {
    await lab.stop();
  }
}

/** The run's JWT, read from the unmasked result: it must not reach a report either. */
export function tokenOf(result: RunResult): string {
  const step = result.scenarios[1]!.steps.find((s) => s.name === 'Log in as alice')!;
  return String(step.saved.token);
}

/** Every form of a secret a report must not hold. */
export function forbiddenForms(result: RunResult): string[] {
  const token = tokenOf(result);
  return [
    PASSWORD,
    LITERAL,
    token,
    Buffer.from(PASSWORD).toString('base64'), // AUTH LOGIN's line
    Buffer.from(`\0alice\0${PASSWORD}`).toString('base64'), // AUTH PLAIN's
    encodeURIComponent(PASSWORD),
  ];
}
