import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { homeDir, seedHomes } from '../../../services/common/homes';
import os from 'node:os';
import path from 'node:path';
import { confine, confineForWrite, confineReal, JailError } from '../../../services/common/jail';
import { LAB_DIR } from '../../helpers/paths';

/** Path confinement, shared by every service that maps a client's path to the disk. */

let base: string;
let root: string;
let outside: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'wirelab-jail-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret'), 'secret');
  await writeFile(path.join(root, 'sub', 'file'), 'ok');
  await symlink(outside, path.join(root, 'out')); // a folder link leading out
  await symlink(path.join(outside, 'secret'), path.join(root, 'secret-link'));
  await symlink(path.join(outside, 'nothing-yet'), path.join(root, 'dangling'));
  await symlink(path.join(root, 'sub', 'file'), path.join(root, 'inner-link'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

test('text rules: inside is fine, climbing out, NUL and backslashes are refused', () => {
  expect(confine(root, '/sub/file')).toBe(path.join(root, 'sub/file'));
  expect(confine(root, 'sub/../sub/file')).toBe(path.join(root, 'sub/file'));
  expect(confine(root, '/')).toBe(root);
  for (const bad of ['../x', '/../../etc/passwd', 'sub/../../x', 'a\0b', 'sub\\..\\..\\x']) expect(() => confine(root, bad)).toThrow(JailError);
});

test('reading follows links only when they stay inside', async () => {
  await expect(confineReal(root, '/inner-link')).resolves.toBe(path.join(root, 'sub/file'));
  await expect(confineReal(root, '/secret-link')).rejects.toThrow(/a link leads out/);
  await expect(confineReal(root, '/out/secret')).rejects.toThrow(/a link leads out/);
});

test('writing: new paths under a link out, links out and dangling links are refused', async () => {
  await expect(confineForWrite(root, '/sub/new.txt')).resolves.toBe(path.join(root, 'sub/new.txt'));
  await expect(confineForWrite(root, '/new/deep/file')).resolves.toBe(path.join(root, 'new/deep/file'));
  await expect(confineForWrite(root, '/inner-link')).resolves.toBe(path.join(root, 'inner-link'));
  await expect(confineForWrite(root, '/out/new.txt')).rejects.toThrow(/a link leads out/);
  await expect(confineForWrite(root, '/out/deep/new.txt')).rejects.toThrow(/a link leads out/);
  await expect(confineForWrite(root, '/secret-link')).rejects.toThrow(/a link leads out/);
  await expect(confineForWrite(root, '/dangling')).rejects.toThrow(/a link leads out/);
  await expect(confineForWrite(root, '../escape')).rejects.toThrow(/leaves the root/);
});

describe('seedHomes', () => {
  test('two servers seeding one data directory at once both succeed, with one copy each home', async () => {
    const data = path.join(base, 'data');
    const users = [{ name: 'alice', password: 'alice', domain: 'lab.test' }, { name: 'nobody-seeded', password: 'x', domain: 'lab.test' }];
    await Promise.all([seedHomes(LAB_DIR, data, users), seedHomes(LAB_DIR, data, users), seedHomes(LAB_DIR, data, users)]);
    expect((await readdir(path.join(data, 'homes'))).sort()).toEqual(['alice', 'nobody-seeded']);
    expect(await readFile(path.join(homeDir(data, 'alice'), 'notes.txt'), 'utf8')).toContain("alice's home");
  });
});
