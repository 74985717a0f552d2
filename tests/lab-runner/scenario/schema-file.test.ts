import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { parseScenario } from '../../../lab-runner/scenario/load';
import { scenarioJsonSchema } from '../../../lab-runner/scenario/schema';
import { STACK } from '../../../lab-runner/wire';
import { parseZoneFile } from '../../../services/dns/zonefile';
import { LAB_DIR, REPO_DIR, SCENARIOS_DIR } from '../../helpers/paths';

const committed = JSON.parse(readFileSync(path.join(REPO_DIR, 'scenario.schema.json'), 'utf8'));

test('scenario.schema.json is the schema the loader uses (regenerate with `npm run schema`)', () => {
  expect(committed).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
});

/** The checked-in schema, as an editor (yaml-language-server, VS Code) validates with it: formats included. */
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(committed);
const errorsOf = (data: unknown): string[] => (validate(data) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`));

describe('every shipped scenario is valid against scenario.schema.json', () => {
  const dir = SCENARIOS_DIR;
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  test('there are scenarios', () => expect(files.length).toBeGreaterThan(10));
  test.each(files)('%s', (file) => {
    expect(errorsOf(parse(readFileSync(path.join(dir, file), 'utf8')))).toEqual([]);
  });
});

/** A one-step scenario around a step, as YAML, for the loader and as data, for ajv. */
const scenario = (step: string): string => `title: t\nsteps:\n  - name: s\n${step.replace(/^/gm, '    ')}\n`;

describe('the loader and the JSON Schema agree on expect: and save:', () => {
  const good = [
    'http: { url: "http://www.lab.test/" }\nexpect: { status: 200, headers: { content-type: { contains: html } }, "json.notes[0].title": x }',
    'http: { url: "http://www.lab.test/" }\nexpect: { status: { oneOf: [200, 204] }, connection: { reused: false }, code: { exists: false } }',
    'http: { url: "http://www.lab.test/" }\nexpect: { json: { anything: { at: all } }, body: { not: { contains: x } } }',
    'dns: { reverse: "${ip}", type: "${t}" }\nexpect: { "answers[0].data.exchange": x, answers: { length: { gte: 1 } }, flags: { aa: true } }',
    'tcp: { host: www.lab.test, port: "${port}" }\nexpect: { transcript: { contains: { kind: send } } }\nsave: { first: firstLine, n: lines.length }',
    'lab: { action: status, service: sftp }\nexpect: { info.fingerprint: { regex: "^SHA256:" }, state: running }\nsave: { fp: info.fingerprint }',
    'lab: { action: logs, service: smtp }\nexpect: { wire: { length: { gte: 1 } }, lines: { contains: x } }',
  ];
  const bad: [string, RegExp][] = [
    ['http: { url: "http://www.lab.test/" }\nexpect: { status: { equal: 200 } }', /:5:.*status is a number, so the keys under it are operators .*"equal" is not one \(did you mean "equals"\?\)/],
    ['http: { url: "http://www.lab.test/" }\nexpect: { statuss: 200 }', /:5:.*the http result has no field "statuss" \(did you mean "status"\?\); it has: url, address, .*status.*, error, code, tls, transcript/],
    ['http: { url: "http://www.lab.test/" }\nexpect: { header.content-type: text/html }', /:5:.*has no field "header" \(did you mean "headers"\?\)/],
    ['http: { url: "http://www.lab.test/" }\nexpect: { headers: { content-type: { contain: html } } }', /headers\.content-type is text, .*"contain" is not one/],
    ['http: { url: "http://www.lab.test/" }\nexpect: { connection: { reuse: true } }', /connection has no field "reuse" \(did you mean "reused"\?\); it has: name, reused, localPort, requests/],
    ['dns: { query: www.lab.test }\nexpect: { answers: { length: { gtee: 1 } } }', /answers\.length is a number, .*"gtee" is not one/],
    ['dns: { query: www.lab.test }\nexpect: { flags: { qr: { is: true } } }', /flags\.qr is true or false, .*"is" is not one/],
    ['dns: { query: www.lab.test }\nsave: { ip: "answer[0].data" }', /:5:.*save: the dns result has no field "answer" \(did you mean "answers"\?\)/],
    ['smtp: { from: a@lab.test, to: b@lab.test }\nexpect: { status: 250 }', /the smtp result has no field "status"/],
  ];
  test.each(good)('accepted: %s', (step) => {
    const text = scenario(step);
    expect(() => parseScenario(text.replace('title: t', 'title: t\nvars: { ip: 1.2.3.4, t: A, port: 80 }'), 'x.yaml')).not.toThrow();
    expect(errorsOf(parse(text))).toEqual([]);
  });
  test.each(bad)('refused: %s', (step, message) => {
    const text = scenario(step);
    expect(() => parseScenario(text, 'x.yaml')).toThrow(message);
    expect(errorsOf(parse(text))).not.toEqual([]);
  });
});

test('every service host in the lab plan resolves, in the zone files, to its address in the plan', () => {
  const dir = path.join(LAB_DIR, 'zones');
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.zone'))
    .flatMap((f) => parseZoneFile(readFileSync(path.join(dir, f), 'utf8'), { file: f }).records);
  for (const service of STACK) {
    const a = records.filter((r) => r.name === service.host && r.type === 'A').map((r) => r.data);
    expect([service.host, a]).toEqual([service.host, [service.address]]);
  }
});
