import { z } from 'zod';
import { ACTION_NAMES, executorFor } from '../../../lab-runner/executors/registry';
import { checkedResultSchema, failureOutput } from '../../../lab-runner/executors/types';
import { shapeAt } from '../../../lab-runner/expect/fields';
import type { ScenarioResult, StepResult } from '../../../lab-runner/result';
import { runScenario } from '../../../lab-runner/run';
import { parseScenario } from '../../../lab-runner/scenario/load';
import { describeStep, startLab } from '../../helpers/lab';

/**
 * Every executor's output is what it declares (executors/<name>: `output`, a zod
 * schema with closed objects): the scenario loader checks `expect:` and `save:`
 * paths against those schemas, so a field an executor returns but does not declare
 * could not be expected, and one it declares but never returns would be "got
 * nothing" at run time. Each executor runs here against the embedded lab, the way
 * that returns the most (every file action, raw SMTP, POP3 without a login, a
 * refused login...), and every output must parse, strictly.
 */

const STEPS = `
title: every executor, every kind of output
vars: { page: "<h1>x</h1>" }
steps:
  - { name: dns A, dns: { query: www.lab.test } }
  - { name: dns MX, dns: { query: lab.test, type: MX } }
  - { name: dns SOA of a missing name, dns: { query: nowhere.lab.test, type: A, server: "ns.lab.test:53" } }
  - { name: dns TXT over TCP, dns: { query: big.lab.test, type: TXT, transport: tcp, edns: 1232 } }
  - { name: dns PTR, dns: { reverse: 172.28.0.80 } }
  - { name: http GET, http: { url: "http://www.lab.test/guide", follow: true } }
  - { name: http JSON, http: { method: POST, url: "http://www.lab.test/api/notes", json: { title: t } } }
  - { name: http keep-alive, http: { url: "http://www.lab.test/", connection: keep } }
  - { name: http keep-alive again, http: { url: "http://www.lab.test/", connection: keep } }
  - name: tcp
    tcp: { host: www.lab.test, port: 80, lines: ["GET / HTTP/1.1", "Host: www.lab.test", "Connection: close", ""], until: close }
  - { name: wait for a service, wait: { service: dns } }
  - { name: wait for a host and port, wait: { host: www.lab.test, port: 80 } }
  - { name: lab status, lab: { action: status, service: sftp } }
  - { name: lab duplicate, lab: { action: duplicate, service: http } }
  - name: smtp with AUTH LOGIN
    smtp: { port: 587, auth: { user: alice, password: alice, mechanism: LOGIN }, from: alice@lab.test, to: [bob@lab.test, nobody@lab.test], subject: s, body: b }
  - name: smtp refused at MAIL
    smtp: { port: 587, auth: { user: alice, password: wrong }, from: alice@lab.test, to: bob@lab.test, body: b }
  - name: smtp raw lines
    smtp: { lines: [EHLO x, "MAIL FROM:<a@example.test>", "RCPT TO:<bob@lab.test>", DATA, "Subject: raw", "", hello, ".", QUIT] }
  - { name: lab logs, lab: { action: logs, service: smtp } }
  - { name: pop3, pop3: { user: bob, password: bob, retrieve: all, delete: retrieved, commands: [NOOP, CAPA] } }
  - { name: pop3 missing message, pop3: { user: bob, password: bob, retrieve: 99 } }
  - { name: pop3 wrong password, pop3: { user: bob, password: nope } }
  - { name: pop3 without login, pop3: { user: bob, password: bob, login: false, commands: [CAPA, "USER bob"], quit: false } }
  - name: ftp every action
    ftp:
      user: alice
      password: alice
      actions:
        - upload: { path: out.txt, content: hello }
        - size: out.txt
        - list: /
        - download: out.txt
        - mkdir: d
        - cd: d
        - cd: ..
        - rmdir: d
        - rename: { from: out.txt, to: gone.txt }
        - delete: gone.txt
        - download: no-such-file
  - { name: ftp active, ftp: { user: bob, password: bob, mode: active, command: PORT, actions: [{ list: / }] } }
  - { name: ftp refused login, ftp: { user: alice, password: wrong } }
  - name: sftp every action
    sftp:
      user: alice
      key: alice
      actions:
        - upload: { path: s.txt, content: "\${page}" }
        - stat: s.txt
        - realpath: .
        - list: /
        - download: s.txt
        - mkdir: e
        - rmdir: e
        - rename: { from: s.txt, to: t.txt }
        - delete: t.txt
        - download: no-such-file
  - { name: sftp refused login, sftp: { user: alice, password: wrong } }
  - name: tls to a port that speaks no TLS
    tls: { host: www.lab.test, port: 80 }
    expect: { tls.authorized: false, tls.error: { exists: true }, tls.chain: { length: 0 } }
  - { name: lab stop, lab: { action: stop, service: http } }
  - name: a failure that is expected
    http: { url: "http://www.lab.test/" }
    expect: { code: ECONNREFUSED, error: { contains: refused } }
  - { name: a failure that is not expected, http: { url: "http://www.lab.test/" } }
  - { name: lab start, lab: { action: start, service: http } }
`;

let result: ScenarioResult;
beforeAll(async () => {
  const lab = await startLab();
  try {
    result = await runScenario(parseScenario(STEPS, 'outputs.yaml'), lab.backend);
  } finally {
    await lab.stop();
  }
}, 60000);

/** A step's output: what its executor returned, or the failure of the action. */
const parsed = (step: StepResult) => z.union([executorFor(step.action as never).output, failureOutput]).safeParse(step.output);

test.each(ACTION_NAMES)('%s: every output can be checked for error, code and its transcript', (action) => {
  const result = checkedResultSchema(executorFor(action).output);
  for (const field of ['error', 'code', 'transcript']) expect(() => shapeAt(result, [field], action)).not.toThrow();
  expect(() => shapeAt(result, ['no-such-field'], action)).toThrow(/has no field "no-such-field"; it has: /);
});

test('every executor is run', () => {
  expect(ACTION_NAMES.filter((a) => !result.steps.some((s) => s.action === a))).toEqual([]);
});

test('every step ran (only the unexpected failure errs)', () => {
  expect(result.steps.filter((s) => s.status === 'error' || s.status === 'skipped').map(describeStep)).toEqual([
    expect.stringContaining('a failure that is not expected: error: connection refused by www.lab.test:80'),
  ]);
});

test('every output parses with its executor\'s declared output schema', () => {
  const problems = result.steps.flatMap((s) => {
    const check = parsed(s);
    return check.success ? [] : [`${s.name}: ${check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`];
  });
  expect(problems).toEqual([]);
});

test('a failed action is an output { error, code }, checked like any field', () => {
  const expected = result.steps.find((s) => s.name === 'a failure that is expected')!;
  expect(expected.status).toBe('passed');
  expect(expected.output).toEqual({ error: expect.stringContaining('connection refused'), code: 'ECONNREFUSED' });
  expect(expected.checks.map((c) => c.message)).toEqual(['code: "ECONNREFUSED"', 'error: to contain "refused"']);
  const unexpected = result.steps.find((s) => s.name === 'a failure that is not expected')!;
  expect(unexpected.output).toEqual({ error: unexpected.error, code: 'ECONNREFUSED' });
});

test('an output with a field its schema does not declare does not parse (the check can fail)', () => {
  const step = result.steps.find((s) => s.name === 'http GET')!;
  expect(parsed({ ...step, output: { ...step.output, statuss: 200 } }).success).toBe(false);
  expect(parsed({ ...step, output: { ...step.output, status: '200' } }).success).toBe(false);
});

test('TCP connect events carry both ends of the connection, as a packet capture sees them', () => {
  const connect = result.steps.find((s) => s.name === 'tcp')!.transcript.find((e) => e.kind === 'connect')!;
  expect(connect).toMatchObject({ from: 'client', to: 'www.lab.test:80', local: { address: '127.0.0.1' }, remote: { address: '127.0.0.1' } });
  expect(connect.local!.port).toBeGreaterThan(0);
  expect(connect.remote!.port).toBeGreaterThan(0);
  // FTP's data connections, and SSH's, are recorded the same way.
  const ftp = result.steps.find((s) => s.name === 'ftp active')!.transcript.filter((e) => e.kind === 'connect');
  expect(ftp.map((e) => [e.protocol, Boolean(e.local && e.remote)])).toEqual([
    ['ftp', true],
    ['ftp-data', true],
  ]);
  expect(result.steps.find((s) => s.name === 'sftp refused login')!.transcript.find((e) => e.kind === 'connect')).toMatchObject({ protocol: 'ssh', local: { address: '127.0.0.1' } });
});
