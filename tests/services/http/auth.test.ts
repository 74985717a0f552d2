import { createHmac } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { LAB_DIR } from '../../helpers/paths';
import { curl, expectAlive, json, parseResponse, request, startServer, tempDir, type RunningServer } from './harness';

/**
 * The token flow, checked against an independent HS256 implementation here in the
 * test: if these tokens verify, any JWT library would accept them.
 */
const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function craft(claims: object, key: Buffer, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

let lab: RunningServer;
let key: Buffer;

beforeAll(async () => {
  lab = await startServer();
  key = Buffer.from((await readFile(path.join(lab.dataDir, 'http', 'token.key'), 'utf8')).trim(), 'base64url');
});
afterAll(async () => {
  await lab.stop();
});

async function login(port: number, username = 'alice', password = username) {
  return json(port, 'POST', '/api/login', { username, password });
}

describe('POST /api/login', () => {
  test('a lab user gets a real HS256 JWT with sub, iat and exp (default lifetime 3600 s)', async () => {
    const res = await login(lab.port);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json).toEqual({ token: expect.any(String), tokenType: 'Bearer', expiresIn: 3600 });
    const [header, payload, signature] = res.json.token.split('.');
    expect(decode(header)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decode(payload);
    expect(claims).toEqual({ sub: 'alice', iat: expect.any(Number), exp: expect.any(Number) });
    expect(claims.exp - claims.iat).toBe(3600);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(60);
    expect(signature).toBe(createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url'));
  });

  test('the signing key is random, made once, in the data dir, readable only by its owner', async () => {
    expect(key.length).toBeGreaterThanOrEqual(32);
    const info = await stat(path.join(lab.dataDir, 'http', 'token.key'));
    expect(info.mode & 0o077).toBe(0);
  });

  test.each([
    ['a wrong password', 'alice', 'bob'],
    ['an unknown user', 'mallory', 'mallory'],
    ['an empty password', 'alice', ''],
  ])('%s is 401 with a challenge', async (_what, username, password) => {
    const res = await login(lab.port, username, password);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="lab.test"');
    expect(res.json).toEqual({ error: 'wrong user name or password', status: 401 });
  });

  test('a failed login is logged', async () => {
    await login(lab.port, 'alice', 'nope');
    await lab.logs.waitFor(/warn login failed .*user=alice/);
  });

  test.each([
    ['no password field', { username: 'alice' }],
    ['a number for a password', { username: 'alice', password: 1 }],
    ['a list', []],
  ])('%s is 400', async (_what, body) => {
    expect((await json(lab.port, 'POST', '/api/login', body)).status).toBe(400);
  });

  test('form-encoded credentials are 415', async () => {
    const res = await curl('-o', '/dev/null', '-w', '%{http_code}', `${lab.base}/api/login`, '--data', 'username=alice&password=alice');
    expect(res.stdout).toBe('415');
  });

  test('every lab user from lab/users.yaml can log in', async () => {
    for (const user of ['alice', 'bob', 'web', 'carol']) expect((await login(lab.port, user)).status).toBe(200);
  });
});

describe('GET /api/me', () => {
  test('without a token: 401 with WWW-Authenticate: Bearer realm="lab.test" and no error code', async () => {
    const { stdout } = await curl('-i', `${lab.base}/api/me`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="lab.test"');
    expect(JSON.parse(res.body).error).toMatch(/POST \/api\/login/);
  });

  test('another scheme (Basic) counts as no token', async () => {
    const res = await json(lab.port, 'GET', '/api/me', undefined, { Authorization: 'Basic YWxpY2U6YWxpY2U=' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="lab.test"');
  });

  test('with the token: 200 and who I am; the scheme name is case-insensitive', async () => {
    const { token } = (await login(lab.port)).json;
    const res = await json(lab.port, 'GET', '/api/me', undefined, { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      user: 'alice',
      fullName: 'Alice Liddell',
      domain: 'lab.test',
      issuedAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    const lower = await json(lab.port, 'GET', '/api/me', undefined, { Authorization: `bearer ${token}` });
    expect(lower.json.user).toBe('alice');
  });

  test('curl: the token flow from api.html', async () => {
    const loginOut = await curl('-s', `${lab.base}/api/login`, '-H', 'Content-Type: application/json', '--data', '{"username":"bob","password":"bob"}');
    const token = /"token": "([^"]*)"/.exec(loginOut.stdout)![1]!;
    const { stdout } = await curl('-i', `${lab.base}/api/me`, '-H', `Authorization: Bearer ${token}`);
    const res = parseResponse(stdout);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).user).toBe('bob');
  });

  test('the log line names the user of a valid token', async () => {
    const { token } = (await login(lab.port, 'carol')).json;
    await json(lab.port, 'GET', '/api/me', undefined, { Authorization: `Bearer ${token}` });
    await lab.logs.waitFor(/ http info 127\.0\.0\.1 - carol \[.+\] "GET \/api\/me HTTP\/1\.1" 200 \d+(?: |$)/);
  });

  const invalid = async (token: string) => {
    const res = await json(lab.port, 'GET', '/api/me', undefined, { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="lab\.test", error="invalid_token", error_description="[^"\\]+"$/);
    expect(res.json.status).toBe(401);
    await expectAlive(lab.port);
    return res;
  };

  test('a tampered payload (alice makes herself bob) is 401 invalid_token', async () => {
    const { token } = (await login(lab.port)).json;
    const [header, payload, signature] = token.split('.');
    const forged = { ...decode(payload), sub: 'bob' };
    const res = await invalid(`${header}.${b64url(JSON.stringify(forged))}.${signature}`);
    expect(res.json.error).toMatch(/signature/);
  });

  test('a changed signature is 401 invalid_token', async () => {
    const { token } = (await login(lab.port)).json;
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const middle = Math.floor(signature.length / 2);
    const flipped = signature.slice(0, middle) + (signature[middle] === 'A' ? 'B' : 'A') + signature.slice(middle + 1);
    await invalid(`${header}.${payload}.${flipped}`);
  });

  test('an expired token (exp in the past, correctly signed) is 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await invalid(craft({ sub: 'alice', iat: now - 7200, exp: now - 3600 }, key));
    expect(res.json.error).toMatch(/expired/);
    expect(res.headers['www-authenticate']).toContain('error_description="the token has expired; log in again"');
  });

  test('a token signed with another key is 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    await invalid(craft({ sub: 'alice', iat: now, exp: now + 60 }, Buffer.alloc(32, 7)));
  });

  test('alg "none" (no signature) is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify({ sub: 'alice', iat: now, exp: now + 60 }))}.x`;
    const res = await invalid(unsigned);
    expect(res.json.error).toMatch(/algorithm/);
  });

  test('a token for a user who does not exist is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await invalid(craft({ sub: 'mallory', iat: now, exp: now + 60 }, key));
  });

  test.each(['garbage', 'a.b', 'a.b.c.d', '', 'ey!.ey!.sig'])('a malformed token %p is 401', async (token) => {
    await invalid(token);
  });

  test('a tampered token still shows as anonymous (-) in the log', async () => {
    await request(lab.port, { path: '/api/me', headers: { Authorization: 'Bearer x.y.z' } });
    await lab.logs.waitFor(/ http info 127\.0\.0\.1 - - \[.+\] "GET \/api\/me HTTP\/1\.1" 401 \d+(?: |$)/);
  });
});

describe('options', () => {
  test('tokenTtlSeconds sets exp - iat and expiresIn', async () => {
    const short = await startServer({ tokenTtlSeconds: 120 });
    try {
      const res = await login(short.port);
      expect(res.json.expiresIn).toBe(120);
      const claims = decode(res.json.token.split('.')[1]);
      expect(claims.exp - claims.iat).toBe(120);
    } finally {
      await short.stop();
    }
  });

  test('users replaces the lab users', async () => {
    const custom = await startServer({ users: [{ name: 'zed', password: 'zz-top', domain: 'lab.test' }] });
    try {
      expect((await login(custom.port, 'zed', 'zz-top')).status).toBe(200);
      expect((await login(custom.port, 'alice')).status).toBe(401);
    } finally {
      await custom.stop();
    }
  });

  test('stateless: a token survives a restart on the same data dir, and is refused by a lab with another key', async () => {
    const dataDir = await tempDir();
    const first = await startServer({}, LAB_DIR, dataDir);
    const { token } = (await login(first.port)).json;
    await first.stop();
    const second = await startServer({}, LAB_DIR, dataDir);
    const other = await startServer();
    try {
      expect((await json(second.port, 'GET', '/api/me', undefined, { Authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await json(other.port, 'GET', '/api/me', undefined, { Authorization: `Bearer ${token}` })).status).toBe(401);
    } finally {
      await second.stop();
      await other.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
