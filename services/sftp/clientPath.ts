import path from 'node:path';
import { isInside } from '../common/jail';

/**
 * How a client's paths map onto the disk. Pure text: the checks against the real disk
 * (symlinks) are the jail's, in services/common/jail.ts, called by the handlers.
 *
 * The client sees its home as the whole file system, chroot-like: `/` is the home,
 * `/notes.txt` is `<dataDir>/homes/alice/notes.txt`, and a relative path is relative to
 * `/` (the SFTP protocol has no "current directory"; the client keeps its own and sends
 * full paths, after asking the server with REALPATH where `.` is). The real location of
 * the home never appears in a reply.
 */

/** Longer client paths are refused before they reach the disk (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

export class PathTooLongError extends Error {
  constructor(readonly bytes: number) {
    super(`path too long: ${bytes} bytes, at most ${MAX_PATH_BYTES}`);
    this.name = 'PathTooLongError';
  }
}

/** Refuse a path over MAX_PATH_BYTES; returns it unchanged otherwise. */
export function checkLength(clientPath: string): string {
  const bytes = Buffer.byteLength(clientPath);
  if (bytes > MAX_PATH_BYTES) throw new PathTooLongError(bytes);
  return clientPath;
}

/**
 * REALPATH (SFTP draft-02 6.9): the canonical absolute form of a path, `.` and `..`
 * resolved as text. `..` at `/` stays at `/`, as in a chroot, so `cd ..` at the top
 * simply stays there. Only this request clamps: every other request refuses a `..` that
 * climbs above `/` (the jail's confine()), so a client that tries gets a clear refusal.
 */
export function canonical(clientPath: string): string {
  const parts: string[] = [];
  for (const part of clientPath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}

/** The client's view of a real path inside the home: `/` plus the part below the home. */
export function clientView(home: string, realPath: string): string {
  if (!isInside(home, realPath)) throw new Error(`${realPath} is not inside ${home}`);
  const rel = path.relative(home, realPath);
  return '/' + rel.split(path.sep).join('/');
}

/**
 * The target of a new symbolic link as a path for the jail, relative to the home: an
 * absolute target is already one (`/notes.txt` means the home's notes.txt), a relative
 * one is relative to the folder the link is in. Not normalised here: a `..` that
 * climbs out must reach confine() to be refused.
 */
export function linkTargetForJail(linkClientPath: string, target: string): string {
  if (target.startsWith('/')) return target;
  const folder = linkClientPath.replace(/\/+$/, '').replace(/[^/]*$/, '');
  return (folder === '' ? '/' : folder) + target;
}

/**
 * What READLINK (and `ls -l`) shows for a link found in `linkFolder` (a real path)
 * whose stored target is `target`: a relative target as it is (it names no host path),
 * an absolute one in the client's view. Undefined when the target leads out of the
 * home: the client is not told where.
 */
export function shownLinkTarget(home: string, linkFolder: string, target: string): string | undefined {
  const resolved = path.resolve(linkFolder, target);
  if (!isInside(home, resolved)) return undefined;
  return path.isAbsolute(target) ? clientView(home, resolved) : target;
}
