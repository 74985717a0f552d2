import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import Docker from 'dockerode';
import { isUp } from '../../services/common/health';
import { STACK } from '../wire';
import type { Submission, SubmissionTarget } from './submission';

/**
 * Bringing a student's server up for grading, and down again: a server that is already
 * running (address), a program started in the student's folder on a free port
 * (command), or a Docker image run with its port published on 127.0.0.1 (image).
 * "Up" means it answers: its port accepts a connection (a DNS server: it replies to a
 * query), checked again and again until a deadline, never after a fixed sleep.
 */

/** The student's server did not come up: the submission gets 0 with this reason. */
export class StartError extends Error {
  constructor(
    message: string,
    /** What the server printed before it failed, if anything. */
    readonly output = '',
  ) {
    super(message);
    this.name = 'StartError';
  }
}

export interface RunningTarget {
  host: string;
  port: number;
  /** `python3 server.py 40123 (pid 123)`, `student/server:1 (container 0a1b2c3d4e5f)`, `127.0.0.1:9001`. */
  description: string;
  /** What the server printed (a program's stdout and stderr, a container's log); empty for an address. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** How long the server may take to answer (ms). */
  startupTimeoutMs: number;
  /** Used in Docker container names. */
  student: string;
}

const POLL_MS = 50;
const PROBE_TIMEOUT_MS = 300;
/** How much of a server's output is kept (its end), for the reason and server.log. */
const OUTPUT_LIMIT = 64 * 1024;
/** After SIGTERM, how long a program has to exit before SIGKILL. */
const STOP_GRACE_MS = 2000;

export async function startTarget(submission: Submission, options: StartOptions): Promise<RunningTarget> {
  const target = submission.target;
  switch (target.kind) {
    case 'address':
      try {
        await waitUntilUp(target.service, target.host, target.port, options.startupTimeoutMs, () => undefined);
      } catch (err) {
        throw new StartError((err as Error).message);
      }
      return { host: target.host, port: target.port, description: `${target.host}:${target.port}`, output: () => '', stop: async () => {} };
    case 'command':
      return startCommand(submission.dir, target, options);
    case 'image':
      return startImage(target, options);
  }
}

// --- a program ---------------------------------------------------------------------

/** Programs started and not yet stopped: killed if the grader itself exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    // The program leads its own process group: a shell script's children go with it.
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

async function startCommand(dir: string, target: Extract<SubmissionTarget, { kind: 'command' }>, options: StartOptions): Promise<RunningTarget> {
  const host = '127.0.0.1';
  const port = await freePort(needsUdp(target.service));
  const [program, ...args] = target.command.map((part) => part.replaceAll('{port}', String(port)));
  const described = [program, ...args].join(' ');
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) killGroup(child, 'SIGKILL');
    });
  }
  const child = spawn(program!, args, {
    cwd: dir,
    env: { ...process.env, PORT: String(port), HOST: host, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let failure: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      failure = err.code === 'ENOENT' ? `cannot run ${program}: no such program (in ${dir})` : `cannot run ${program}: ${err.message}`;
      live.delete(child);
      resolve();
    });
    child.once('exit', (code, signal) => {
      failure ??= `${described} exited${signal ? ` on ${signal}` : ` with code ${code}`} before it listened on ${host}:${port}`;
      live.delete(child);
      resolve();
    });
  });
  // Let the streams deliver the program's last words before they go into the reason.
  const ended = Promise.all([new Promise((r) => child.stdout!.once('close', r)), new Promise((r) => child.stderr!.once('close', r))]);

  const stop = async (): Promise<void> => {
    if (live.has(child)) {
      killGroup(child, 'SIGTERM');
      if (!(await within(exited.then(() => true), STOP_GRACE_MS))) {
        killGroup(child, 'SIGKILL');
        await exited;
      }
    }
    // Whatever it left behind in its process group goes too (a server that forked, a script's children).
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // nothing left
      }
    }
  };

  try {
    await waitUntilUp(target.service, host, port, options.startupTimeoutMs, () => failure, exited);
  } catch (err) {
    await stop();
    if (failure) await within(ended, 500);
    throw new StartError(withOutput((err as Error).message, output), output);
  }
  return { host, port, description: `${described} (pid ${child.pid})`, output: () => output, stop };
}

// --- a Docker image ----------------------------------------------------------------

async function startImage(target: Extract<SubmissionTarget, { kind: 'image' }>, options: StartOptions): Promise<RunningTarget> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    throw new StartError(`Docker is not available to run ${target.image}: ${(err as Error).message}`);
  }
  try {
    await docker.getImage(target.image).inspect();
  } catch {
    throw new StartError(`there is no Docker image ${target.image} on this machine: build or load it first (the grader pulls nothing)`);
  }
  const udp = needsUdp(target.service);
  // `docker run -p 127.0.0.1::PORT`: Docker picks the host port. DNS needs the same one for UDP and TCP, so we pick it.
  const hostPort = udp ? String(await freePort(true)) : '';
  const ports = [`${target.port}/tcp`, ...(udp ? [`${target.port}/udp`] : [])];
  const name = `wirelab-grade-${options.student.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      Image: target.image,
      name,
      Labels: { 'wirelab.grade': options.student },
      ExposedPorts: Object.fromEntries(ports.map((p) => [p, {}])),
      HostConfig: { PortBindings: Object.fromEntries(ports.map((p) => [p, [{ HostIp: '127.0.0.1', HostPort: hostPort }]])), Init: true },
    });
    await container.start();
  } catch (err) {
    throw new StartError(`cannot start a container of ${target.image}: ${(err as Error).message}`);
  }
  const logs = async (): Promise<string> => {
    try {
      const buffer = (await container.logs({ stdout: true, stderr: true, follow: false, tail: 200 })) as unknown as Buffer;
      return demux(buffer);
    } catch {
      return '';
    }
  };
  let output = '';
  const stop = async (): Promise<void> => {
    output = await logs();
    await container.stop({ t: 2 }).catch(() => {});
    await container.remove({ force: true }).catch(() => {});
  };
  try {
    const info = await container.inspect();
    const published = Number(info.NetworkSettings.Ports?.[`${target.port}/tcp`]?.[0]?.HostPort);
    if (!published) throw new Error(`Docker published no host port for ${target.port}/tcp`);
    // Probe the container itself: Docker's proxy on the published port accepts connections even before the server listens.
    const inside = Object.values(info.NetworkSettings.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
    let gone: string | undefined;
    const watch = setInterval(() => {
      container.inspect().then(
        (i) => void (i.State.Running ? undefined : (gone = `the container exited with code ${i.State.ExitCode} before it listened on port ${target.port}`)),
        () => void (gone = 'the container is gone'),
      );
    }, 250);
    try {
      await waitUntilUp(target.service, inside || '127.0.0.1', inside ? target.port : published, options.startupTimeoutMs, () => gone);
    } finally {
      clearInterval(watch);
    }
    return { host: '127.0.0.1', port: published, description: `${target.image} (container ${info.Id.slice(0, 12)})`, output: () => output, stop };
  } catch (err) {
    await stop();
    throw new StartError(withOutput((err as Error).message, output), output);
  }
}

/** A container log without Docker's 8-byte frame headers (stdout and stderr multiplexed). */
function demux(buffer: Buffer): string {
  if (!Buffer.isBuffer(buffer)) return String(buffer);
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buffer.length && (buffer[at] === 1 || buffer[at] === 2) && buffer.readUInt16BE(at + 1) === 0) {
    const size = buffer.readUInt32BE(at + 4);
    parts.push(buffer.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return at === 0 ? buffer.toString('utf8') : Buffer.concat(parts).toString('utf8');
}

// --- waiting -----------------------------------------------------------------------

const needsUdp = (service: string): boolean => Object.values(STACK.find((s) => s.name === service)?.ports ?? {})[0]?.transport === 'udp+tcp';

/**
 * Until the server answers at host:port, or `failed()` says why it never will, or the
 * deadline passes. "Answers" is services/common/health.ts's isUp(); a DNS server may
 * also answer on TCP only: it is up then too, and the scenarios will say what is missing.
 */
export async function waitUntilUp(
  service: string,
  host: string,
  port: number,
  timeoutMs: number,
  failed: () => string | undefined,
  ended?: Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const answers = (kind: 'dns' | 'tcp'): Promise<boolean> =>
    isUp(kind, { host, port }, AbortSignal.timeout(PROBE_TIMEOUT_MS)).then(
      () => true,
      () => false,
    );
  const probe = needsUdp(service) ? () => answers('dns').then((ok) => ok || answers('tcp')) : () => answers('tcp');
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    if (await probe()) return;
    const why2 = failed();
    if (why2) throw new Error(why2);
    if (Date.now() >= deadline) throw new Error(`nothing answered on ${host}:${port} within ${Math.round(timeoutMs / 100) / 10} s`);
    await within(ended ?? new Promise(() => {}), POLL_MS);
  }
}

/**
 * Where students' servers are given ports: below the kernel's ephemeral range (Linux:
 * 32768-60999), from which port-0 binds (the grading labs' own services) and outgoing
 * connections take theirs, and clear of the lab's FTP passive ports (30000-30009). So
 * between our check and the student's bind, no other socket of the grader can take it.
 */
const STUDENT_PORTS = { from: 20000, to: 29999 };

/** Ports handed out by this process and maybe not bound yet: never handed out twice. */
const handedOut = new Set<number>();

/** A port free on 127.0.0.1 (for TCP, and for UDP too when asked), for a server that cannot report a port 0 bind. */
export async function freePort(udp = false): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomInt(STUDENT_PORTS.from, STUDENT_PORTS.to + 1);
    if (handedOut.has(port)) continue;
    if (!(await canBind(port, 'tcp')) || (udp && !(await canBind(port, 'udp')))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`found no free port on 127.0.0.1 between ${STUDENT_PORTS.from} and ${STUDENT_PORTS.to}`);
}

export function canBind(port: number, transport: 'tcp' | 'udp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (transport === 'tcp') {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    } else {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => {
        try {
          socket.close();
        } catch {
          // never bound: nothing to close
        }
        resolve(false);
      });
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    }
  });
}

/** `promise`, or undefined after `ms`: the timer does not outlive the race. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The reason, then the last lines the server printed: a traceback says more than "exited with code 1". */
function withOutput(reason: string, output: string): string {
  const lines = output.trimEnd().split('\n').filter((l) => l.trim() !== '').slice(-8);
  return lines.length ? `${reason}; its last output:\n${lines.map((l) => `  ${l}`).join('\n')}` : reason;
}
