/**
 * The SFTP service's pure parts: the path mapper, the handle table, the `ls -l` lines,
 * and the public-key decision (probe, signature, wrong key) with the lab's keys.
 */
import { readFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { utils, type ParsedKey } from 'ssh2';
import { checkPublicKey, parsePublicKeys } from '../../../services/sftp/auth';
import { canonical, checkLength, clientView, linkTargetForJail, MAX_PATH_BYTES, PathTooLongError, shownLinkTarget } from '../../../services/sftp/clientPath';
import { HandleTable } from '../../../services/sftp/handles';
import { longname, modeString } from '../../../services/sftp/listing';
import { LAB_DIR } from '../../helpers/paths';

const KEYS = path.join(LAB_DIR, 'keys');

describe('clientPath', () => {
  test('canonical(): REALPATH resolves . and .. as text and never climbs above /', () => {
    expect(canonical('.')).toBe('/');
    expect(canonical('')).toBe('/');
    expect(canonical('..')).toBe('/');
    expect(canonical('/../../etc/passwd')).toBe('/etc/passwd');
    expect(canonical('docs/./a/../b.txt')).toBe('/docs/b.txt');
    expect(canonical('//docs///b.txt/')).toBe('/docs/b.txt');
  });

  test('clientView(): a real path inside the home as the client sees it', () => {
    expect(clientView('/data/homes/alice', '/data/homes/alice')).toBe('/');
    expect(clientView('/data/homes/alice', '/data/homes/alice/docs/a.txt')).toBe('/docs/a.txt');
    expect(() => clientView('/data/homes/alice', '/data/homes/bob/x')).toThrow(/not inside/);
  });

  test('linkTargetForJail(): absolute targets are from /, relative ones from the link\'s folder, not normalised', () => {
    expect(linkTargetForJail('/sub/link', '/notes.txt')).toBe('/notes.txt');
    expect(linkTargetForJail('/sub/link', 'notes.txt')).toBe('/sub/notes.txt');
    expect(linkTargetForJail('link', '../../etc/passwd')).toBe('/../../etc/passwd');
    expect(linkTargetForJail('a/b/link', '../x')).toBe('a/b/../x');
  });

  test('shownLinkTarget(): relative as stored, absolute in the client view, undefined when it leads out', () => {
    const home = '/data/homes/alice';
    expect(shownLinkTarget(home, `${home}/sub`, '../notes.txt')).toBe('../notes.txt');
    expect(shownLinkTarget(home, `${home}/sub`, `${home}/notes.txt`)).toBe('/notes.txt');
    expect(shownLinkTarget(home, `${home}/sub`, '../../bob/x')).toBeUndefined();
    expect(shownLinkTarget(home, home, '/etc/passwd')).toBeUndefined();
  });

  test('checkLength(): at most MAX_PATH_BYTES bytes (UTF-8)', () => {
    expect(checkLength('a'.repeat(MAX_PATH_BYTES))).toHaveLength(MAX_PATH_BYTES);
    expect(() => checkLength('é'.repeat(MAX_PATH_BYTES / 2 + 1))).toThrow(PathTooLongError);
  });
});

describe('HandleTable', () => {
  test('handles are 4-byte counters, never reused, limited in number', () => {
    const table = new HandleTable<string>(2);
    const a = table.add('a')!;
    const b = table.add('b')!;
    expect(a).toHaveLength(4);
    expect(table.add('c')).toBeUndefined(); // full
    expect(table.remove(a)).toBe('a');
    const c = table.add('c')!;
    expect(c.equals(a)).toBe(false); // a's handle stays dead
    expect(table.get(a)).toBeUndefined();
    expect(table.get(Buffer.from('not a handle'))).toBeUndefined();
    expect(table.get(b)).toBe('b');
    expect(table.drain().sort()).toEqual(['b', 'c']);
    expect(table.size).toBe(0);
  });
});

describe('listing', () => {
  const stats = (mode: number, size: number, mtime: Date): Stats => ({ mode, size, nlink: 1, mtimeMs: mtime.getTime() }) as Stats;

  test('modeString(): ls -l permissions', () => {
    expect(modeString(0o100644)).toBe('-rw-r--r--');
    expect(modeString(0o040755)).toBe('drwxr-xr-x');
    expect(modeString(0o120777)).toBe('lrwxrwxrwx');
    expect(modeString(0o104755)).toBe('-rwsr-xr-x');
    expect(modeString(0o041777)).toBe('drwxrwxrwt');
  });

  test('longname(): recent files show the time, old ones the year; links show their target', () => {
    const now = Date.UTC(2026, 10, 21, 18, 0);
    expect(longname('notes.txt', stats(0o100644, 175, new Date(Date.UTC(2026, 10, 21, 17, 50))), 'alice', undefined, now)).toBe(
      '-rw-r--r--    1 alice    alice         175 Nov 21 17:50 notes.txt',
    );
    expect(longname('old.txt', stats(0o100600, 5, new Date(Date.UTC(2024, 0, 2))), 'bob', undefined, now)).toBe('-rw-------    1 bob      bob             5 Jan  2  2024 old.txt');
    expect(longname('latest', stats(0o120777, 9, new Date(now)), 'alice', 'notes.txt', now)).toMatch(/^lrwxrwxrwx .* latest -> notes\.txt$/);
  });
});

describe('checkPublicKey', () => {
  const alicePub = parsePublicKeys(readFileSync(path.join(KEYS, 'alice.pub'), 'utf8'));
  const alicePrivate = utils.parseKey(readFileSync(path.join(KEYS, 'alice'))) as ParsedKey;
  const bobPrivate = utils.parseKey(readFileSync(path.join(KEYS, 'bob'))) as ParsedKey;
  const offer = (key: ParsedKey) => ({ algo: key.type, data: key.getPublicSSH() });
  const signedData = Buffer.from('session id + the userauth request');

  test('the user\'s key without a signature is only a probe: key-ok (PK_OK)', () => {
    expect(checkPublicKey({ key: offer(alicePrivate) }, alicePub)).toBe('key-ok');
  });

  test('with a valid signature: accept; a signature by another key or over other data: bad-signature', () => {
    const signature = alicePrivate.sign(signedData);
    expect(checkPublicKey({ key: offer(alicePrivate), blob: signedData, signature }, alicePub)).toBe('accept');
    expect(checkPublicKey({ key: offer(alicePrivate), blob: signedData, signature: bobPrivate.sign(signedData) }, alicePub)).toBe('bad-signature');
    expect(checkPublicKey({ key: offer(alicePrivate), blob: Buffer.from('other data'), signature }, alicePub)).toBe('bad-signature');
    expect(checkPublicKey({ key: offer(alicePrivate), blob: signedData, signature: Buffer.alloc(3) }, alicePub)).toBe('bad-signature');
  });

  test('another user\'s key, a changed key, or a user without keys: unknown-key', () => {
    expect(checkPublicKey({ key: offer(bobPrivate), blob: signedData, signature: bobPrivate.sign(signedData) }, alicePub)).toBe('unknown-key');
    const changed = Buffer.from(alicePrivate.getPublicSSH());
    changed[changed.length - 1]! ^= 1;
    expect(checkPublicKey({ key: { algo: 'ssh-ed25519', data: changed } }, alicePub)).toBe('unknown-key');
    expect(checkPublicKey({ key: { algo: 'ssh-rsa', data: alicePrivate.getPublicSSH() } }, alicePub)).toBe('unknown-key');
    expect(checkPublicKey({ key: offer(alicePrivate) }, [])).toBe('unknown-key');
  });

  test('parsePublicKeys(): skips blanks and comments, names the line of a bad key', () => {
    expect(parsePublicKeys(`# alice\n\n${readFileSync(path.join(KEYS, 'alice.pub'), 'utf8')}`)).toHaveLength(1);
    expect(() => parsePublicKeys('ssh-ed25519 AAAA\n', 'keys.pub')).toThrow(/keys\.pub:1: not an SSH public key/);
  });
});
