import { realpathSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * Path confinement, used by every service that maps a client's path onto the disk
 * (HTTP's document root now; FTP and SFTP homes later). One implementation, so a
 * fix here protects every protocol.
 */
export class JailError extends Error {
  constructor(readonly requested: string, readonly reason: string) {
    super(`refused path ${JSON.stringify(requested.slice(0, 200))}: ${reason}`);
    this.name = 'JailError';
  }
}

/**
 * Map a client's path (already percent-decoded, `/`-separated, relative to `root`)
 * to an absolute path inside `root`, by text alone. Refuses NUL and backslashes
 * outright (Windows separators and C-string truncation tricks) and any path whose
 * `..` would climb above the root, rather than silently clamping it.
 */
export function confine(root: string, requested: string): string {
  if (requested.includes('\0')) throw new JailError(requested, 'contains NUL');
  if (requested.includes('\\')) throw new JailError(requested, 'contains a backslash');
  const base = path.resolve(root);
  const resolved = path.resolve(base, '.' + path.posix.sep + requested.replace(/^\/+/, ''));
  if (!isInside(base, resolved)) throw new JailError(requested, 'leaves the root');
  return resolved;
}

/**
 * Like confine(), then follows symlinks on the real disk: a link inside the root that
 * points outside it is refused. The file must exist (ENOENT is rethrown as is).
 *
 * The two realpath calls are made right here, synchronously (realpath(3)): the kernel
 * answers them from its cache of names in microseconds, less than the trip to Node's
 * file thread pool and back would take; on a busy machine those trips were a tenth of
 * an FTP server's time. (The promise stays: callers need not know.)
 */
export async function confineReal(root: string, requested: string): Promise<string> {
  const candidate = confine(root, requested);
  const [realRoot, real] = [realpathSync.native(root), realpathSync.native(candidate)];
  if (!isInside(realRoot, real)) throw new JailError(requested, 'a link leads out of the root');
  return real;
}

export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  // `..` and `../x` climb out; `..x` and `...` are names inside.
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/**
 * For a path that may not exist yet (an upload, a new folder, a rename target): the
 * text check of confine(), then the real path of its nearest existing ancestor must be
 * inside the root, so a symlinked folder cannot carry a new file out of it. Returns the
 * absolute path to create.
 */
export async function confineForWrite(root: string, requested: string): Promise<string> {
  const candidate = confine(root, requested);
  const realRoot = await realpath(root);
  let ancestor = path.dirname(candidate);
  for (;;) {
    try {
      const real = await realpath(ancestor);
      if (!isInside(realRoot, real)) throw new JailError(requested, 'a link leads out of the root');
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const up = path.dirname(ancestor);
      if (up === ancestor) throw err;
      ancestor = up;
    }
  }
  // The path itself may be a link: writing would follow it, so it must resolve inside.
  // A dangling link is refused too (the write would create its target, wherever that is).
  const info = await lstat(candidate).catch(() => undefined);
  if (info?.isSymbolicLink()) {
    const real = await realpath(candidate).catch(() => undefined);
    if (!real || !isInside(realRoot, real)) throw new JailError(requested, 'a link leads out of the root');
  }
  return candidate;
}
