/**
 * OpenSSH's SFTP extensions (posix-rename, statvfs, hardlink), as OpenSSH's `sftp` uses
 * them: `rename` over an existing file, `df`, `ln`. The server names them in its
 * VERSION packet, with the revisions OpenSSH's own sftp-server gives (the reference,
 * run with `sftp -D`); ssh2's client finds them there too. A hard link is confined like
 * everything else: a second name for a file outside the home is impossible.
 */
import { lstat, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { run } from '../../helpers/process';
import { call, closeClient, sftpBatch, sftpSession, snapshot, startSftp, STATUS, statusOf, stillServes, type RunningSftp } from './clients';

let lab: RunningSftp;
let home: string;

beforeAll(async () => {
  lab = await startSftp();
  home = lab.home('alice');
});

afterAll(async () => {
  await lab.stop();
});

/** `Server supports extension "name" revision n` lines of `sftp -vv`, as [name, revision]. */
function offered(stderr: string): string[][] {
  return [...stderr.matchAll(/Server supports extension "([^"]+)" revision (\d+)/g)].map((m) => [m[1]!, m[2]!]);
}

test('VERSION names posix-rename 1, statvfs 2 and hardlink 1: what OpenSSH\'s own sftp-server offers for them', async () => {
  const ours = offered((await sftpBatch(lab, ['pwd'], { options: ['-vv'] })).stderr);
  expect(ours).toEqual([
    ['posix-rename@openssh.com', '1'],
    ['statvfs@openssh.com', '2'],
    ['hardlink@openssh.com', '1'],
  ]);
  const batch = path.join(lab.base, 'reference-batch.txt');
  await writeFile(batch, 'pwd\n');
  const reference = offered((await run('sftp', ['-vv', '-b', batch, '-D', `/usr/lib/openssh/sftp-server -d ${lab.base}`])).stderr);
  for (const extension of ours) expect(reference).toContainEqual(extension);
});

test('rename over an existing file replaces it (posix-rename); plain RENAME still refuses', async () => {
  await writeFile(path.join(home, 'draft.txt'), 'new text\n');
  await writeFile(path.join(home, 'final.txt'), 'old text\n');
  const result = await sftpBatch(lab, ['rename draft.txt final.txt']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(await readFile(path.join(home, 'final.txt'), 'utf8')).toBe('new text\n');
  await expect(lstat(path.join(home, 'draft.txt'))).rejects.toThrow(/ENOENT/);
  await lab.logs.waitFor(/ info request conn=c\d+ .*op=EXTENDED name=posix-rename@openssh\.com from=\/draft\.txt to=\/final\.txt status=OK/);
  // `rename -l` forces the plain request of version 3, which does not replace.
  await writeFile(path.join(home, 'draft.txt'), 'newer\n');
  const legacy = await sftpBatch(lab, ['rename -l draft.txt final.txt']);
  expect(legacy.code).not.toBe(0);
  expect(legacy.stderr).toMatch(/Failure/);
  expect(await readFile(path.join(home, 'final.txt'), 'utf8')).toBe('new text\n');
});

test('df and df -h: the size and free space of the file system (statvfs)', async () => {
  const result = await sftpBatch(lab, ['df', 'df -h']);
  expect(result.stderr).toBe('');
  expect(result.stdout).toMatch(/^ +Size +Used +Avail +\(root\) +%Capacity\n +\d+ +\d+ +\d+ +\d+ +\d+%$/m);
  expect(result.stdout).toMatch(/^ +[\d.]+[KMGTPE]?B? +[\d.]+[KMGTPE]?B? /m);
  await lab.logs.waitFor(/ info request conn=c\d+ .*op=EXTENDED name=statvfs@openssh\.com path=\/ status=OK/);
});

test('ln: a second name for a file (hardlink); onto an existing name: Failure', async () => {
  await writeFile(path.join(home, 'report.txt'), 'the report\n');
  const result = await sftpBatch(lab, ['ln report.txt report-copy.txt', '-ln report.txt notes.txt']);
  expect(result.code).toBe(0);
  const [a, b] = await Promise.all([stat(path.join(home, 'report.txt')), stat(path.join(home, 'report-copy.txt'))]);
  expect([a.ino, a.nlink]).toEqual([b.ino, 2]);
  expect(result.stderr).toMatch(/remote link "\/report\.txt" to "\/notes\.txt": Failure/);
});

describe('a hard link never reaches outside the home', () => {
  beforeAll(async () => {
    // Planted by someone with access to the host; a student cannot make these over SFTP.
    await symlink(lab.outside, path.join(home, 'escape'));
    await symlink(path.join(lab.outside, 'secret.txt'), path.join(home, 'secret-link'));
  });

  test('OpenSSH ln: through a link, through a linked folder, by ../, into a linked folder: refused; nothing outside changes', async () => {
    const before = await snapshot(lab.outside);
    const result = await sftpBatch(lab, [
      '-ln secret-link grab1',
      '-ln escape/secret.txt grab2',
      '-ln ../../../outside/secret.txt grab3',
      '-ln /etc/passwd grab4',
      '-ln notes.txt escape/planted',
    ]);
    expect(result.stderr).toMatch(/remote link "\/secret-link" to "\/grab1": Permission denied/);
    expect(result.stderr).toMatch(/remote link "\/escape\/secret\.txt" to "\/grab2": Permission denied/);
    expect(result.stderr).toMatch(/remote link "\/\.\.\/\.\.\/\.\.\/outside\/secret\.txt" to "\/grab3": Permission denied/);
    expect(result.stderr).toMatch(/remote link "\/etc\/passwd" to "\/grab4": No such file or directory/); // the home's /etc/passwd: none
    expect(result.stderr).toMatch(/remote link "\/notes\.txt" to "\/escape\/planted": Permission denied/);
    for (const name of ['grab1', 'grab2', 'grab3', 'grab4']) await expect(lstat(path.join(home, name))).rejects.toThrow(/ENOENT/);
    expect((await stat(path.join(lab.outside, 'secret.txt'))).nlink).toBe(1);
    expect(await snapshot(lab.outside)).toEqual(before);
    expect(lab.logs.matching(/ warn request .*op=EXTENDED name=hardlink@openssh\.com .*status=PERMISSION_DENIED/)).toHaveLength(4);
    await stillServes(lab);
  });
});

describe('with ssh2\'s client, which finds the extensions in VERSION too', () => {
  let client: Client;
  let sftp: SFTPWrapper;
  beforeAll(async () => {
    ({ client, sftp } = await sftpSession(lab.port));
  });
  afterAll(async () => {
    await closeClient(client);
  });

  test('ext_openssh_statvfs: the numbers of statvfs(3), the file system id withheld', async () => {
    const fs = await call<Record<string, number>>((cb) => sftp.ext_openssh_statvfs('/', cb as never));
    expect(fs.f_bsize).toBeGreaterThan(0);
    expect(fs.f_blocks).toBeGreaterThan(0);
    expect(fs.f_bavail).toBeLessThanOrEqual(fs.f_blocks!);
    expect([fs.f_sid, fs.f_namemax]).toEqual([0, 255]); // ssh2 names the file system id f_sid
    expect(await statusOf(call((cb) => sftp.ext_openssh_statvfs('/no-such-folder', cb as never)))).toBe(STATUS.NO_SUCH_FILE);
    expect(await statusOf(call((cb) => sftp.ext_openssh_statvfs('/escape', cb as never)))).toBe(STATUS.PERMISSION_DENIED);
  });

  test('ext_openssh_rename replaces; ext_openssh_hardlink refuses a link to the outside', async () => {
    await writeFile(path.join(home, 'x.txt'), 'x');
    await writeFile(path.join(home, 'y.txt'), 'y');
    await call((cb) => sftp.ext_openssh_rename('/x.txt', '/y.txt', cb));
    expect(await readFile(path.join(home, 'y.txt'), 'utf8')).toBe('x');
    expect(await statusOf(call((cb) => sftp.ext_openssh_rename('/y.txt', '/escape/y.txt', cb)))).toBe(STATUS.PERMISSION_DENIED);
    expect(await statusOf(call((cb) => sftp.ext_openssh_hardlink('/secret-link', '/z.txt', cb)))).toBe(STATUS.PERMISSION_DENIED);
    expect(await statusOf(call((cb) => sftp.ext_openssh_hardlink('/', '/root-link', cb)))).toBe(STATUS.FAILURE); // a folder
  });
});
