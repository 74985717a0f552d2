/**
 * The web server remembers the files it found and the bytes of small ones
 * (fileCacheBytes, services/common/fileCache.ts). What clients get must not change:
 * an edited file is served new at the next request, whatever its size; Range and
 * If-Range answer from the remembered bytes as from the disk; a file swapped for a link
 * out of the site is refused, not served from memory. Real clients: curl and node:http.
 */
import { cp, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LAB_DIR } from '../../helpers/paths';
import { curl, request, startServer, tempDir, type RunningServer } from './harness';

let lab: RunningServer | undefined;
let dir: string;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A copy of the lab with its own www/, so the test can change files under the running server. */
async function startOnCopy(options: Parameters<typeof startServer>[0] = {}): Promise<{ www: string; get: (p: string, headers?: Record<string, string>) => ReturnType<typeof request> }> {
  dir = await tempDir('wirelab-filecache-');
  const labCopy = path.join(dir, 'lab');
  await cp(LAB_DIR, labCopy, { recursive: true });
  lab = await startServer(options, labCopy, path.join(dir, 'data'));
  const port = lab.port;
  return { www: path.join(labCopy, 'www'), get: (p, headers) => request(port, { path: p, headers }) };
}

test('an edited file is served new at the next request, even at the same size with its old modification time', async () => {
  const { www, get } = await startOnCopy();
  const page = path.join(www, 'page.txt');
  await writeFile(page, 'first version\n');
  const first = await get('/page.txt');
  expect(first.body.toString()).toBe('first version\n');
  expect((await get('/page.txt')).headers.etag).toBe(first.headers.etag); // remembered, unchanged
  const before = await stat(page);
  await writeFile(page, 'other version\n'); // the same length, the same inode
  await utimes(page, before.atime, before.mtime); // and the old mtime: only the change time tells
  const second = await get('/page.txt');
  expect(second.body.toString()).toBe('other version\n');
  await writeFile(path.join(www, 'page.txt'), 'a longer third version\n');
  expect((await get('/page.txt')).body.toString()).toBe('a longer third version\n');
});

test('a file replaced by another (rename over it) is the new one; a removed file is 404', async () => {
  const { www, get } = await startOnCopy();
  await writeFile(path.join(www, 'swap.txt'), 'old\n');
  expect((await get('/swap.txt')).body.toString()).toBe('old\n');
  await writeFile(path.join(www, 'swap.new'), 'new\n');
  await rename(path.join(www, 'swap.new'), path.join(www, 'swap.txt'));
  expect((await get('/swap.txt')).body.toString()).toBe('new\n');
  await rm(path.join(www, 'swap.txt'));
  expect((await get('/swap.txt')).status).toBe(404);
});

test('a remembered file swapped for a link out of the site: 403, never the remembered bytes', async () => {
  const { www, get } = await startOnCopy();
  await writeFile(path.join(dir, 'secret.txt'), 'outside the site\n');
  await writeFile(path.join(www, 'link.txt'), 'inside\n');
  expect((await get('/link.txt')).body.toString()).toBe('inside\n');
  await rm(path.join(www, 'link.txt'));
  await symlink(path.join(dir, 'secret.txt'), path.join(www, 'link.txt'));
  const res = await get('/link.txt');
  expect(res.status).toBe(403);
  expect(res.body.toString()).not.toContain('outside the site');
});

test('Range and If-Range from the remembered bytes: one part, several parts, and a stale If-Range gets the whole new file', async () => {
  const { www, get } = await startOnCopy();
  await writeFile(path.join(www, 'digits.txt'), '0123456789');
  const whole = await get('/digits.txt'); // now remembered
  const part = await get('/digits.txt', { Range: 'bytes=2-4' });
  expect([part.status, part.body.toString(), part.headers['content-range']]).toEqual([206, '234', 'bytes 2-4/10']);
  const multi = await curl('-s', '-H', 'Range: bytes=0-0,8-', `http://127.0.0.1:${lab!.port}/digits.txt`);
  expect(multi.stdout).toMatch(/Content-Range: bytes 0-0\/10\r\n\r\n0\r\n--\w+\r\nContent-Type: text\/plain[^\r]*\r\nContent-Range: bytes 8-9\/10\r\n\r\n89\r\n/);
  await writeFile(path.join(www, 'digits.txt'), 'abcdefghijkl');
  const stale = await get('/digits.txt', { Range: 'bytes=2-4', 'If-Range': whole.headers.etag! });
  expect([stale.status, stale.body.toString()]).toEqual([200, 'abcdefghijkl']);
});

test('fileCacheBytes 0 remembers nothing and serves the same; a file over a sixteenth of it is streamed whole', async () => {
  const { www, get } = await startOnCopy({ fileCacheBytes: 0 });
  await writeFile(path.join(www, 'page.txt'), 'x'.repeat(100));
  expect((await get('/page.txt')).body.toString()).toBe('x'.repeat(100));
  await lab!.stop();
  lab = await startServer({ fileCacheBytes: 16 * 1024 }, path.join(dir, 'lab'), path.join(dir, 'data'));
  const big = Buffer.alloc(64 * 1024, 'y');
  await writeFile(path.join(www, 'big.txt'), big);
  const res = await request(lab.port, { path: '/big.txt' });
  expect([res.status, res.body.equals(big)]).toEqual([200, true]);
});
