import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { curl, expectAlive, parseResponse, raw, RawClient, request, startServer, tempDir, WWW, type RunningServer } from './harness';

/**
 * Path safety: whatever a client puts in the path, nothing outside the document
 * root is ever served. The site here is a temp copy of lab/www (the wwwDir option),
 * with a secret file next to it and symlinks inside it pointing out.
 */
const SECRET = 'TOP-SECRET-OUTSIDE-WWW';
const FORBIDDEN_CONTENT = [SECRET, 'root:x:0:0', '"name": "wirelab"', 'BEGIN'];

let root: string;
let www: string;
let lab: RunningServer;
let labWithRealWww: RunningServer;

beforeAll(async () => {
  root = await tempDir('wirelab-www-');
  www = path.join(root, 'www');
  await cp(WWW, www, { recursive: true });
  await writeFile(path.join(root, 'secret.txt'), SECRET);
  await mkdir(path.join(root, 'outside'));
  await writeFile(path.join(root, 'outside', 'secret.txt'), SECRET);
  await symlink(path.join(root, 'secret.txt'), path.join(www, 'leak.txt')); // a file link out
  await symlink('../outside', path.join(www, 'outdir')); // a folder link out (relative)
  await symlink('index.html', path.join(www, 'alias.html')); // a link that stays inside: fine
  lab = await startServer({ wwwDir: www });
  labWithRealWww = await startServer();
});
afterAll(async () => {
  await lab.stop();
  await labWithRealWww.stop();
  await rm(root, { recursive: true, force: true });
});

function expectNoLeak(text: string): void {
  for (const secret of FORBIDDEN_CONTENT) expect(text).not.toContain(secret);
}

describe('the wwwDir option', () => {
  test('the site comes from the given folder', async () => {
    await writeFile(path.join(www, 'only-in-copy.txt'), 'copy');
    const res = await request(lab.port, { path: '/only-in-copy.txt' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('copy');
    expect((await request(labWithRealWww.port, { path: '/only-in-copy.txt' })).status).toBe(404);
  });

  test('a folder without index.html is 404 (no listings), even one whose index.html is a folder', async () => {
    await mkdir(path.join(www, 'empty'));
    await mkdir(path.join(www, 'odd', 'index.html'), { recursive: true });
    expect((await request(lab.port, { path: '/empty/' })).status).toBe(404);
    expect((await request(lab.port, { path: '/odd/' })).status).toBe(404);
    expect((await request(lab.port, { path: '/odd/index.html' })).status).toBe(301);
  });

  test('a symlink that stays inside the root is followed', async () => {
    const res = await request(lab.port, { path: '/alias.html' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('<h1>');
  });
});

describe('traversal with curl --path-as-is', () => {
  test.each([
    ['/../secret.txt', 403],
    ['/../../../../../../etc/passwd', 403],
    ['/guide/../../secret.txt', 403],
    ['/%2e%2e/secret.txt', 403],
    ['/%2e%2e/%2e%2e/etc/passwd', 403],
    ['/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd', 403],
    ['/..%2f..%2fetc/passwd', 403],
    ['/..%2fsecret.txt', 403],
    ['/%2e%2e%2fsecret.txt', 403],
    ['/leak.txt', 403],
    ['/outdir/secret.txt', 403],
    ['/outdir/', 403],
    ['/outdir', 403],
    ['/%252e%252e/secret.txt', 404], // decoded once: a file literally named %2e%2e
    ['//etc/passwd', 404], // never an absolute path on the disk
    ['/%2fetc%2fpasswd', 404],
    ['/%00', 400],
    ['/index.html%00.png', 400],
    ['/%5c..%5csecret.txt', 400],
    ['/..%5c..%5csecret.txt', 400],
    ['/%zz', 400],
    ['/%e9', 400], // not UTF-8
  ])('%s -> %i, and nothing from outside', async (urlPath, status) => {
    const { stdout } = await curl('-i', '--path-as-is', `${lab.base}${urlPath}`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(status);
    expectNoLeak(stdout);
    await expectAlive(lab.port);
  });

  test('from the real lab/www, ../package.json stays out of reach', async () => {
    for (const urlPath of ['/../package.json', '/../../package.json', '/%2e%2e/%2e%2e/package.json', '/..%2f..%2fpackage.json']) {
      const { stdout } = await curl('-i', '--path-as-is', `${labWithRealWww.base}${urlPath}`);
      expect(parseResponse(stdout).status).toBe(403);
      expectNoLeak(stdout);
    }
    await expectAlive(labWithRealWww.port);
  });

  test('a refused path is logged with its reason', async () => {
    await curl('--path-as-is', `${lab.base}/leak.txt`);
    await lab.logs.waitFor(/warn refused path .*path=\/leak\.txt .*reason="a link leads out of the root"/);
    await curl('--path-as-is', `${lab.base}/%00`);
    await lab.logs.waitFor(/warn bad request target .*target=\/%00 .*NUL/);
  });
});

describe('what clients refuse to send: raw sockets', () => {
  const get = (target: string | Buffer) =>
    Buffer.concat([Buffer.from('GET '), Buffer.from(target), Buffer.from(' HTTP/1.1\r\nHost: www.lab.test\r\nConnection: close\r\n\r\n')]);

  test.each([
    ['a raw backslash path', 400, '/..\\..\\secret.txt'],
    ['a backslash at the start', 400, '\\..\\secret.txt'],
    ['a raw NUL byte in the target', 400, Buffer.from('/index.html\0.png', 'latin1')],
    ['a target that is not a path', 400, 'secret.txt'],
    ['an absolute-form target climbing out', 403, 'http://www.lab.test/../secret.txt'],
    ['raw dot-dot', 403, '/../../secret.txt'],
  ])('%s -> %i', async (_name, status, target) => {
    const text = await raw(lab.port, get(target));
    expect(parseResponse(text).status).toBe(status);
    expectNoLeak(text);
    await expectAlive(lab.port);
  });

  test('a garbage request line is 400 and the connection closes', async () => {
    const text = await raw(lab.port, 'HELLO THERE\r\n\r\n');
    const res = parseResponse(text);
    expect(res.status).toBe(400);
    expect(res.headers['connection']).toBe('close');
    expect(res.body).toContain('GET / HTTP/1.1');
    await expectAlive(lab.port);
  });

  test('bare LF line ends are 400, with a hint about nc -C', async () => {
    const res = parseResponse(await raw(lab.port, 'GET / HTTP/1.1\nHost: x\n\n'));
    expect(res.status).toBe(400);
    expect(res.body).toContain('nc -C');
    await expectAlive(lab.port);
  });

  test('HTTP/1.1 without Host is 400 (RFC 9112 §3.2)', async () => {
    const res = parseResponse(await raw(lab.port, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'));
    expect(res.status).toBe(400);
    await expectAlive(lab.port);
  });

  test('a parse error is logged with its request line, as received', async () => {
    await raw(lab.port, 'BREW /coffee HTCPCP/1.0\r\n\r\n');
    await lab.logs.waitFor(/ http info 127\.0\.0\.1 - - \[.+\] "BREW \/coffee HTCPCP\/1\.0" 400 \d+(?: \w+=\S+)*$/);
  });

  test('a request line that never ended is logged as "-"', async () => {
    const client = await RawClient.connect(lab.port);
    client.write('GET /' + 'a'.repeat(20_000)); // no space, no version, no line end: over the 16 KiB head limit
    expect(parseResponse(await client.rest()).status).toBe(414);
    await lab.logs.waitFor(/ http info 127\.0\.0\.1 - - \[.+\] "-" 414 \d+(?: \w+=\S+)*$/);
  });
});
