import type { Stats as FsStats } from 'node:fs';
import type { Attributes } from 'ssh2';

/**
 * What the server says about a file: SFTP's ATTRS (draft-02 5: size, owner ids,
 * permissions, times) and, in a folder listing, the `longname`: one line as `ls -l`
 * prints it. SFTP version 3 leaves the longname's format to the server, and OpenSSH's
 * `sftp` shows it as it comes for `ls -l`, so this is where a student sees permissions,
 * sizes and where a link points.
 */

/** ATTRS for a file's stat: times in whole seconds, as SFTP v3 carries them. */
export function attrsOf(stats: FsStats): Attributes {
  return {
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    atime: Math.floor(stats.atimeMs / 1000),
    mtime: Math.floor(stats.mtimeMs / 1000),
  };
}

/**
 * `-rw-r--r--    1 alice    alice         123 Nov 21 17:50 notes.txt`, and for a link
 * `lrwxrwxrwx    1 alice    alice           9 Nov 21 17:50 latest -> notes.txt`.
 * The owner shown is the lab user whose home it is (the host's accounts are not the
 * client's business); dates are UTC.
 */
export function longname(name: string, stats: FsStats, owner: string, linkTarget?: string, now = Date.now()): string {
  const date = new Date(stats.mtimeMs);
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const day = String(date.getUTCDate()).padStart(2, ' ');
  // As ls: the time for files from the last six months, the year for older or future ones.
  const recent = Math.abs(now - stats.mtimeMs) < 182 * 24 * 3600 * 1000;
  const when = recent
    ? `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`
    : String(date.getUTCFullYear()).padStart(5, ' ');
  const line = `${modeString(stats.mode)} ${String(stats.nlink).padStart(4)} ${owner.padEnd(8)} ${owner.padEnd(8)} ${String(stats.size).padStart(8)} ${month} ${day} ${when} ${name}`;
  return linkTarget === undefined ? line : `${line} -> ${linkTarget}`;
}

/** `drwxr-xr-x` from st_mode: the type letter, then rwx for owner, group and others. */
export function modeString(mode: number): string {
  const type = TYPES[(mode & 0o170000) >> 12] ?? '?';
  let out = type;
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    out += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  // setuid, setgid and sticky replace an x (s/t) or a - (S/T), as ls shows them.
  const chars = out.split('');
  if (mode & 0o4000) chars[3] = chars[3] === 'x' ? 's' : 'S';
  if (mode & 0o2000) chars[6] = chars[6] === 'x' ? 's' : 'S';
  if (mode & 0o1000) chars[9] = chars[9] === 'x' ? 't' : 'T';
  return chars.join('');
}

const TYPES: Record<number, string> = { 0o01: 'p', 0o02: 'c', 0o04: 'd', 0o06: 'b', 0o10: '-', 0o12: 'l', 0o14: 's' };
