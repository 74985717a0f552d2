/**
 * Capturing without root: the capture driver (capture-driver.ts, what `wirelab run
 * --capture` will do) run as the user nobody. It may not capture on the machine's lo,
 * so it re-runs itself in a user and network namespace of its own and captures its
 * own loopback there. And where user namespaces are disabled, it says so and why.
 */
import { chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { readCapture } from '../../../lab-runner/packets/pcapng';
import { conversations } from '../../../lab-runner/packets/flows';
import { decodePacket } from '../../../lab-runner/packets/decode';
import { enterCommand } from '../../../lab-runner/packets/namespace';
import { REPO_DIR } from '../../helpers/paths';
import { Child, run, type RunResult } from '../../helpers/process';
import { rootOnly, tempDir, tsharkProblems, tsharkRows } from './helpers';

const NOBODY = 65534;

let dir: string;
let driver: string;

/**
 * The driver and lab-runner/packets compiled into a folder anyone can read, in the
 * same layout, so the test does not depend on who may read the checkout.
 */
async function compileDriver(into: string): Promise<string> {
  const sources = [
    ...(await readdir(path.join(REPO_DIR, 'lab-runner/packets'))).filter((f) => f.endsWith('.ts')).map((f) => `lab-runner/packets/${f}`),
    'tests/lab-runner/packets/capture-driver.ts',
  ];
  for (const source of sources) {
    const { outputText } = ts.transpileModule(await readFile(path.join(REPO_DIR, source), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const target = path.join(into, source.replace(/\.ts$/, '.js'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  return path.join(into, 'tests/lab-runner/packets/capture-driver.js');
}

/** A folder nobody may write to, for the driver's output. */
async function outputFor(name: string): Promise<string> {
  const out = path.join(dir, name);
  await mkdir(out);
  await chown(out, NOBODY, NOBODY);
  return out;
}

/** A command as the user nobody, with a plain PATH. */
const NOBODY_PREFIX = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', 'env', '-i', 'PATH=/usr/local/bin:/usr/bin:/bin'];
const asNobody = (...args: string[]): Promise<RunResult> => run('setpriv', [...NOBODY_PREFIX, process.execPath, driver, ...args]);

beforeAll(async () => {
  dir = await tempDir();
  await chmod(dir, 0o755);
  driver = await compileDriver(path.join(dir, 'driver'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

rootOnly('as the user nobody', () => {
  test('may not capture on the machine\'s lo: tcpdump says so, and the capture fails with EPERM naming it', async () => {
    const out = await outputFor('direct');
    expect(await asNobody('direct', out)).toMatchObject({ code: 0 });
    const result = JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8'));
    expect(result).toMatchObject({ started: false, code: 'EPERM' });
    expect(result.message).toMatch(/tcpdump exited .* while we waited for tcpdump to capture its first probe on lo; tcpdump said: .*permission/);
  });

  test('captureAccess(): not here, but in a namespace of its own', async () => {
    const ran = await asNobody('access');
    expect(JSON.parse(ran.stdout)).toEqual({ kind: 'namespace', tool: 'tcpdump', program: expect.stringMatching(/\/tcpdump$/) });
  });

  test('re-run in its own user and network namespace, it captures its own traffic; tshark reads the file as we do', async () => {
    const out = await outputFor('namespace');
    const ran = await asNobody('capture', out);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    const result = JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8'));
    // Inside, it is still nobody (not root), and tcpdump may capture there.
    expect(result).toMatchObject({ access: { kind: 'direct' }, inNamespace: true, uid: NOBODY });
    const [tcpPort, udpPort] = result.ports as number[];
    // The exchange, the refused connection (SYN, RST), the datagram and its answer.
    const flow = (transport: string, port: number, packets: string): RegExp => new RegExp(`^${transport} 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${port} \\(${packets}\\)$`);
    expect(result.flows).toEqual([flow('tcp', tcpPort!, '\\d+'), flow('tcp', tcpPort!, '2'), flow('udp', udpPort!, '2')].map((re) => expect.stringMatching(re)));

    const file = path.join(out, 'capture.pcapng');
    expect((await stat(file)).uid).toBe(NOBODY);
    expect(await tsharkProblems(file)).toEqual([]);
    const packets = readCapture(await readFile(file)).packets;
    expect(packets.length).toBe(result.stopped.packets);
    expect(packets.length).toBe((await tsharkRows(file, ['frame.number'])).length);
    // Nothing but the driver's own traffic: the namespace's lo is private, and the probes are left out.
    const ports = new Set(conversations(packets.map(decodePacket)).map((c) => c.server.port));
    expect([...ports].sort()).toEqual([tcpPort, udpPort].sort());
  });

  test('a lab left running in its namespace is reached from another shell with enterCommand()', async () => {
    const held = Child.start('setpriv', [...NOBODY_PREFIX, process.execPath, driver, 'hold'], { name: 'the capture driver holding a lab', stdin: 'pipe' });
    try {
      const [, line] = await held.waitFor(/^(\{.*\})$/);
      const { pid, port } = JSON.parse(line!) as { pid: number; port: number };
      const [command, ...args] = enterCommand(pid);
      const inside = await run('setpriv', [...NOBODY_PREFIX, command!, ...args, 'sh', '-c', `id -u && nc -z -w 5 127.0.0.1 ${port}`]);
      expect(inside).toMatchObject({ code: 0, stdout: `${NOBODY}\n` });
    } finally {
      held.process.stdin!.end();
      await held.exit();
    }
  });
});

rootOnly('where unprivileged user namespaces are disabled', () => {
  test('no capture, and the reason names the switch and what to do', async () => {
    // A user namespace of its own whose limit of nested user namespaces is 0: inside
    // it, making one fails as on a machine with user.max_user_namespaces = 0, without
    // touching this machine's setting.
    const ran = await run('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$1" access', process.execPath, driver]);
    expect(ran).toMatchObject({ code: 0 });
    const access = JSON.parse(ran.stdout);
    expect(access.kind).toBe('none');
    expect(access.reason).toBe(
      'packet capture needs root here: unprivileged user namespaces are disabled (user.max_user_namespaces = 0). ' +
        'To capture: run as root (sudo), or sudo sysctl -w user.max_user_namespaces=15000, or let tcpdump capture as you (sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)).',
    );
  });
});
