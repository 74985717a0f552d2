/**
 * The three ways an FTP server lists a folder: pure functions from entries (a name and
 * what stat() said) to lines, unit-tested on their own. Listings travel on the data
 * connection like a file, one entry per line, lines ending with CR LF.
 *
 *   LIST   (RFC 959 4.1.3) for people: no format is defined, so every server copies
 *          `ls -l`, and clients guess their way through it:
 *            -rw-r--r--    1 alice    alice          84 Nov 21 17:50 notes.txt
 *   NLST   (RFC 959 4.1.3) for programs: names only, one per line (`mget *` uses it).
 *   MLSD   (RFC 3659 7) for programs, done right: "facts" with a defined syntax, times
 *          in UTC, no guessing:
 *            type=file;size=84;modify=20261121175000;perm=adfrw;unique=803.1a2b; notes.txt
 *          MLST is the same for one path, answered on the control connection.
 */

export type EntryType = 'file' | 'dir' | 'link' | 'other';

export interface Entry {
  name: string;
  type: EntryType;
  /** In octets (as stored: the size on the wire in TYPE I). */
  size: number;
  modified: Date;
  /** The permission bits (mode & 0o7777). */
  mode: number;
  /** The number of hard links (the second column of `ls -l`). */
  links: number;
  /** A symbolic link's target, as readlink() says. */
  target?: string;
  /** Something that tells one file from another for the `unique` fact: device and inode. */
  unique?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** ls shows the time of day for files changed in the last six months, the year for older ones. */
const SIX_MONTHS_MS = 182 * 24 * 60 * 60 * 1000;

/** One `ls -l` line, as vsftpd writes it. Times are UTC. */
export function listLine(e: Entry, now: Date, owner = 'ftp'): string {
  const type = { file: '-', dir: 'd', link: 'l', other: '?' }[e.type];
  const date = `${MONTHS[e.modified.getUTCMonth()]} ${String(e.modified.getUTCDate()).padStart(2)}`;
  const recent = Math.abs(now.getTime() - e.modified.getTime()) < SIX_MONTHS_MS;
  const when = recent ? `${pad2(e.modified.getUTCHours())}:${pad2(e.modified.getUTCMinutes())}` : ` ${e.modified.getUTCFullYear()}`;
  const name = safeName(e.name) + (e.type === 'link' && e.target !== undefined ? ` -> ${safeName(e.target)}` : '');
  return `${type}${permissions(e.mode)} ${String(e.links).padStart(4)} ${owner.padEnd(8)} ${owner.padEnd(8)} ${String(e.size).padStart(12)} ${date} ${when} ${name}`;
}

/** `rwxr-xr-x` from the mode bits. */
export function permissions(mode: number): string {
  const bits = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (0o400 >> i) ? bits[i] : '-';
  return out;
}

/**
 * NLST's names. Listing a folder by name gives paths through it (`NLST pub` ->
 * `pub/README.txt`), as vsftpd does, so each line can be handed straight to RETR.
 */
export function nlstLines(entries: readonly Entry[], prefix = ''): string[] {
  const dir = prefix === '' || prefix.endsWith('/') ? prefix : prefix + '/';
  return entries.map((e) => dir + safeName(e.name));
}

/** The facts this server knows (RFC 3659 7.5), in the order they are written. */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/**
 * One MLSD line (or MLST's, with the path as the name): `fact=value;` for each selected
 * fact, a space, the name (RFC 3659 7.2, 7.5). `writable` says what this user may do,
 * for `perm`: r=RETR a=APPE w=STOR d=DELE/RMD f=rename on files; e=CWD l=LIST c=create
 * files m=MKD p=delete inside, on folders (RFC 3659 7.5.5).
 */
export function mlsxLine(e: Entry, facts: readonly MlstFact[], writable: boolean, name = e.name): string {
  let out = '';
  for (const fact of facts) {
    const value = factValue(e, fact, writable);
    if (value !== undefined) out += `${fact}=${value};`;
  }
  return `${out} ${safeName(name)}`;
}

function factValue(e: Entry, fact: MlstFact, writable: boolean): string | undefined {
  switch (fact) {
    case 'type':
      // RFC 3659 7.5.1: file, dir (cdir/pdir for "." and ".."), or OS.name=type for the rest.
      return { file: 'file', dir: 'dir', link: 'OS.unix=symlink', other: 'OS.unix=special' }[e.type];
    case 'size':
      return e.type === 'file' ? String(e.size) : undefined;
    case 'modify':
      return timeVal(e.modified);
    case 'perm':
      if (e.type === 'file') return writable ? 'adfrw' : 'r';
      if (e.type === 'dir') return writable ? 'cdeflmp' : 'el';
      return writable ? 'df' : '';
    case 'unique':
      return e.unique;
  }
}

/**
 * `YYYYMMDDHHMMSS` in UTC (RFC 3659 2.3, "time-val"): MDTM's answer and MLSD's modify
 * fact. Unlike LIST's dates, it means the same thing in every time zone.
 */
export function timeVal(date: Date): string {
  return (
    String(date.getUTCFullYear()).padStart(4, '0') +
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds())
  );
}

/** Sorted by name, as `ls` does (code point order, so the same on every machine). */
export function byName(a: Entry, b: Entry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A listing's lines as bytes on the data connection: each ends with CR LF. */
export function listingBytes(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((l) => l + '\r\n').join(''));
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** A CR or LF in a name would split a listing line in two. */
function safeName(name: string): string {
  return name.replace(/[\r\n]/g, '?');
}
