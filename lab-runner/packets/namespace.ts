import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * May this process capture packets, and if not, how could it?
 *
 * Capturing needs the CAP_NET_RAW capability (packet(7)): root has it, a student's
 * account does not. But Linux lets any user make a new user namespace, in which they
 * hold every capability, together with a new network namespace that belongs to it:
 * an empty network with its own loopback interface. Inside, the lab, the runner and
 * tcpdump share that private `lo`, and tcpdump may capture it (user_namespaces(7),
 * network_namespaces(7)). That is what `unshare --user --net` does:
 *
 *   unshare --user --map-user=$(id -u) --map-group=$(id -g) --net --keep-caps -- wirelab run --capture
 *
 * - `--map-user`: inside, we are still ourselves (not root): tcpdump started as root
 *   tries to switch to its own user, which does not exist in the namespace, and fails
 *   (measured: "Couldn't change to 'tcpdump' uid=105").
 * - `--keep-caps`: the capabilities we hold in the namespace survive exec, so the
 *   runner's children (ip, tcpdump) have them too.
 * - A new network namespace's `lo` is down: `ip link set lo up` (iproute2) first.
 *
 * Some systems turn unprivileged user namespaces off (a sysctl, or AppArmor on
 * Ubuntu 24.04): then there is no capture without root, and whyNoNamespace() says
 * which switch is off.
 */

/** The programs that can capture: tcpdump (Debian: tcpdump), dumpcap (Debian: wireshark-common). */
export type CaptureTool = 'tcpdump' | 'dumpcap';

/** Set in the environment of a command re-run in its own namespace. */
export const NAMESPACE_ENV = 'WIRELAB_CAPTURE_NAMESPACE';

export type CaptureAccess =
  /** This process may capture on the interface as it is (root, or a tool with file capabilities). */
  | { kind: 'direct'; tool: CaptureTool; program: string }
  /** Not here, but in a user and network namespace of its own: re-run the command with runInNamespace(). */
  | { kind: 'namespace'; tool: CaptureTool; program: string }
  /** No capture: `reason` says why and what to do. */
  | { kind: 'none'; reason: string };

/** Where a program is: the PATH, then the sbin folders a user's PATH often lacks. */
export function findProgram(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...searchPath.split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface Ran {
  code: number;
  output: string;
}

function run(file: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/** The command that re-runs `argv` in a user and network namespace of its own. */
export function namespaceCommand(argv: readonly string[], ids = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }): string[] {
  return ['unshare', '--user', `--map-user=${ids.uid}`, `--map-group=${ids.gid}`, '--net', '--keep-caps', '--', ...argv];
}

/**
 * Can this process capture on `iface`, and how? Asks the tool itself (`-L` opens the
 * interface to list its link types, which needs the right to capture), then, if it
 * may not, tries the same in a new namespace.
 */
export async function captureAccess(options: { tool?: CaptureTool; interface?: string } = {}): Promise<CaptureAccess> {
  const iface = options.interface ?? 'lo';
  const tools: CaptureTool[] = options.tool ? [options.tool] : ['tcpdump', 'dumpcap'];
  const found = tools.map((tool) => ({ tool, program: findProgram(tool) })).find((t) => t.program);
  if (!found) {
    return { kind: 'none', reason: `no capture tool: install tcpdump (Debian: apt-get install tcpdump)${options.tool === 'dumpcap' ? ' or wireshark-common for dumpcap' : ''}` };
  }
  const { tool, program } = found as { tool: CaptureTool; program: string };
  const here = await run(program, ['-i', iface, '-L']);
  if (here.code === 0) return { kind: 'direct', tool, program };
  if (!/permission|not permitted/i.test(here.output)) return { kind: 'none', reason: `${tool} cannot capture on ${iface}: ${here.output}` };
  if (process.env[NAMESPACE_ENV]) return { kind: 'none', reason: `${tool} may not capture on ${iface} even in its own namespace: ${here.output}` };

  const unshare = findProgram('unshare');
  const ip = findProgram('ip');
  if (!unshare || !ip) {
    return { kind: 'none', reason: `capturing without root needs ${!unshare ? 'unshare (Debian: util-linux)' : 'ip (Debian: iproute2)'}; or run as root` };
  }
  const [, ...args] = namespaceCommand(['sh', '-c', '"$1" link set lo up && exec "$2" -i lo -L', 'sh', ip, program]);
  const inside = await run(unshare, args);
  if (inside.code === 0) return { kind: 'namespace', tool, program };
  return { kind: 'none', reason: `packet capture needs root here: ${whyNoNamespace(inside.output)}` };
}

/** Read a sysctl; undefined where the kernel has no such switch. */
function sysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Why a new user namespace was refused, and what to do about it, from the switches
 * that can turn them off.
 */
export function whyNoNamespace(unshareSaid: string): string {
  const switches = [
    // Debian and older Ubuntu kernels: off for users who are not root.
    { name: 'kernel.unprivileged_userns_clone', off: '0', on: '1' },
    // Every kernel: how many user namespaces may exist; 0 allows none.
    { name: 'user.max_user_namespaces', off: '0', on: '15000' },
    // Ubuntu 23.10 and later: AppArmor allows them only to programs with a profile saying so.
    { name: 'kernel.apparmor_restrict_unprivileged_userns', off: '1', on: '0' },
  ];
  const off = switches.find((s) => sysctl(s.name) === s.off);
  const why = off ? `unprivileged user namespaces are disabled (${off.name} = ${off.off})` : `unshare could not make a user and network namespace (${unshareSaid || 'no reason given'})`;
  const fix = off ? `sudo sysctl -w ${off.name}=${off.on}` : 'allow unprivileged user namespaces';
  return `${why}. To capture: run as root (sudo), or ${fix}, or let tcpdump capture as you (sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)).`;
}

/**
 * Run `argv` again in a user and network namespace of its own, with its output on
 * ours; resolves with its exit code. Ctrl+C and `kill` reach it.
 */
export function runInNamespace(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...args] = namespaceCommand(argv);
  const child = spawn(findProgram(command!) ?? command!, args, { stdio: 'inherit', env: { ...env, [NAMESPACE_ENV]: '1' } });
  const forward = (signal: NodeJS.Signals) => (): void => void child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : 15));
    });
  });
}

/**
 * How to reach a lab that runs in a capture namespace from another shell (`wirelab up
 * --capture` without root): the namespace's lo is not the machine's, so curl and dig
 * must run inside it: `nsenter --target=PID --user --net --preserve-credentials bash`,
 * PID being any process in it (the runner's own process.pid). Whoever made the
 * namespace may enter it, and stays who they are.
 */
export function enterCommand(pid: number): string[] {
  return ['nsenter', `--target=${pid}`, '--user', '--net', '--preserve-credentials'];
}

/** In the namespace runInNamespace() made: bring its loopback interface up (it starts down). */
export async function bringLoopbackUp(): Promise<void> {
  const ip = findProgram('ip');
  if (!ip) throw new Error('cannot bring lo up in the capture namespace: ip is not installed (Debian: iproute2)');
  const result = await run(ip, ['link', 'set', 'lo', 'up']);
  if (result.code !== 0) throw new Error(`cannot bring lo up in the capture namespace: ${result.output}`);
}
