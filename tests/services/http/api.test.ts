import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, silentSink } from '../../../services/common/logger';
import { HttpServer } from '../../../services/http/server';
import { LAB_DIR } from '../../helpers/paths';
import {
  curl,
  expectAlive,
  json,
  parseResponse,
  RawClient,
  readJsonFile,
  request,
  snapshot,
  startServer,
  tempDir,
  type RunningServer,
} from './harness';

const SEED = path.join(LAB_DIR, 'api', 'notes.json');

let lab: RunningServer;
let labBefore: Awaited<ReturnType<typeof labSnapshot>>;
/** What the HTTP server reads from lab/: its site, its seed, its users. */
const labSnapshot = async () => ({
  www: await snapshot(path.join(LAB_DIR, 'www')),
  api: await snapshot(path.join(LAB_DIR, 'api')),
  users: await readFile(path.join(LAB_DIR, 'users.yaml'), 'utf8'),
});
let seedBefore: string;

beforeAll(async () => {
  labBefore = await labSnapshot();
  seedBefore = await readFile(SEED, 'utf8');
  lab = await startServer();
});
afterAll(async () => {
  await lab.stop();
});

const notesFile = () => path.join(lab.dataDir, 'http', 'notes.json');

describe('the seed', () => {
  test('lab/api/notes.json holds a few notes with id, title and body', async () => {
    const seed = JSON.parse(seedBefore);
    expect(seed.length).toBeGreaterThanOrEqual(2);
    for (const note of seed) expect(note).toEqual({ id: expect.any(String), title: expect.any(String), body: expect.any(String) });
  });

  test('the first start copies it into the data dir, and GET /api/notes lists it', async () => {
    const res = await json(lab.port, 'GET', '/api/notes');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json).toEqual(JSON.parse(seedBefore));
    expect(await readJsonFile(notesFile())).toEqual(JSON.parse(seedBefore));
  });
});

describe('methods and status codes', () => {
  test('GET /api/notes/:id is 200, or 404 with a JSON error', async () => {
    const one = await json(lab.port, 'GET', '/api/notes/1');
    expect(one.status).toBe(200);
    expect(one.json.id).toBe('1');
    const missing = await json(lab.port, 'GET', '/api/notes/999');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'there is no note with id "999"', status: 404 });
  });

  test('POST is 201 with Location and the note; the note is then there', async () => {
    const created = await json(lab.port, 'POST', '/api/notes', { title: 'Buy milk', body: '2 litres' });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ id: expect.any(String), title: 'Buy milk', body: '2 litres' });
    expect(created.headers['location']).toBe(`/api/notes/${created.json.id}`);
    const fetched = await json(lab.port, 'GET', created.headers['location']!);
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual(created.json);
  });

  test('two POSTs make two notes (POST is not idempotent)', async () => {
    const a = await json(lab.port, 'POST', '/api/notes', { title: 'same' });
    const b = await json(lab.port, 'POST', '/api/notes', { title: 'same' });
    expect(a.json.id).not.toBe(b.json.id);
    expect(a.json.body).toBe('');
  });

  test('PUT creates (201) then replaces (200)', async () => {
    const first = await json(lab.port, 'PUT', '/api/notes/shopping', { title: 'Shopping', body: 'eggs' });
    expect(first.status).toBe(201);
    expect(first.headers['location']).toBe('/api/notes/shopping');
    expect(first.json).toEqual({ id: 'shopping', title: 'Shopping', body: 'eggs' });
    const second = await json(lab.port, 'PUT', '/api/notes/shopping', { title: 'Shopping', body: 'eggs, flour' });
    expect(second.status).toBe(200);
    expect(second.json.body).toBe('eggs, flour');
    expect((await json(lab.port, 'GET', '/api/notes/shopping')).json.body).toBe('eggs, flour');
  });

  test('DELETE is 204 with no body, then 404', async () => {
    await json(lab.port, 'PUT', '/api/notes/doomed', { title: 'doomed' });
    const { stdout } = await curl('-i', '-X', 'DELETE', `${lab.base}/api/notes/doomed`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    expect((await json(lab.port, 'GET', '/api/notes/doomed')).status).toBe(404);
    expect((await json(lab.port, 'DELETE', '/api/notes/doomed')).status).toBe(404);
  });

  test('curl: the API walk-through from api.html works as written', async () => {
    const post = parseResponse(
      (await curl('-i', `${lab.base}/api/notes`, '-H', 'Content-Type: application/json', '--data', '{"title": "Buy milk", "body": "2 litres"}')).stdout,
    );
    expect(post.status).toBe(201);
    const location = post.headers['location']!;
    const put = await curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', `${lab.base}${location}`, '-H', 'Content-Type: application/json', '--data', '{"title": "Buy oat milk"}');
    expect(put.stdout).toBe('200');
    const del = await curl('-o', '/dev/null', '-w', '%{http_code}', '-X', 'DELETE', `${lab.base}${location}`);
    expect(del.stdout).toBe('204');
  });

  test.each([
    ['DELETE', '/api/notes', 'GET, HEAD, POST, OPTIONS'],
    ['PATCH', '/api/notes', 'GET, HEAD, POST, OPTIONS'],
    ['PUT', '/api/notes', 'GET, HEAD, POST, OPTIONS'],
    ['POST', '/api/notes/1', 'GET, HEAD, PUT, DELETE, OPTIONS'],
    ['PATCH', '/api/notes/1', 'GET, HEAD, PUT, DELETE, OPTIONS'],
    ['GET', '/api/login', 'POST, OPTIONS'],
    ['POST', '/api/me', 'GET, HEAD, OPTIONS'],
  ])('%s %s is 405 with Allow: %s', async (method, urlPath, allow) => {
    const res = await json(lab.port, method, urlPath);
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe(allow);
    expect(res.json).toEqual({ error: expect.stringContaining(method), status: 405 });
  });

  test('OPTIONS /api/notes is 204 with Allow', async () => {
    const res = await request(lab.port, { method: 'OPTIONS', path: '/api/notes' });
    expect(res.status).toBe(204);
    expect(res.headers['allow']).toBe('GET, HEAD, POST, OPTIONS');
  });

  test('HEAD /api/notes has the Content-Length of GET and no body', async () => {
    const get = await request(lab.port, { path: '/api/notes' });
    const head = await request(lab.port, { method: 'HEAD', path: '/api/notes' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(get.body.length));
    expect(head.body.length).toBe(0);
  });
});

describe('bad bodies', () => {
  const send = (body: string | Buffer, contentType = 'application/json', method = 'POST', urlPath = '/api/notes') =>
    request(lab.port, { method, path: urlPath, headers: { 'Content-Type': contentType }, body });

  test.each([
    ['malformed JSON', '{"title": "x"'],
    ['an empty body', ''],
    ['JSON that is not an object', '"just a string"'],
    ['a note without a title', '{"body": "no title"}'],
    ['a title that is not a string', '{"title": 42}'],
    ['an empty title', '{"title": "   "}'],
    ['a body that is not a string', '{"title": "x", "body": []}'],
    ['bytes that are not UTF-8', Buffer.from('{"title": "\xff"}', 'latin1')],
  ])('%s is 400 with a JSON error', async (_what, body) => {
    const res = await send(body, 'application/json');
    expect(res.status).toBe(400);
    const error = JSON.parse(res.body.toString());
    expect(error.status).toBe(400);
    expect(typeof error.error).toBe('string');
    await expectAlive(lab.port);
  });

  test('the 400 says what a note looks like', async () => {
    const res = await send('{"body": "x"}');
    expect(JSON.parse(res.body.toString()).error).toMatch(/"title".*\{"title": "Buy milk"/);
  });

  test('PUT with an id that is not letters and digits is 400', async () => {
    const res = await send('{"title": "x"}', 'application/json', 'PUT', '/api/notes/a.b');
    expect(res.status).toBe(400);
  });

  test.each([
    ['curl --data default (form encoded)', 'application/x-www-form-urlencoded'],
    ['text/plain', 'text/plain'],
    ['no Content-Type at all', ''],
  ])('%s is 415', async (_what, type) => {
    const headers: Record<string, string> = type ? { 'Content-Type': type } : {};
    const res = await request(lab.port, { method: 'POST', path: '/api/notes', headers, body: '{"title": "x"}' });
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body.toString())).toEqual({ error: expect.stringContaining('application/json'), status: 415 });
    await expectAlive(lab.port);
  });

  test('application/json with a charset parameter is fine', async () => {
    expect((await send('{"title": "charset"}', 'application/json; charset=utf-8')).status).toBe(201);
  });

  test('curl --data without -H is 415 (the classic mistake)', async () => {
    const { stdout } = await curl('-o', '/dev/null', '-w', '%{http_code}', `${lab.base}/api/notes`, '--data', '{"title":"x"}');
    expect(stdout).toBe('415');
  });

  test('a compressed body is 415', async () => {
    const res = await request(lab.port, {
      method: 'POST',
      path: '/api/notes',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: 'xx',
    });
    expect(res.status).toBe(415);
  });

  test('a body over maxBodyBytes (default 64 KiB) is 413', async () => {
    const big = JSON.stringify({ title: 'big', body: 'x'.repeat(70_000) });
    const res = await send(big);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body.toString()).status).toBe(413);
    await expectAlive(lab.port);
  });

  test('a 415 before the body was read closes the connection, so the unread body is never parsed as a request', async () => {
    const client = await RawClient.connect(lab.port);
    const body = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    client.write(`POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const text = await client.rest();
    expect(parseResponse(text).status).toBe(415);
    expect(parseResponse(text).headers['connection']).toBe('close');
    expect(text).not.toContain('404');
  });
});

describe('persistence', () => {
  test('every change is in the data dir file, written whole (no temp files left)', async () => {
    const created = await json(lab.port, 'POST', '/api/notes', { title: 'persist me' });
    const onDisk = await readJsonFile(notesFile());
    expect(onDisk).toContainEqual(created.json);
    const files = await readdir(path.join(lab.dataDir, 'http'));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('notes survive a restart on the same data dir; the seed is not copied again', async () => {
    const dataDir = await tempDir();
    const first = await startServer({}, LAB_DIR, dataDir);
    await json(first.port, 'PUT', '/api/notes/keep', { title: 'kept' });
    await json(first.port, 'DELETE', '/api/notes/1');
    await first.stop();
    const second = await startServer({}, LAB_DIR, dataDir);
    try {
      expect((await json(second.port, 'GET', '/api/notes/keep')).json.title).toBe('kept');
      expect((await json(second.port, 'GET', '/api/notes/1')).status).toBe(404);
    } finally {
      await second.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('the dataDir option decides where notes live; a broken notes file stops listen() with a clear error', async () => {
    const dataDir = await tempDir();
    await mkdir(path.join(dataDir, 'http'));
    await writeFile(path.join(dataDir, 'http', 'notes.json'), '{ broken');
    const server = new HttpServer({ dataDir, wwwDir: path.join(LAB_DIR, 'www'), notesSeed: SEED, log: createLogger('http', { sink: silentSink }) });
    await expect(server.listen(0)).rejects.toThrow(/notes\.json is not a JSON list of notes/);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('without a seed file the API starts empty', async () => {
    const dataDir = await tempDir();
    const server = new HttpServer({ dataDir, notesSeed: path.join(dataDir, 'none.json'), log: createLogger('http', { sink: silentSink }) });
    const { port } = await server.listen(0);
    try {
      expect((await json(port, 'GET', '/api/notes')).json).toEqual([]);
      expect((await json(port, 'POST', '/api/notes', { title: 'first' })).json.id).toBe('1');
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('fromLab refuses a data dir inside lab/', async () => {
    await expect(HttpServer.fromLab(LAB_DIR, path.join(LAB_DIR, 'data'))).rejects.toThrow(/read-only/);
  });

  test('lab/ was never written: same files, sizes and times, same seed', async () => {
    expect(await labSnapshot()).toEqual(labBefore);
    expect(await readFile(SEED, 'utf8')).toBe(seedBefore);
  });
});
