import { parseScenario, ScenarioError } from '../../../lab-runner/scenario/load';
import { scenarioJsonSchema } from '../../../lab-runner/scenario/schema';

/** The problems a file has, as `line:column: message` strings. */
function problems(text: string): string[] {
  try {
    parseScenario(text, 'bad.yaml');
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    expect(err.message.split('\n').every((l) => l.startsWith('bad.yaml:'))).toBe(true);
    return err.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
  }
  throw new Error('the scenario loaded, but it should not have');
}

const good = `
title: Good
tags: [dns]
vars: { name: www.lab.test }
steps:
  - name: look up
    dns: { query: "\${name}", type: A }
    expect:
      rcode: NOERROR
      answers: { length: 1 }
    save:
      ip: answers[0].data
    points: 2
    hint: look at the zone
  - name: fetch
    http: { url: "http://\${ip}/" }
    expect: { status: 200 }
    timeout: 2s
    retry: { attempts: 3, interval: 100ms }
`;

describe('scenario loader', () => {
  test('a good file loads with defaults, points, lines and variable uses', () => {
    const s = parseScenario(good, 'good.yaml');
    expect(s).toMatchObject({ title: 'Good', tags: ['dns'], maxPoints: 3, vars: { name: 'www.lab.test' } });
    expect(s.steps.map((st) => [st.action, st.line, st.points, st.timeoutMs])).toEqual([
      ['dns', 6, 2, 5000],
      ['http', 15, 1, 2000],
    ]);
    expect(s.steps[1]!.uses).toEqual(['ip']);
    expect(s.steps[1]!.retry).toEqual({ attempts: 3, intervalMs: 100 });
    expect(s.steps[0]!.lineOf(['expect', 'answers'])).toBe(10);
    expect(s.steps[0]!.checks.map((c) => c.path)).toEqual(['rcode', 'answers']);
  });

  test('YAML syntax errors name the line, once, with a hint for [ inside { }', () => {
    expect(problems('title: t\nsteps:\n  - name: a\n    dns: { query: x }\n    save: { ip: answers[0].data }\n')).toEqual([
      expect.stringMatching(/^5:24: YAML: .*inside \{ \} a \[ starts a YAML list: quote the value/),
    ]);
    expect(problems('title: x\nsteps:\n  - name: a\n   dns: {')[0]).toMatch(/^\d+:\d+: YAML: /);
    expect(problems('title: t\nsteps:\n  - name: a\n    hint: say "Connection: close"\n')).toEqual([expect.stringMatching(/^4:\d+: YAML: .*\(a value with ": " in it must be in quotes\)$/)]);
    expect(problems('title: a\ntitle: b\nsteps: []\n')[0]).toMatch(/^2:1: YAML: Map keys must be unique/);
  });

  test('a missing field, a wrong type, an unknown key: line, column and what was expected', () => {
    expect(problems('steps:\n  - name: a\n    dns: { query: x }\n')).toEqual(['1:1: title: missing (expected string)']);
    const p = problems('title: t\nsteps:\n  - name: a\n    dns: { query: x, type: AAA }\n    pionts: 3\n');
    expect(p).toContainEqual(expect.stringMatching(/^4:28: steps\[0\]\.dns\.type: expected one of .*"AAAA".*, got "AAA"$/));
    expect(p).toContainEqual('5:5: steps[0]: unknown key "pionts"; expected one of: name, dns, http, tcp, wait, lab, smtp, pop3, imap, ftp, sftp, tls, expect, save, points, hint, timeout, retry, visibility');
    expect(problems('title: t\nsteps:\n  - name: a\n    tcp: { host: www.lab.test, port: 99999 }\n')[0]).toMatch(/^4:38: steps\[0\]\.tcp\.port: .*65535.*, got 99999$/);
  });

  test('a step needs exactly one action', () => {
    expect(problems('title: t\nsteps:\n  - name: nothing\n')[0]).toBe('3:5: steps[0]: a step needs one action: dns, http, tcp, wait, lab, smtp, pop3, imap, ftp, sftp, tls');
    expect(problems('title: t\nsteps:\n  - name: two\n    dns: { query: x }\n    wait: { service: dns }\n')[0]).toMatch(/has dns and wait: split it/);
  });

  test('an expectation that cannot work points at its key', () => {
    const p = problems('title: t\nsteps:\n  - name: a\n    dns: { query: x }\n    expect:\n      rcode: NOERROR\n      answers: { length: { gt: lots } }\n');
    expect(p).toEqual(['7:32: expect: > needs a number, got "lots"']);
  });

  test('a variable no earlier step saves is refused, naming what is known', () => {
    const p = problems('title: t\nsteps:\n  - name: a\n    dns: { query: x }\n    save: { ip: "answers[0].data" }\n  - name: b\n    http: { url: "http://${addr}/" }\n');
    expect(p).toEqual(['7:18: ${addr} is not defined by vars: or an earlier step\'s save: (variables known here: ip)']);
  });

  test('a placeholder may stand where a number goes; it is checked when the step runs', () => {
    const s = parseScenario('title: t\nvars: { p: 80 }\nsteps:\n  - name: a\n    tcp: { host: www.lab.test, port: "${p}" }\n', 'p.yaml');
    expect(s.steps[0]!.input).toEqual({ host: 'www.lab.test', port: '${p}' });
  });

  test('bad durations and empty files', () => {
    expect(problems('title: t\nsteps:\n  - name: a\n    wait: { service: dns }\n    timeout: soon\n')[0]).toMatch(/^5:14: steps\[0\]\.timeout: /);
    expect(problems('')[0]).toMatch(/^1:1: expected object/);
  });

  test('the JSON Schema for editors has every action and the one-action rule', () => {
    const schema = scenarioJsonSchema() as { properties: { steps: { items: { properties: Record<string, unknown>; oneOf: unknown[] } } } };
    const step = schema.properties.steps.items;
    expect(Object.keys(step.properties)).toEqual(expect.arrayContaining(['dns', 'http', 'tcp', 'wait', 'lab', 'smtp', 'pop3', 'expect', 'save']));
    expect(step.oneOf).toHaveLength(11);
  });
});

describe('scenario loader: visibility and secrets', () => {
  const withBoth = `
title: Graded
visibility: after_due_date
secrets: [password, token, hunter2]
vars: { password: s3cret }
steps:
  - name: inherits
    dns: { query: www.lab.test }
  - name: own
    visibility: hidden
    http: { url: "http://www.lab.test/" }
    save: { token: body }
`;

  test('a step inherits its scenario visibility unless it has its own; the default is visible', () => {
    const s = parseScenario(withBoth, 'v.yaml');
    expect(s.visibility).toBe('after_due_date');
    expect(s.steps.map((st) => st.visibility)).toEqual(['after_due_date', 'hidden']);
    const plain = parseScenario('title: t\nsteps:\n  - name: a\n    dns: { query: x }\n  - name: b\n    visibility: after_published\n    dns: { query: x }\n', 'p.yaml');
    expect(plain.visibility).toBe('visible');
    expect(plain.steps.map((st) => st.visibility)).toEqual(['visible', 'after_published']);
  });

  test('secrets: names of vars: and save: variables are variables, anything else is a literal', () => {
    const s = parseScenario(withBoth, 'v.yaml');
    expect(s.secrets).toEqual({ variables: ['password', 'token'], literals: ['hunter2'] });
    expect(parseScenario('title: t\nsteps:\n  - name: a\n    dns: { query: x }\n', 'p.yaml').secrets).toEqual({ variables: [], literals: [] });
  });

  test('a bad visibility or secret names its line, column and the allowed values', () => {
    expect(problems('title: t\nvisibility: secret\nsteps:\n  - name: a\n    dns: { query: x }\n')).toEqual([
      '2:13: visibility: expected one of "visible"|"hidden"|"after_due_date"|"after_published", got "secret"',
    ]);
    expect(problems('title: t\nsteps:\n  - name: a\n    visibility: Hidden\n    dns: { query: x }\n')[0]).toMatch(/^4:17: steps\[0\]\.visibility: expected one of .*"hidden".*, got "Hidden"$/);
    expect(problems('title: t\nsecrets: password\nsteps:\n  - name: a\n    dns: { query: x }\n')[0]).toMatch(/^2:10: secrets: expected array/);
    expect(problems('title: t\nsecrets: [ok, ""]\nsteps:\n  - name: a\n    dns: { query: x }\n')[0]).toMatch(/^2:15: secrets\[1\]: /);
    expect(problems('title: t\nsecret: [x]\nsteps:\n  - name: a\n    dns: { query: x }\n')).toEqual([
      '2:1: unknown key "secret"; expected one of: title, description, tags, vars, secrets, visibility, steps',
    ]);
  });

  test('the JSON Schema for editors knows visibility and secrets', () => {
    const schema = scenarioJsonSchema() as { properties: Record<string, { enum?: string[]; items?: { properties: Record<string, { enum?: string[] }> } }> };
    expect(schema.properties.visibility!.enum).toEqual(['visible', 'hidden', 'after_due_date', 'after_published']);
    expect(schema.properties.secrets).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(schema.properties.steps!.items!.properties.visibility!.enum).toEqual(['visible', 'hidden', 'after_due_date', 'after_published']);
  });
});

describe('checks on packets (--capture)', () => {
  const step = (expect: string): string => `title: t\nsteps:\n  - name: a\n    http: { url: "http://www.lab.test/" }\n    expect:\n${expect}`;

  test('tcp, packets and payload are checked when the scenario loads, and mark the step and scenario as needing --capture', () => {
    const s = parseScenario(step('      tcp: { handshake: true, connections: 1 }\n      packets: { contains: { flags: SYN } }\n      payload: { contains: "GET /" }\n'), 'p.yaml');
    expect(s.steps[0]!.needsCapture).toBe(true);
    expect(s.needsCapture).toBe(true);
    expect(parseScenario(step('      status: 200\n'), 'p.yaml').needsCapture).toBe(false);
  });

  test('a misspelt packet field names its line and the fields there are', () => {
    expect(problems(step('      tcp: { handshak: true }\n'))).toEqual([
      '6:24: expect: tcp has no field "handshak" (did you mean "handshake"?); it has: handshake, connections, reset, retransmissions',
    ]);
    expect(problems(step('      packets[0].flag: SYN\n'))[0]).toMatch(/^6:24: expect: packets\[0\] has no field "flag" \(did you mean "flags"\?\)/);
  });
});
