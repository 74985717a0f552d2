import path from 'node:path';
import { bringLoopbackUp, captureAccess, enterCommand, NAMESPACE_ENV, runInNamespace, type CaptureTool } from './namespace';

/**
 * `--capture [FILE]` on `wirelab run` and `wirelab up` (embedded backend): where the
 * file goes, and how this process gets to capture at all.
 */

/** The file's name when none is given: beside the report (`--out`), else here. */
export const DEFAULT_CAPTURE_FILE = 'capture.pcapng';

/** A capture file's name: what `--capture FILE` takes (anything else after --capture is a scenario path). */
export const isCaptureFile = (name: string): boolean => /\.pcap(ng)?$/i.test(name);

/** Where `--capture` writes: the file named, else capture.pcapng in the report's folder, else in the current one. */
export function captureFile(capture: string | true, out?: string): string {
  if (typeof capture === 'string') return capture;
  return out ? path.join(path.dirname(out), DEFAULT_CAPTURE_FILE) : DEFAULT_CAPTURE_FILE;
}

/** How this process captures: `direct` with this tool, or it ran itself again in a namespace (`ran` with its exit code). */
export type CaptureStart = { kind: 'direct'; tool: CaptureTool; program: string } | { kind: 'ran'; code: number };

export class CaptureUnavailable extends Error {}

/**
 * May we capture on lo? As root (or with a tool given the capability): yes, here. As a
 * user: not on the machine's lo, so the whole command runs again inside a user and
 * network namespace of its own (namespace.ts), where it may; this process then only
 * waits for it. Where even that is refused, CaptureUnavailable says why and the fix.
 */
export async function startCapturing(say: (line: string) => void, iface = 'lo'): Promise<CaptureStart> {
  if (process.env[NAMESPACE_ENV]) {
    // We are the command run again in its namespace: its lo starts down.
    await bringLoopbackUp();
    const inside = await captureAccess();
    if (inside.kind === 'direct') return inside;
    throw new CaptureUnavailable(`--capture: ${inside.kind === 'none' ? inside.reason : 'cannot capture in the namespace'}`);
  }
  const access = await captureAccess({ interface: iface });
  // Another interface than lo (the Docker client's): a namespace of our own would not see the lab.
  if (access.kind === 'namespace' && iface !== 'lo') throw new CaptureUnavailable(`--capture: only root may capture on ${iface} here`);
  if (access.kind === 'direct') return access;
  if (access.kind === 'none') throw new CaptureUnavailable(`--capture: ${access.reason}`);
  say(
    `wirelab: only root may capture on this machine's lo; running the lab, the runner and ${access.tool} in a user and network namespace of their own (a private lo)\n`,
  );
  return { kind: 'ran', code: await runInNamespace([process.execPath, ...process.argv.slice(1)]) };
}

/** For `wirelab up --capture` in a namespace: how another terminal reaches the lab. */
export function enterHint(): string | undefined {
  if (!process.env[NAMESPACE_ENV]) return undefined;
  return `this lab is in a network namespace of its own: reach it from another terminal with \`${enterCommand(process.pid).join(' ')} bash\``;
}
