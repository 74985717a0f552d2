/**
 * `wirelab run --capture`, end to end: the built CLI runs scenarios on the embedded lab
 * and captures what crossed lo. As root it captures the machine's lo; as the user
 * nobody it re-runs itself in a user and network namespace of its own; where those are
 * disabled it says why and how to fix it. Every step's packets are checked against
 * tshark's reading of the same file.
 */
import { chmod, chown, cp, link, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunResult as WirelabResult, StepResult } from '../../lab-runner/result';
import { readCapture } from '../../lab-runner/packets/pcapng';
import { REPO_DIR, SCENARIOS_DIR, built } from '../helpers/paths';
import { run, wirelab } from '../helpers/process';
import { startUp } from '../helpers/cli';
import { rootOnly, tempDir, tsharkProblems, tsharkRows } from '../lab-runner/packets/helpers';

const PACKETS_DIR = path.join(SCENARIOS_DIR, 'packets');
const NOBODY = 65534;

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const steps = (result: WirelabResult): StepResult[] => result.scenarios.flatMap((s) => s.steps);

/**
 * For every step that has packets, each of its conversations: its rows are the frames
 * tshark puts in that Wireshark stream (tcp.stream, udp.stream) from the row first to
 * the last, no more and no fewer (a step's window is one stretch of the capture); and a
 * conversation that opened and ended within the step (a handshake, then a FIN from each
 * side or a RST) has as many rows as tshark counts for the whole stream. Returns how
 * many whole conversations were compared.
 */
async function expectTsharkAgrees(file: string, result: WirelabResult): Promise<number> {
  const frames = await tsharkRows(file, ['frame.number', 'tcp.stream', 'udp.stream']);
  const stream = new Map<string, number[]>();
  for (const f of frames) {
    const key = f['tcp.stream'] ? `tcp ${f['tcp.stream']}` : f['udp.stream'] ? `udp ${f['udp.stream']}` : 'other';
    stream.set(key, [...(stream.get(key) ?? []), Number(f['frame.number'])]);
  }
  let whole = 0;
  for (const step of steps(result)) {
    if (!step.packets) continue;
    for (const c of step.packets.conversations) {
      const key = `${c.transport} ${c.index}`;
      const rows = step.packets.rows.filter((r) => r.conversation === c.index && r.transport === c.transport).map((r) => r.frame);
      const theirs = stream.get(key) ?? [];
      const between = theirs.filter((f) => f >= rows[0]! && f <= rows[rows.length - 1]!);
      expect({ step: step.name, stream: key, frames: rows }).toEqual({ step: step.name, stream: key, frames: between });
      if (c.transport === 'tcp' && c.handshake && (c.reset !== undefined || c.fin.length === 2)) {
        expect({ step: step.name, stream: key, packets: rows.length }).toEqual({ step: step.name, stream: key, packets: theirs.length });
        whole++;
      }
    }
  }
  return whole;
}

rootOnly('as root: capture on the machine\'s lo', () => {
  test('the whole scenario suite passes with --capture; tshark opens the file without a complaint; every step carries its packets, the same frames tshark reads in the same streams', async () => {
    const out = path.join(dir, 'root');
    const file = path.join(out, 'run.pcapng');
    const ran = await wirelab(['run', '--free-ports', '--capture', file, '--report', 'json', '--out', path.join(out, 'result.json'), SCENARIOS_DIR], { ms: 80000 });
    expect(ran).toMatchObject({ code: 0 });
    expect(ran.stdout).toMatch(/capturing the lab's packets with tcpdump on lo into .*run\.pcapng/);
    const result = JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8')) as WirelabResult;
    expect(result.passed).toBe(true);
    // Every step but the lab's own (stop, start) talked to the lab, and has packets.
    expect(steps(result).filter((s) => s.action !== 'lab' && !s.packets?.rows.length).map((s) => s.name)).toEqual([]);
    expect(await tsharkProblems(file)).toEqual([]);
    expect(result.scenarios.map((s) => path.basename(s.file))).toEqual(expect.arrayContaining(['tcp-handshake.yaml', 'passwords-in-plain-text.yaml']));
    expect(await expectTsharkAgrees(file, result)).toBeGreaterThan(50);
    // Each step's own pcapng holds exactly its rows.
    for (const step of steps(result).filter((s) => s.packets)) {
      expect(readCapture(Buffer.from(step.packets!.pcapng, 'base64')).packets.length).toBe(step.packets!.rows.length);
    }
  }, 120000);

  test('the transcript\'s messages sit on the segments that carried them: the request on the client\'s first data segment', async () => {
    const out = path.join(dir, 'events');
    const ran = await wirelab(['run', '--free-ports', '--capture', path.join(out, 'c.pcapng'), '--report', 'json', '--out', path.join(out, 'r.json'), path.join(PACKETS_DIR, 'tcp-handshake.yaml')], { ms: 60000 });
    expect(ran).toMatchObject({ code: 0 });
    const result = JSON.parse(await readFile(path.join(out, 'r.json'), 'utf8')) as WirelabResult;
    const step = result.scenarios[0]!.steps[0]!;
    const request = step.transcript.findIndex((e) => e.kind === 'send' && e.protocol === 'http');
    const response = step.transcript.findIndex((e) => e.kind === 'recv' && e.protocol === 'http');
    const tcp = step.packets!.rows.filter((r) => r.transport === 'tcp');
    expect(tcp.slice(0, 3).map((r) => [r.from, r.flags.join(',')])).toEqual([
      ['client', 'SYN'],
      ['server', 'SYN,ACK'],
      ['client', 'ACK'],
    ]);
    expect(tcp.find((r) => r.length > 0)).toMatchObject({ from: 'client', seq: 1, event: request });
    expect(tcp.filter((r) => r.event === response).every((r) => r.from === 'server' && r.length > 0)).toBe(true);
    expect(tcp.filter((r) => r.event === response).reduce((n, r) => n + r.length, 0)).toBe(step.transcript[response]!.size);
    // The DNS question and its answer, each on its datagram.
    const udp = step.packets!.rows.filter((r) => r.transport === 'udp');
    expect(udp.map((r) => step.transcript[r.event!]!.kind)).toEqual(['send', 'recv']);
  }, 60000);

  test('wirelab up --capture records the lab\'s packets until Ctrl+C: a curl\'s whole connection is in the file, tcpdump waited for', async () => {
    const out = path.join(dir, 'up');
    await mkdir(out);
    const file = path.join(out, 'up.pcapng');
    const up = await startUp(['--free-ports', '--quiet', '--no-console', '--data', path.join(out, 'data'), '--capture', file], { WIRELAB_RUNTIME_DIR: path.join(out, 'run') });
    let code: number | null;
    try {
      expect(up.output()).toMatch(/capturing the lab's packets with tcpdump on lo into .*up\.pcapng \(until Ctrl\+C\)/);
      const http = up.endpoint('http');
      expect(await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${http}/`])).toMatchObject({ stdout: '200' });
    } finally {
      code = await up.stop();
    }
    expect(code).toBe(0);
    expect(up.output()).toMatch(/\d+ packets captured into .*up\.pcapng/);
    expect(await tsharkProblems(file)).toEqual([]);
    const port = up.endpoint('http').split(':')[1];
    const flags = await tsharkRows(file, ['tcp.flags.str'], ['-Y', `tcp.port == ${port}`]);
    // The handshake first, the last ACK of the close last: nothing lost at the stop.
    expect(flags.length).toBeGreaterThanOrEqual(7);
    expect(flags[0]!['tcp.flags.str']).toMatch(/S·$/);
    expect(flags.filter((f) => /F/.test(f['tcp.flags.str']!)).length).toBe(2);
  }, 60000);

  test('a secret is masked in a step\'s captured packets too, a star a byte: its pcapng still opens in tshark, with as many packets', async () => {
    const out = path.join(dir, 'secret');
    await mkdir(out);
    const scenario = path.join(out, 'secret.yaml');
    await writeFile(scenario, 'title: A secret on the wire\nsecrets: [alice]\nsteps:\n  - name: POP3 login\n    pop3: { user: alice, password: alice, retrieve: none }\n    expect: { loggedIn: true, payload: { contains: "PASS alice" } }\n');
    const ran = await wirelab(['run', '--free-ports', '--capture', path.join(out, 'run.pcapng'), '--report', 'json', '--out', path.join(out, 'r.json'), scenario]);
    expect(ran).toMatchObject({ code: 0 });
    const step = (JSON.parse(await readFile(path.join(out, 'r.json'), 'utf8')) as WirelabResult).scenarios[0]!.steps[0]!;
    const own = Buffer.from(step.packets!.pcapng, 'base64');
    expect(own.toString('latin1')).toContain('PASS *****\r\n');
    expect(own.toString('latin1')).not.toContain('alice');
    const file = path.join(out, 'step.pcapng');
    await writeFile(file, own);
    expect(await tsharkProblems(file)).toEqual([]);
    expect((await tsharkRows(file, ['frame.number'])).length).toBe(step.packets!.rows.length);
    // The run's own file is the capture as it was: it is the student's, not a report.
    expect((await readFile(path.join(out, 'run.pcapng'))).toString('latin1')).toContain('PASS alice');
  }, 60000);

  test('without --capture the packet scenarios are left out, and a step that checks packets says it needs --capture', async () => {
    const ran = await wirelab(['run', '--free-ports', PACKETS_DIR]);
    expect(ran).toMatchObject({ code: 2, stderr: expect.stringMatching(/these scenarios check packets: run them with --capture/) });
    const mixed = await wirelab(['run', '--free-ports', path.join(PACKETS_DIR, 'tcp-handshake.yaml'), path.join(SCENARIOS_DIR, 'http-basics.yaml')]);
    expect(mixed).toMatchObject({ code: 0, stdout: expect.stringMatching(/left out 1 scenario\(s\) that check packets \(run with --capture\): tcp-handshake\.yaml/) });
  }, 60000);
});

/** The built project (dist, node_modules by hard links, lab, scenarios) in a folder the user nobody may read. */
async function projectCopy(into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  await cp(path.join(REPO_DIR, 'package.json'), path.join(into, 'package.json'));
  for (const folder of ['lab', 'scenarios', 'dist']) await cp(path.join(REPO_DIR, folder), path.join(into, folder), { recursive: true });
  await linkTree(path.join(REPO_DIR, 'node_modules'), path.join(into, 'node_modules'));
  await run('chmod', ['-R', 'a+rX', into]);
  return into;
}

/** node_modules by hard links: the same files, nothing copied. */
async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const [a, b] = [path.join(from, entry.name), path.join(to, entry.name)];
    if (entry.isDirectory()) await linkTree(a, b);
    else if (entry.isSymbolicLink()) await cp(a, b, { verbatimSymlinks: true });
    else await link(a, b);
  }
}

const NOBODY_PREFIX = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', 'env', '-i', 'PATH=/usr/local/bin:/usr/bin:/bin', 'NO_COLOR=1'];

rootOnly('as the user nobody: in a network namespace of its own', () => {
  test('wirelab run --capture re-runs itself in a user and network namespace, and the scenarios pass there with their packets', async () => {
    built('lab-runner/cli.js');
    const project = await projectCopy(path.join(dir, 'project'));
    const out = path.join(dir, 'nobody');
    await mkdir(out);
    await chown(out, NOBODY, NOBODY);
    const userns = await run('setpriv', [...NOBODY_PREFIX, 'unshare', '--user', '--net', 'true']);
    if (userns.code !== 0) {
      console.warn(`skipped: unprivileged user namespaces are off here (${userns.stderr.trim()})`);
      return;
    }
    const cli = path.join(project, 'dist/lab-runner/cli.js');
    const file = path.join(out, 'run.pcapng');
    const ran = await run('setpriv', [...NOBODY_PREFIX, process.execPath, cli, 'run', '--capture', file, '--report', 'json', '--out', path.join(out, 'r.json'), path.join(project, 'scenarios/packets')], { cwd: out, ms: 60000 });
    expect(ran).toMatchObject({ code: 0 });
    expect(ran.stdout).toMatch(/only root may capture on this machine's lo; running the lab, the runner and tcpdump in a user and network namespace of their own/);
    const result = JSON.parse(await readFile(path.join(out, 'r.json'), 'utf8')) as WirelabResult;
    expect(result.passed).toBe(true);
    expect(await tsharkProblems(file)).toEqual([]);
    expect(await expectTsharkAgrees(file, result)).toBeGreaterThan(5);
  }, 90000);
});

rootOnly('where unprivileged user namespaces are disabled', () => {
  test('wirelab run --capture stops before running, and says which switch is off and how to capture', async () => {
    // A user namespace of its own whose limit of nested user namespaces is 0: the
    // machine's setting stays as it is (tests/lab-runner/packets/namespace.test.ts does the same).
    const cli = built('lab-runner/cli.js');
    const ran = await run(
      'unshare',
      ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"', process.execPath, cli, 'run', '--free-ports', '--capture', path.join(dir, 'never.pcapng'), PACKETS_DIR],
      { cwd: REPO_DIR, env: { ...process.env, NO_COLOR: '1' } },
    );
    expect(ran).toMatchObject({ code: 2 });
    expect(ran.stderr).toMatch(/^wirelab: --capture: packet capture needs root here: unprivileged user namespaces are disabled \(user\.max_user_namespaces = 0\)\. To capture: run as root \(sudo\), or sudo sysctl -w user\.max_user_namespaces=15000/m);
  }, 30000);
});
