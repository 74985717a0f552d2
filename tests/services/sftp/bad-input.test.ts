/**
 * Bad input: paths that try to leave the home (`../`, absolute host paths, links planted
 * inside the home that point out), links to /etc/passwd, renames out, NUL bytes, paths
 * of many kilobytes. Each case asserts the status the client gets, that nothing outside
 * the home was read (the secret never reaches the client) or written (a snapshot of the
 * folder next to the data directory is unchanged), and that the server serves the next
 * client.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { Client } from 'ssh2';
import { call, closeClient, SECRET, sftpBatch, sftpSession, snapshot, startSftp, STATUS, statusOf, stillServes, type RunningSftp } from './clients';

let lab: RunningSftp;
let client: Client;
let sftp: SFTPWrapper;
let outsideBefore: Record<string, string>;
let home: string;

beforeAll(async () => {
  lab = await startSftp();
  home = lab.home('alice');
  // Planted by someone with access to the host (a student cannot make these over SFTP):
  await symlink(lab.outside, path.join(home, 'escape')); // a folder link leading out
  await symlink(path.join(lab.outside, 'secret.txt'), path.join(home, 'secret-link')); // a file link leading out
  await symlink('../../../outside/secret.txt', path.join(home, 'relative-escape')); // the same, relative
  await mkdir(path.join(home, 'sub'));
  outsideBefore = await snapshot(lab.base + '/outside');
  ({ client, sftp } = await sftpSession(lab.port));
});

afterAll(async () => {
  await closeClient(client);
  await lab.stop();
});

afterEach(async () => {
  // Nothing outside the home was written, and the server still serves the next client.
  expect(await snapshot(lab.outside)).toEqual(outsideBefore);
  await stillServes(lab);
});

/** The status a call ends with, and the data it returned if it succeeded (to look for the secret). */
async function attempt<T>(fn: (cb: (err: (Error & { code?: number }) | null | undefined, result?: T) => void) => void): Promise<{ status: number; result?: T }> {
  try {
    const result = await call(fn);
    return { status: STATUS.OK, result };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number') throw err;
    return { status: code };
  }
}

describe('../ and absolute paths', () => {
  test.each([
    ['../../outside/secret.txt'],
    ['/../../outside/secret.txt'],
    ['sub/../../../outside/secret.txt'],
    ['/../../../../../../etc/passwd'],
  ])('%s: read, stat, opendir and write are PERMISSION_DENIED', async (bad) => {
    expect((await attempt((cb) => sftp.open(bad, 'r', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.stat(bad, cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.lstat(bad, cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.opendir(path.posix.dirname(bad), cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.open(bad.replace(/[^/]+$/, 'new.txt'), 'w', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.mkdir(bad.replace(/[^/]+$/, 'newdir'), cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.unlink(bad, cb))).status).toBe(STATUS.PERMISSION_DENIED);
    await lab.logs.waitFor(/ warn request .*op=OPEN .*status=PERMISSION_DENIED reason="refused: leaves your home"$/);
  });

  test('the absolute host path of the secret means a path inside the home: NO_SUCH_FILE', async () => {
    const hostPath = path.join(lab.outside, 'secret.txt');
    expect((await attempt((cb) => sftp.readFile(hostPath, cb))).status).toBe(STATUS.NO_SUCH_FILE);
    expect((await attempt((cb) => sftp.stat('/etc/passwd', cb))).status).toBe(STATUS.NO_SUCH_FILE);
    // A write to such a path lands inside the home, as in a chroot.
    await call((cb) => sftp.mkdir('/etc', cb));
    await call((cb) => sftp.writeFile('/etc/motd', 'mine\n', cb));
    expect(await readFile(path.join(home, 'etc/motd'), 'utf8')).toBe('mine\n');
    expect(existsSync('/etc/motd') ? await readFile('/etc/motd', 'utf8') : '').not.toBe('mine\n');
  });

  test('REALPATH never climbs above /', async () => {
    expect(await call<string>((cb) => sftp.realpath('../../..', cb))).toBe('/');
    expect(await call<string>((cb) => sftp.realpath('/../outside/secret.txt', cb))).toBe('/outside/secret.txt');
  });
});

describe('links inside the home that lead out', () => {
  test.each([['secret-link'], ['relative-escape'], ['escape/secret.txt']])('%s: read, stat, setstat, write are refused', async (link) => {
    const read = await attempt<Buffer>((cb) => sftp.readFile(link, cb));
    expect(read.status).toBe(STATUS.PERMISSION_DENIED);
    expect(read.result).toBeUndefined();
    expect((await attempt((cb) => sftp.stat(link, cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.open(link, 'r+', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.open(link, 'w', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.open(link, 'a', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.setstat(link, { mode: 0o777 }, cb))).status).toBe(STATUS.PERMISSION_DENIED);
  });

  test('a folder link out: opendir, new files and folders in it, and rename into it are refused', async () => {
    expect((await attempt((cb) => sftp.opendir('escape', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.readdir('escape', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.writeFile('escape/planted.txt', 'x', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.mkdir('escape/newdir', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.rename('notes.txt', 'escape/notes.txt', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.rename('notes.txt', '../outside/notes.txt', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.rename('escape/secret.txt', 'stolen.txt', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.symlink('notes.txt', 'escape/link', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect(existsSync(path.join(home, 'notes.txt'))).toBe(true);
    expect(existsSync(path.join(home, 'stolen.txt'))).toBe(false);
  });

  test('READLINK and ls -l do not tell where a link out points', async () => {
    expect((await attempt((cb) => sftp.readlink('secret-link', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    expect((await attempt((cb) => sftp.readlink('relative-escape', cb))).status).toBe(STATUS.PERMISSION_DENIED);
    // LSTAT looks at the link itself, which is in the home: allowed.
    const info = await call<{ isSymbolicLink(): boolean }>((cb) => sftp.lstat('secret-link', cb));
    expect(info.isSymbolicLink()).toBe(true);
    const listing = await sftpBatch(lab, ['ls -l']);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/^lrwxrwxrwx .* secret-link$/m); // no "-> target"
    expect(listing.stdout).not.toContain(lab.base);
    expect(listing.stdout).not.toContain('outside');
  });

  test('OpenSSH get through a link out fails, and the secret never reaches the client', async () => {
    const target = path.join(lab.base, 'got-secret.txt');
    const result = await sftpBatch(lab, [`get secret-link ${target}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Permission denied/);
    expect(existsSync(target) ? await readFile(target, 'utf8') : '').not.toContain(SECRET);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  });
});

describe('SYMLINK', () => {
  test('a link to /etc/passwd is refused (the target must exist inside the home)', async () => {
    expect(await statusOf(call((cb) => sftp.symlink('/etc/passwd', 'pw-absolute', cb)))).toBe(STATUS.NO_SUCH_FILE); // /etc/passwd of the home: none
    expect(await statusOf(call((cb) => sftp.symlink('../../../../../../../etc/passwd', 'pw-relative', cb)))).toBe(STATUS.PERMISSION_DENIED);
    expect(await statusOf(call((cb) => sftp.symlink(path.join(lab.outside, 'secret.txt'), 'secret-2', cb)))).toBe(STATUS.NO_SUCH_FILE);
    expect(await statusOf(call((cb) => sftp.symlink('secret-link', 'chain', cb)))).toBe(STATUS.PERMISSION_DENIED); // via a link out
    for (const name of ['pw-absolute', 'pw-relative', 'secret-2', 'chain']) expect(existsSync(path.join(home, name))).toBe(false);
    // OpenSSH's ln -s too
    const result = await sftpBatch(lab, ['ln -s ../../../../../../etc/passwd pw']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Permission denied/);
    await expect(lstat(path.join(home, 'pw'))).rejects.toThrow(/ENOENT/);
  });

  test('a link inside the home works and is stored relative to its folder', async () => {
    await call((cb) => sftp.symlink('/notes.txt', 'sub/notes-link', cb));
    expect(await call<string>((cb) => sftp.readlink('sub/notes-link', cb))).toBe('../notes.txt');
    expect((await call<Buffer>((cb) => sftp.readFile('sub/notes-link', cb))).toString()).toBe(await readFile(path.join(home, 'notes.txt'), 'utf8'));
    // Moving it to where its relative target would point out of the home is refused.
    await call((cb) => sftp.symlink('../notes.txt', 'sub/up-link', cb));
    await mkdir(path.join(home, 'sub/deeper'));
    expect(await statusOf(call((cb) => sftp.rename('sub/up-link', 'sub/deeper/up-link', cb)))).toBe(STATUS.OK); // ../notes.txt: sub/notes.txt, still inside
    expect(await statusOf(call((cb) => sftp.rename('sub/notes-link', 'moved-out', cb)))).toBe(STATUS.PERMISSION_DENIED); // ../notes.txt from / is outside
  });

  test('a folder is not moved where a link inside it would lead out of the home; moved where its links still lead inside, it is', async () => {
    // box/inner/up -> ../../notes.txt is the home's notes.txt; box/inner moved to the top, the same link would be ../../notes.txt from /inner: outside.
    await mkdir(path.join(home, 'box/inner'), { recursive: true });
    await call((cb) => sftp.symlink('/notes.txt', 'box/inner/up', cb));
    expect(await call<string>((cb) => sftp.readlink('box/inner/up', cb))).toBe('../../notes.txt');
    expect(await statusOf(call((cb) => sftp.rename('box/inner', 'inner', cb)))).toBe(STATUS.PERMISSION_DENIED);
    expect(await statusOf(call((cb) => sftp.ext_openssh_rename('box/inner', 'inner', cb)))).toBe(STATUS.PERMISSION_DENIED); // posix-rename too
    expect(existsSync(path.join(home, 'box/inner/up'))).toBe(true);
    expect(existsSync(path.join(home, 'inner'))).toBe(false);
    // OpenSSH's rename says so.
    const refused = await sftpBatch(lab, ['rename box/inner inner']);
    expect(refused.stderr).toMatch(/Permission denied/);
    // One level down, the same link still leads to a file inside the home: moved.
    await mkdir(path.join(home, 'other/deep'), { recursive: true });
    expect(await statusOf(call((cb) => sftp.rename('box/inner', 'other/deep/inner', cb)))).toBe(STATUS.OK);
    expect(await call<string>((cb) => sftp.readlink('other/deep/inner/up', cb))).toBe('../../notes.txt');
  });
});

describe('malformed paths', () => {
  test('a path of many kilobytes: FAILURE, path too long', async () => {
    const long = 'a/'.repeat(20 * 1024) + 'x.txt'; // 40 KB
    for (const status of [
      await statusOf(call((cb) => sftp.stat(long, cb))),
      await statusOf(call((cb) => sftp.open(long, 'w', cb))),
      await statusOf(call((cb) => sftp.mkdir(long, cb))),
      await statusOf(call((cb) => sftp.realpath(long, cb))),
      await statusOf(call((cb) => sftp.rename('notes.txt', long, cb))),
    ]) {
      expect(status).toBe(STATUS.FAILURE);
    }
    await lab.logs.waitFor(/ request .*op=OPEN path=(a\/){100}\.\.\. .*status=FAILURE reason="path too long: 40965 bytes, at most 4096"$/);
    expect(await readdir(home)).not.toContain('a');
  });

  test('NUL bytes and backslashes are refused', async () => {
    expect(await statusOf(call((cb) => sftp.stat('notes.txt\0.jpg', cb)))).toBe(STATUS.PERMISSION_DENIED);
    expect(await statusOf(call((cb) => sftp.open('..\\..\\outside\\secret.txt', 'r', cb)))).toBe(STATUS.PERMISSION_DENIED);
    expect(await statusOf(call((cb) => sftp.realpath('a\0b', cb)))).toBe(STATUS.PERMISSION_DENIED);
  });
});
