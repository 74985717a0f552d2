import { chmod, cp, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitUntilUp } from '../lab-runner/grade/target';
import { packageRoot } from '../services/common/paths';
import { Daemon, type DaemonOptions } from './process';

/**
 * Starting a server for the bench, ours or a reference daemon, and waiting until it
 * answers: every port accepts a connection (a DNS port: answers a query), checked
 * again and again until a deadline, never after a fixed sleep.
 */

export const HOST = '127.0.0.1';

/**
 * The whole load of a figure comes from one address (127.0.0.1: wrk's 500 connections,
 * smtp-source's 20 senders), where a class is thirty: the per-address share
 * (maxConnectionsPerAddress) would refuse most of it, as it should a student; raised for
 * the bench, as nginx and Postfix have no such share by default.
 */
export const ONE_LOAD_ADDRESS = { MAX_CONNECTIONS_PER_ADDRESS: '1000' };
const STARTUP_MS = 20_000;

export interface Started {
  daemon: Daemon;
  /** The ports it listens on, by name: `{ http: 20123 }`. */
  ports: Record<string, number>;
  label: string;
}

/** Start `options` and wait until each of `ready` answers (kind `dns`: a UDP query, else a TCP connect). */
export async function startServer(options: DaemonOptions, ready: { kind: 'tcp' | 'dns'; port: number }[], label = options.name): Promise<Daemon> {
  const daemon = new Daemon(options);
  try {
    for (const r of ready) {
      await waitUntilUp(r.kind === 'dns' ? 'dns' : 'http', HOST, r.port, STARTUP_MS, () => (daemon.failure() ? `${daemon.failure()}; its log: ${options.logFile ?? '(none)'}` : undefined));
    }
  } catch (err) {
    await daemon.stop(1000);
    throw new Error(`${label} did not start: ${(err as Error).message}`);
  }
  return daemon;
}

/** Free ports on 127.0.0.1 for a server that cannot be told to bind port 0 and say which it got. */
export async function ports<K extends string>(names: K[], udp = false): Promise<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const name of names) out[name] = await freePort(udp);
  return out;
}

/**
 * A copy of lab/ in the bench's scratch folder, readable by everyone: the reference
 * daemons' workers run as unprivileged users (nginx's as nobody), and both sides serve
 * the very same files.
 */
export async function labCopy(dir: string): Promise<string> {
  const lab = path.join(dir, 'lab-world');
  await cp(path.join(packageRoot(), 'lab'), lab, { recursive: true });
  await openUp(lab);
  return lab;
}

/** chmod a+rX, recursively. */
export async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir)) {
    const p = path.join(dir, entry);
    if ((await stat(p)).isDirectory()) await openUp(p);
    else await chmod(p, 0o644);
  }
}

/** A folder under `dir`, made if missing. */
export async function folder(dir: string, ...parts: string[]): Promise<string> {
  const p = path.join(dir, ...parts);
  await mkdir(p, { recursive: true });
  return p;
}

/**
 * One of our services as its own process, the way its container runs it:
 * `node dist/services/<service>/main.js`, settings in the environment, its log (stderr)
 * into a file, as Docker keeps it.
 */
export async function startOurs(
  service: string,
  options: { dir: string; lab: string; env: Record<string, string>; ready: { kind: 'tcp' | 'dns'; port: number }[] },
): Promise<Daemon> {
  const data = await folder(options.dir, `data-${service}`);
  return startServer(
    {
      name: `wirelab ${service}`,
      command: process.execPath,
      args: [path.join(packageRoot(), 'dist', 'services', service, 'main.js')],
      env: { ...process.env, WIRELAB_LAB: options.lab, WIRELAB_DATA: data, ...options.env },
      logFile: path.join(options.dir, `${service}.log`),
    },
    options.ready,
  );
}

/** Where startOurs() keeps a service's state. */
export function oursData(dir: string, service: string): string {
  return path.join(dir, `data-${service}`);
}
