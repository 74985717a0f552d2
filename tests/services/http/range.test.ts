/**
 * Range requests on the static site (RFC 9110 §14), side by side with nginx serving
 * the same files: the same Range header to both, the same status, Content-Range and
 * bytes back. Then curl: `-r` for a part, `-C -` to resume a broken download.
 */
import { randomBytes } from 'node:crypto';
import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startNginx, type Nginx } from '../../helpers/daemons';
import { curl, request, startServer, tempDir, WWW, type NodeResponse, type RunningServer } from './harness';

let nginx: Nginx;
let www: RunningServer;
let hello: Buffer;
/** 200 KB of random bytes, big enough that a download takes more than one read. */
let big: Buffer;
let tmp: string;

beforeAll(async () => {
  tmp = await tempDir('wirelab-range-');
  // Both serve the same folder: a copy of the site, plus the big file.
  const site = path.join(tmp, 'www');
  await cp(WWW, site, { recursive: true });
  big = randomBytes(200 * 1024);
  await writeFile(path.join(site, 'big.bin'), big);
  [nginx, www] = await Promise.all([startNginx({ root: site }), startServer({ wwwDir: site })]);
  hello = await readFile(path.join(WWW, 'hello.txt'));
});
afterAll(async () => {
  await Promise.all([nginx?.stop(), www?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Both servers by name; the ports are known once beforeAll has run. */
const SERVERS = ['nginx', 'www.lab.test'] as const;
const portOf = (name: (typeof SERVERS)[number]): number => (name === 'nginx' ? nginx.port : www.port);

/** The parts of a multipart/byteranges body (RFC 9110 §14.6): each part's Content-Range and bytes. */
function parts(res: NodeResponse): { range: string; bytes: Buffer }[] {
  const boundary = /boundary=(\S+)/.exec(String(res.headers['content-type']))![1]!;
  const text = res.body.toString('latin1');
  return text
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const [head, ...rest] = part.replace(/^\r\n/, '').split('\r\n\r\n');
      return { range: /Content-Range: (.*)/i.exec(head!)![1]!.trim(), bytes: Buffer.from(rest.join('\r\n\r\n').replace(/\r\n$/, ''), 'latin1') };
    });
}

describe.each([
  // [Range, status, the Content-Range of each part ('*' for 416), in order]
  ['bytes=0-9', 206, ['bytes 0-9/96']],
  ['bytes=10-', 206, ['bytes 10-95/96']],
  ['bytes=-5', 206, ['bytes 91-95/96']],
  ['bytes=90-200', 206, ['bytes 90-95/96']],
  ['bytes=-200', 206, ['bytes 0-95/96']],
  ['BYTES=0-1', 206, ['bytes 0-1/96']],
  ['bytes=0-1,200-300', 206, ['bytes 0-1/96']],
  ['bytes=0-0,-1', 206, ['bytes 0-0/96', 'bytes 95-95/96']],
  ['bytes=0-1, 4-5', 206, ['bytes 0-1/96', 'bytes 4-5/96']],
  ['bytes=96-', 416, ['bytes */96']],
  ['bytes=200-300', 416, ['bytes */96']],
  ['bytes=-0', 416, ['bytes */96']],
  ['bytes=5-2', 416, ['bytes */96']],
  ['bytes=x', 416, ['bytes */96']],
  ['bytes=0-50,10-60', 200, []],
  ['items=0-1', 200, []],
] as const)('Range: %s on a 96-byte file', (range, status, ranges) => {
  test.each(SERVERS)(`%s: ${status} ${ranges.join(', ')}`, async (name) => {
    const port = portOf(name);
    const res = await request(port, { path: '/hello.txt', headers: { Range: range } });
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(res.body).toEqual(hello);
      expect(res.headers['content-range']).toBeUndefined();
    } else if (status === 416) {
      expect(res.headers['content-range']).toBe(ranges[0]);
    } else if (ranges.length === 1) {
      expect(res.headers['content-range']).toBe(ranges[0]);
      const [, from, to] = /bytes (\d+)-(\d+)/.exec(ranges[0]!)!.map(Number);
      expect(res.body).toEqual(hello.subarray(from, to! + 1));
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
    } else {
      expect(res.headers['content-type']).toMatch(/^multipart\/byteranges; boundary=/);
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      const got = parts(res);
      expect(got.map((p) => p.range)).toEqual(ranges);
      for (const part of got) {
        const [, from, to] = /bytes (\d+)-(\d+)/.exec(part.range)!.map(Number);
        expect(part.bytes).toEqual(hello.subarray(from, to! + 1));
      }
    }
  });
});

describe('the rest of RFC 9110 §14, on both servers', () => {
  test.each(SERVERS)('%s: a whole file says Accept-Ranges: bytes; HEAD with a Range is 206 without a body', async (name) => {
    const port = portOf(name);
    const whole = await request(port, { path: '/hello.txt' });
    expect(whole.headers['accept-ranges']).toBe('bytes');
    const head = await request(port, { method: 'HEAD', path: '/hello.txt', headers: { Range: 'bytes=0-9' } });
    expect(head.status).toBe(206);
    expect(head.headers['content-range']).toBe('bytes 0-9/96');
    expect(head.headers['content-length']).toBe('10');
    expect(head.body.length).toBe(0);
  });

  test.each(SERVERS)('%s: If-Range with the ETag or the date of this file: 206; with another, or a weak tag: the whole file', async (name) => {
    const port = portOf(name);
    const { headers } = await request(port, { method: 'HEAD', path: '/hello.txt' });
    const etag = String(headers.etag);
    const lastModified = String(headers['last-modified']);
    const statusWith = async (ifRange: string): Promise<number> =>
      (await request(port, { path: '/hello.txt', headers: { Range: 'bytes=0-9', 'If-Range': ifRange } })).status;
    expect(await statusWith(etag)).toBe(206);
    expect(await statusWith('"another-version"')).toBe(200);
    expect(await statusWith(`W/${etag}`)).toBe(200); // If-Range compares strongly (RFC 9110 §13.1.5)
    expect(await statusWith(lastModified)).toBe(206);
    expect(await statusWith('Thu, 01 Jan 2026 00:00:00 GMT')).toBe(200);
  });

  test.each(SERVERS)('%s: a Range with a matching If-None-Match is 304; on a missing file, 404', async (name) => {
    const port = portOf(name);
    const { headers } = await request(port, { method: 'HEAD', path: '/hello.txt' });
    const cached = await request(port, { path: '/hello.txt', headers: { Range: 'bytes=0-9', 'If-None-Match': String(headers.etag) } });
    expect(cached.status).toBe(304);
    expect((await request(port, { path: '/nothing-here', headers: { Range: 'bytes=0-9' } })).status).toBe(404);
  });

  test.each(SERVERS)('%s: curl -r 1000-99999 gets exactly those bytes', async (name) => {
    const port = portOf(name);
    const out = path.join(tmp, `part-${name}.bin`);
    const result = await curl('-r', '1000-99999', '-o', out, '-w', '%{http_code}', `http://127.0.0.1:${port}/big.bin`);
    expect(result.stdout).toBe('206');
    expect(await readFile(out)).toEqual(big.subarray(1000, 100_000));
  });

  test.each(SERVERS)('%s: curl -C - resumes a broken download; again when complete, it changes nothing', async (name) => {
    const port = portOf(name);
    const out = path.join(tmp, `resumed-${name}.bin`);
    await writeFile(out, big.subarray(0, 70_000)); // as if the transfer broke off there
    const resumed = await curl('-C', '-', '-o', out, '-w', '%{http_code}', `http://127.0.0.1:${port}/big.bin`);
    expect(resumed.stdout).toBe('206');
    expect(await readFile(out)).toEqual(big);
    // Nothing left to fetch: the server says 416, and curl knows the file is complete.
    const again = await curl('-C', '-', '-o', out, '-w', '%{http_code}', `http://127.0.0.1:${port}/big.bin`);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('416');
    expect((await stat(out)).size).toBe(big.length);
  });
});

describe('www.lab.test only', () => {
  test('416 says how long the file is, in words and in Content-Range', async () => {
    const res = await request(www.port, { path: '/hello.txt', headers: { Range: 'bytes=500-' } });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe('bytes */96');
    expect(res.body.toString()).toContain('the file has 96 bytes; "bytes=500-" asks for none of them');
  });

  test('maxRanges: 2 -> three parts are not served as parts: the whole file, 200', async () => {
    const strict = await startServer({ maxRanges: 2 });
    try {
      const two = await request(strict.port, { path: '/hello.txt', headers: { Range: 'bytes=0-0,2-2' } });
      expect(two.status).toBe(206);
      const three = await request(strict.port, { path: '/hello.txt', headers: { Range: 'bytes=0-0,2-2,4-4' } });
      expect(three.status).toBe(200);
      expect(three.body).toEqual(hello);
    } finally {
      await strict.stop();
    }
  });

  test('the log line of a 206 counts the bytes sent, not the file size', async () => {
    await request(www.port, { path: '/hello.txt?log', headers: { Range: 'bytes=0-9' } });
    await www.logs.waitFor(/ http info .*"GET \/hello\.txt\?log HTTP\/1\.1" 206 10(?: \w+=\S+)*$/);
  });
});
