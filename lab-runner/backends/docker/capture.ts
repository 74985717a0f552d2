import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { compose, composeName } from './compose';
import type { LabContainers } from './control';
import { labSubnet, type ComposeSettings } from './settings';

/**
 * The whole Docker lab's packets: compose.yaml's `capture` service (profile capture),
 * tcpdump on the host's network listening on the lab network's bridge (labBridge), so
 * it sees what every container sends to another (the SMTP relay, the proxy's hop to
 * the app, every DNS lookup), not only the client's. tcpdump writes the file itself,
 * into a folder of this machine mounted at /captures: here the folder and name of the
 * file asked for (LAB_CAPTURE_DIR, LAB_CAPTURE_FILE).
 */

export const CAPTURE_SERVICE = 'capture';
export const CAPTURE_PROFILE = ['--profile', 'capture'];
/** What `--capture` writes on Docker when given no name: tcpdump's format, classic pcap. */
export const DEFAULT_LAB_CAPTURE_FILE = 'lab.pcap';
/** The lab network's bridge on this machine, as compose.yaml names it: `wl-` and the lab's prefix, wl-172.28.0. */
export const labBridge = (settings: ComposeSettings): string => `wl-${labSubnet(settings).replace(/\.0\/24$/, '')}`;

/** `wirelab run --backend docker --capture run.pcapng`: the whole lab's capture beside the client's, `run-lab.pcap`. */
export function labCaptureFile(clientFile: string): string {
  return path.resolve(clientFile.replace(/\.pcap(ng)?$/i, '') + '-lab.pcap');
}

/** The settings that send the capture service's file to `file` on this machine. */
export function captureSettings(file: string): Record<string, string> {
  const absolute = path.resolve(file);
  return { LAB_CAPTURE_DIR: path.dirname(absolute), LAB_CAPTURE_FILE: path.basename(absolute) };
}

/** The folder exists before Docker mounts it (else Docker makes it, as root). */
export async function prepareCaptureFile(file: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
}

/** Is the capture service running in this lab? Its file on this machine, if so. */
export async function runningCapture(lab: LabContainers): Promise<string | undefined> {
  const found = await lab.docker.listContainers({ filters: { label: [`com.docker.compose.project=${lab.project}`, `com.docker.compose.service=${CAPTURE_SERVICE}`] } });
  if (!found.length) return undefined;
  return captureFileOf(await lab.docker.getContainer(found[0]!.Id).inspect());
}

/** tcpdump says `listening on wl-172.28.0, link-type EN10MB ...` once it captures: wait for it, or for its error. */
export async function waitCapturing(lab: LabContainers, timeoutMs = 20_000): Promise<void> {
  const container = await lab.container(CAPTURE_SERVICE);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const log = (await lab.logs(CAPTURE_SERVICE)).join('\n');
    if (/listening on /.test(log)) return;
    const state = (await container.inspect()).State;
    if (!state.Running) throw new Error(`the capture container stopped (exit ${state.ExitCode}): ${log.trim() || 'no output'}${/No such device/.test(log) ? `\n(a lab network made before it had a bridge name: \`wirelab down\`, then up again)` : ''}`);
    await delay(200);
  }
  throw new Error(`tcpdump in the capture container did not say "listening on" within ${timeoutMs / 1000} s (\`${composeName()} logs capture\`)`);
}

/** Start the capture service on a lab that is up, writing into `file`; wait until tcpdump captures. */
export async function startLabCapture(lab: LabContainers, file: string): Promise<void> {
  await prepareCaptureFile(file);
  const { code, output } = await compose([...CAPTURE_PROFILE, 'up', '-d', '--no-deps', CAPTURE_SERVICE], { project: lab.project, env: captureSettings(file) });
  if (code !== 0) throw new Error(`${composeName()} --profile capture up capture failed:\n${output.trim()}`);
  await waitCapturing(lab);
}

export interface LabCaptureDone {
  /** The file on this machine. */
  file?: string;
  /** What tcpdump counted as it ended (`N packets captured`). */
  packets?: number;
}

/**
 * Stop the capture service cleanly, if it runs: SIGTERM to tcpdump (docker stop), which
 * writes what it holds and closes the file, then its container is removed (Compose 1.29's
 * `down` leaves a profile's containers alone).
 */
export async function stopLabCapture(lab: LabContainers): Promise<LabCaptureDone | undefined> {
  const found = await lab.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${lab.project}`, `com.docker.compose.service=${CAPTURE_SERVICE}`] } });
  let done: LabCaptureDone | undefined;
  for (const summary of found) {
    const container = lab.docker.getContainer(summary.Id);
    const info = await container.inspect();
    if (info.State.Running) {
      await container.stop({ t: 15 });
      await container.wait();
      const counted = /(\d+) packets? captured/.exec((await lab.logs(CAPTURE_SERVICE)).join('\n'));
      done = { file: captureFileOf(info), packets: counted ? Number(counted[1]) : undefined };
    }
    await container.remove({ force: true });
  }
  return done;
}

/** The file a capture container writes, on this machine: its /captures mount and tcpdump's -w. */
function captureFileOf(info: { Mounts: { Source: string; Destination: string }[]; Args: string[] }): string | undefined {
  const folder = info.Mounts.find((m) => m.Destination === '/captures')?.Source;
  const written = info.Args[info.Args.indexOf('-w') + 1];
  return folder && written?.startsWith('/captures/') ? path.join(folder, written.slice('/captures/'.length)) : undefined;
}
