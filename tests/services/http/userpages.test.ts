import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { homeDir } from '../../../services/common/homes';
import { curl, curlStatus, startServer, tempDir, type RunningServer } from './harness';

/** http://www.lab.test/~web/: a user's public_html, the folder FTP and SFTP publish into. */

let s: RunningServer;
let outside: string;
beforeAll(async () => {
  const dataDir = await tempDir();
  const site = path.join(homeDir(dataDir, 'web'), 'public_html');
  await mkdir(path.join(site, 'blog'), { recursive: true });
  await writeFile(path.join(site, 'index.html'), '<h1>published</h1>\n');
  await writeFile(path.join(site, 'blog', 'index.html'), '<h1>blog</h1>\n');
  await writeFile(path.join(homeDir(dataDir, 'web'), 'private.txt'), 'not for the web\n');
  outside = await tempDir('wirelab-outside-');
  await writeFile(path.join(outside, 'secret.txt'), 'secret\n');
  await symlink(path.join(outside, 'secret.txt'), path.join(site, 'leak.txt'));
  s = await startServer({}, undefined, dataDir);
});
afterAll(() => s.stop());

test('a published page is served from the home folder', async () => {
  const page = await curl('-i', `${s.base}/~web/`);
  expect(page.stdout).toMatch(/^HTTP\/1\.1 200 OK/);
  expect(page.stdout).toContain('<h1>published</h1>');
  expect((await curl(`${s.base}/~web/blog/`)).stdout).toBe('<h1>blog</h1>\n');
});

test('/~web without the slash is redirected, as a folder is', async () => {
  const head = await curl('-i', `${s.base}/~web`);
  expect(head.stdout).toMatch(/^HTTP\/1\.1 301 /);
  expect(head.stdout).toMatch(/\r\nLocation: \/~web\/\r\n/);
});

test('only public_html is published: the rest of the home, other users and links out are not', async () => {
  expect(await curlStatus('--path-as-is', `${s.base}/~web/../private.txt`)).not.toBe(200);
  expect((await curl('--path-as-is', `${s.base}/~web/%2e%2e/private.txt`)).stdout).not.toContain('not for the web');
  expect(await curlStatus(`${s.base}/~web/leak.txt`)).toBe(403);
  expect(await curlStatus(`${s.base}/~nobody/`)).toBe(404);
  expect(await curlStatus(`${s.base}/~alice/`)).toBe(404); // a user without public_html
  expect(await curlStatus(`${s.base}/~web/`)).toBe(200); // and the server still serves
});
