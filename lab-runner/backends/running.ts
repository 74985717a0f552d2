import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { caCertificateFile } from '../../services/common/certificates';
import { defaultDataDir } from '../../services/common/paths';
import { isLoopback, LabNetwork, splitHostPort, STACK, type Endpoint } from '../wire';
import type { ServiceStatus } from './types';

/**
 * The embedded labs running on this machine, and where each one's services really
 * listen. `wirelab up` writes a small file for its lab (removed when it stops); the
 * exploring clients (`wirelab http`, `smtp`, ...) read it, so `wirelab up --free-ports`
 * in one terminal and `wirelab http http://www.lab.test/` in another talk to that lab,
 * on the ports it really got.
 *
 * A lab is known by its DNS server: no two labs can listen on the same DNS port, so
 * `--dns 127.0.0.1:PORT` names exactly one file, and that file says where the lab's
 * other services are. The files live in a folder of this user's ($XDG_RUNTIME_DIR/wirelab,
 * else wirelab-<uid> in the temporary folder; $WIRELAB_RUNTIME_DIR overrides both).
 * Only loopback addresses are taken from a file: an explorer never leaves this machine.
 */

export interface RunningLab {
  /** The file this lab is described in. */
  file: string;
  /** The process that runs it: a file whose process is gone is stale and ignored. */
  pid: number;
  startedAt: string;
  dataDir: string;
  /** Service -> port name -> `127.0.0.1:PORT`, as `wirelab up` prints them. */
  services: Record<string, Record<string, string>>;
}

/** The folder the running labs' files are in. */
export function runtimeDir(): string {
  if (process.env.WIRELAB_RUNTIME_DIR) return process.env.WIRELAB_RUNTIME_DIR;
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'wirelab');
  return path.join(os.tmpdir(), `wirelab-${os.userInfo().uid}`);
}

/** The lab's DNS endpoint, `127.0.0.1:40123`: what names the lab. */
export function dnsOf(lab: Pick<RunningLab, 'services'>): string | undefined {
  return lab.services.dns?.dns;
}

/**
 * Describe a started lab in the runtime folder; the returned function removes the file
 * (call it when the lab stops). A file left by a lab that died is ignored by readers,
 * and replaced by the next lab on the same DNS port.
 */
export function registerLab(statuses: ServiceStatus[], dataDir: string): { file: string; remove(): void } {
  const services = Object.fromEntries(statuses.filter((s) => s.state !== 'target').map((s) => [s.name, s.endpoints]));
  const dns = dnsOf({ services });
  if (!dns) throw new Error('a lab without a DNS server cannot be described for the explorers');
  const dir = runtimeDir();
  // Only this user reads and writes here: another user's file must not steer our explorers.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `lab-${dns.replace(/[^0-9a-z.]+/gi, '-')}.json`);
  const lab: Omit<RunningLab, 'file'> = { pid: process.pid, startedAt: new Date().toISOString(), dataDir: path.resolve(dataDir), services };
  writeFileSync(file, JSON.stringify(lab, null, 2) + '\n', { mode: 0o600 });
  return { file, remove: () => rmSync(file, { force: true }) };
}

/** Every lab whose process is still running, oldest first. */
export function runningLabs(): RunningLab[] {
  let names: string[];
  try {
    names = readdirSync(runtimeDir()).filter((n) => /^lab-.*\.json$/.test(n));
  } catch {
    return [];
  }
  const labs = names.flatMap((name) => {
    try {
      const lab = readLabFile(path.join(runtimeDir(), name));
      return alive(lab.pid) ? [lab] : [];
    } catch {
      return []; // half written, or not ours: not a lab to talk to
    }
  });
  return labs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** The running lab whose DNS listens at `dns` (`127.0.0.1:40123`), if `wirelab up` started one there. */
export function labWithDns(dns: string): RunningLab | undefined {
  const [host, port] = splitHostPort(dns, 53);
  return runningLabs().find((lab) => {
    const [h, p] = splitHostPort(dnsOf(lab) ?? '', 53);
    return p === port && (h === host || (host === 'localhost' && h === '127.0.0.1'));
  });
}

/** A lab file, checked: every endpoint a loopback `HOST:PORT`. Throws with the reason. */
export function readLabFile(file: string): RunningLab {
  if (statSync(file).uid !== os.userInfo().uid) throw new Error(`${file} belongs to another user`);
  const text = readFileSync(file, 'utf8');
  const lab = JSON.parse(text) as Partial<RunningLab>;
  if (typeof lab.pid !== 'number' || !lab.services || typeof lab.services !== 'object') throw new Error(`${file}: not a lab file written by \`wirelab up\``);
  for (const [service, ports] of Object.entries(lab.services)) {
    for (const [port, where] of Object.entries(ports)) {
      const [host, number] = splitHostPort(String(where), 0);
      if (!isLoopback(host) || !(number > 0 && number < 65536)) throw new Error(`${file}: ${service}.${port} is ${String(where)}; a lab file names 127.0.0.1:PORT endpoints only`);
    }
  }
  return { file, pid: lab.pid, startedAt: String(lab.startedAt ?? ''), dataDir: String(lab.dataDir ?? ''), services: lab.services };
}

/**
 * The lab at its standard embedded ports (5353, 8080, ...): an embedded lab started
 * without --free-ports, or the Docker lab, which publishes the same port numbers.
 */
export function standardLab(): Pick<RunningLab, 'services'> {
  return { services: Object.fromEntries(STACK.map((plan) => [plan.name, Object.fromEntries(Object.entries(plan.ports).map(([k, p]) => [k, `127.0.0.1:${p.embedded}`]))])) };
}

/**
 * The lab network of a running lab: lab names and ports routed to where it listens,
 * and loopback addresses let through as they are; its TLS clients trust the lab's CA
 * (in its data folder; `wirelab up`'s default one when the lab does not say).
 * `unrouted`: see LabNetwork.
 */
export function networkOf(lab: Pick<RunningLab, 'services'> & { dataDir?: string }, unrouted?: string): LabNetwork {
  const endpoints = new Map<string, Record<string, Endpoint>>();
  for (const plan of STACK) {
    const ports = lab.services[plan.name];
    if (!ports) continue;
    endpoints.set(plan.name, Object.fromEntries(Object.entries(ports).map(([name, where]) => {
      const [host, port] = splitHostPort(where, 0);
      return [name, { host, port }];
    })));
  }
  return LabNetwork.fromEndpoints(endpoints, { allowLoopback: true, unrouted, caFile: caCertificateFile(lab.dataDir || defaultDataDir()) });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but not ours to signal
  }
}
