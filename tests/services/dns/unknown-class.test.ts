/**
 * A query in a class the lab does not serve (CLASS1234, RFC 3597 5), asked with dig and
 * kdig, answered by the lab's server and by NSD (the reference: an authoritative
 * server, run here on loopback with a copy of lab/zones/lab.test.zone). Both say
 * REFUSED and keep the OPT record of an EDNS query; neither says FORMERR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dig, digHeader, LAB, startLab, type RunningServer } from '../dns-clients';
import { freePort, within } from '../smtp-harness';

let lab: RunningServer;
let nsd: { port: number; stop(): Promise<void> };

beforeAll(async () => {
  lab = await startLab();
  nsd = await startNsd();
});

afterAll(async () => {
  await lab?.server.close();
  await nsd?.stop();
});

/** What a reply says, in dig's words: its status, whether it has an OPT record, how many questions it repeats. */
function summary(out: string): { status: string; opt: boolean; questions: number } {
  return { status: digHeader(out).status, opt: out.includes('OPT PSEUDOSECTION'), questions: Number(/QUERY: (\d+)/.exec(out)?.[1]) };
}

describe('dig -c CLASS1234 www.lab.test A', () => {
  test('with EDNS (dig\'s default): REFUSED with the OPT record, from both servers', async () => {
    const ours = await dig(lab.port, '-c', 'CLASS1234', 'www.lab.test', 'A');
    const reference = await dig(nsd.port, '-c', 'CLASS1234', 'www.lab.test', 'A');
    expect(summary(reference)).toMatchObject({ status: 'REFUSED', opt: true });
    expect(summary(ours)).toMatchObject({ status: 'REFUSED', opt: true });
    // NSD leaves the question out; we repeat it as it was asked (RFC 1035 4.1.2), so
    // dig shows it and has nothing to warn about.
    expect(summary(ours).questions).toBe(1);
    expect(ours).toMatch(/;www\.lab\.test\.\s+CLASS1234\s+A/);
    expect(ours).not.toContain('WARNING: response doesn');
    expect(lab.lines.some((l) => / dns info query .*name=www\.lab\.test type=A class=CLASS1234 rcode=REFUSED answers=0/.test(l))).toBe(true);
  });

  test('without EDNS: REFUSED and no OPT record, from both servers', async () => {
    for (const port of [nsd.port, lab.port]) {
      expect(summary(await dig(port, '+noedns', '-c', 'CLASS1234', 'www.lab.test', 'A'))).toMatchObject({ status: 'REFUSED', opt: false });
    }
  });

  test('over TCP with kdig +edns: REFUSED with the OPT record', async () => {
    const out = await run('kdig', ['@127.0.0.1', '-p', String(lab.port), '+tcp', '+edns', '-c', 'CLASS1234', 'www.lab.test', 'A']);
    expect(out).toMatch(/status: REFUSED/);
    expect(out).toContain('EDNS PSEUDOSECTION');
  });

  test('the same question in class IN is still answered', async () => {
    const out = await dig(lab.port, 'www.lab.test', 'A');
    expect(digHeader(out)).toMatchObject({ status: 'NOERROR', answers: 1 });
  });
});

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

/** NSD in the foreground on 127.0.0.1 (UDP and TCP) with a copy of the lab zone; ready when it logs "nsd started". */
async function startNsd(): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-nsd-'));
  const port = await freePort();
  await copyFile(path.join(LAB, 'zones', 'lab.test.zone'), path.join(dir, 'lab.test.zone'));
  const conf = [
    'server:',
    `  ip-address: 127.0.0.1@${port}`,
    '  do-ip6: no',
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${dir}"`,
    '  database: ""',
    `  pidfile: "${dir}/nsd.pid"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  zonelistfile: "${dir}/zone.list"`,
    '  server-count: 1',
    'remote-control:',
    '  control-enable: no',
    'zone:',
    '  name: lab.test',
    '  zonefile: lab.test.zone',
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'nsd.conf'), conf);
  const child: ChildProcess = spawn('nsd', ['-d', '-c', path.join(dir, 'nsd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await within(
    new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/nsd started/.test(log)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`nsd exited (${code}) before it started:\n${log}`)));
      child.once('error', reject);
    }),
    15000,
    'nsd to log "nsd started"',
  );
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
