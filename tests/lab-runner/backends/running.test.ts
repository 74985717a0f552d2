import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { labWithDns, networkOf, readLabFile, registerLab, runningLabs, standardLab } from '../../../lab-runner/backends/running';
import type { ServiceStatus } from '../../../lab-runner/backends/types';

/**
 * The running labs' files (backends/running.ts): what `wirelab up` writes and the
 * explorers read to find where a lab really listens.
 */

let dir: string;
const saved = process.env.WIRELAB_RUNTIME_DIR;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-running-'));
  process.env.WIRELAB_RUNTIME_DIR = dir;
});
afterEach(async () => {
  if (saved === undefined) delete process.env.WIRELAB_RUNTIME_DIR;
  else process.env.WIRELAB_RUNTIME_DIR = saved;
  await rm(dir, { recursive: true, force: true });
});

const statuses: ServiceStatus[] = [
  { name: 'dns', host: 'ns.lab.test', state: 'running', endpoints: { dns: '127.0.0.1:40053' } },
  { name: 'http', host: 'www.lab.test', state: 'running', endpoints: { http: '127.0.0.1:40080' } },
  { name: 'smtp', host: 'mail.lab.test', state: 'running', endpoints: { smtp: '127.0.0.1:40025', submission: '127.0.0.1:40587' } },
];

test('a registered lab is found by its DNS endpoint, routes its lab ports, and is gone once removed', () => {
  const registered = registerLab(statuses, '/tmp/data');
  expect(runningLabs().map((l) => l.pid)).toEqual([process.pid]);
  const lab = labWithDns('127.0.0.1:40053')!;
  expect(lab.services.http).toEqual({ http: '127.0.0.1:40080' });
  expect(labWithDns('localhost:40053')?.file).toBe(registered.file);
  expect(labWithDns('127.0.0.1:5353')).toBeUndefined();
  const network = networkOf(lab);
  expect(network.dns).toMatchObject({ host: '127.0.0.1', port: 40053 });
  expect(network.route('172.28.0.25', 587)).toMatchObject({ host: '127.0.0.1', port: 40587, label: 'mail.lab.test:587' });
  registered.remove();
  expect(existsSync(registered.file)).toBe(false);
  expect(runningLabs()).toEqual([]);
});

test('a file left by a lab whose process is gone is ignored', async () => {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  await writeFile(path.join(dir, 'lab-127.0.0.1-40053.json'), JSON.stringify({ pid: child.pid, startedAt: '', dataDir: '', services: { dns: { dns: '127.0.0.1:40053' } } }));
  expect(runningLabs()).toEqual([]);
});

test('a file naming an address off this machine is refused: an explorer never leaves loopback', async () => {
  const file = path.join(dir, 'lab-x.json');
  await writeFile(file, JSON.stringify({ pid: process.pid, services: { dns: { dns: '127.0.0.1:40053' }, http: { http: '192.0.2.1:80' } } }));
  expect(() => readLabFile(file)).toThrow(/http\.http is 192\.0\.2\.1:80; a lab file names 127\.0\.0\.1:PORT endpoints only/);
  expect(runningLabs()).toEqual([]);
});

test('the standard lab is the plan\'s embedded ports', () => {
  expect(networkOf(standardLab()).route('172.28.0.80', 80)).toMatchObject({ host: '127.0.0.1', port: 8080 });
});

test('a network that knows only some of the lab refuses, with the reason, instead of guessing', () => {
  const network = networkOf({ services: { dns: { dns: '127.0.0.1:40053' } } }, 'pass --lab-ports FILE');
  expect(() => network.route('172.28.0.80', 80)).toThrow(expect.objectContaining({ code: 'ENOROUTE', message: 'where www.lab.test:80 listens is not known: pass --lab-ports FILE' }));
  expect(network.route('127.0.0.1', 9000)).toMatchObject({ host: '127.0.0.1', port: 9000 });
  expect(() => networkOf({ services: {} }, 'choose one with --dns').dns).toThrow(/where the lab DNS listens is not known: choose one with --dns/);
});
