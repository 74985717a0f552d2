import type { IncomingMessage } from 'node:http';
import { hostAllowed, judge, originAllowed, sameToken } from '../../../lab-runner/console/security';
import { request, startConsole, type TestConsole } from '../../helpers/console';

/**
 * Who may use the console: only a browser that has the token, on this machine's names
 * for 127.0.0.1 at the console's port, from the console's own page. Checked as pure
 * functions, then against a real console with a real HTTP client.
 */

const req = (headers: Record<string, string>, method = 'GET'): IncomingMessage => ({ headers, method }) as unknown as IncomingMessage;

describe('the rules', () => {
  test('Host must be 127.0.0.1, localhost or [::1] at the console port', () => {
    expect(hostAllowed('127.0.0.1:8000', 8000)).toBe(true);
    expect(hostAllowed('localhost:8000', 8000)).toBe(true);
    expect(hostAllowed('LOCALHOST:8000', 8000)).toBe(true);
    expect(hostAllowed('[::1]:8000', 8000)).toBe(true);
    expect(hostAllowed('127.0.0.1:8001', 8000)).toBe(false);
    expect(hostAllowed('evil.example:8000', 8000)).toBe(false); // DNS rebinding: the attacker's name
    expect(hostAllowed('127.0.0.1.evil.example:8000', 8000)).toBe(false);
    expect(hostAllowed(undefined, 8000)).toBe(false);
    expect(hostAllowed('127.0.0.1', 80)).toBe(true);
  });

  test("a POST needs the console's own Origin; a GET may have none", () => {
    expect(originAllowed(req({ host: '127.0.0.1:8000', origin: 'http://127.0.0.1:8000' }), true)).toBe(true);
    expect(originAllowed(req({ host: '127.0.0.1:8000' }), true)).toBe(false);
    expect(originAllowed(req({ host: '127.0.0.1:8000' }), false)).toBe(true);
    expect(originAllowed(req({ host: '127.0.0.1:8000', origin: 'http://evil.example' }), false)).toBe(false);
    expect(originAllowed(req({ host: '127.0.0.1:8000', origin: 'http://127.0.0.1:8000', 'sec-fetch-site': 'cross-site' }), true)).toBe(false);
    expect(originAllowed(req({ host: '127.0.0.1:8000', origin: 'null' }), true)).toBe(false);
  });

  test('the token is compared whole', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abd', 'abc')).toBe(false);
    expect(sameToken('ab', 'abc')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
  });

  test('the token in the address works for a GET only; a POST needs the cookie', () => {
    const url = new URL('http://127.0.0.1:8000/api/lab?token=T');
    expect(judge(req({ host: '127.0.0.1:8000' }), url, 'T', 8000)).toEqual({ ok: true, viaQuery: true });
    expect(judge(req({ host: '127.0.0.1:8000', origin: 'http://127.0.0.1:8000' }, 'POST'), url, 'T', 8000)).toMatchObject({ ok: false, status: 401 });
    expect(judge(req({ host: '127.0.0.1:8000', origin: 'http://127.0.0.1:8000', cookie: 'a=1; wirelab_console=T' }, 'POST'), url, 'T', 8000)).toEqual({ ok: true, viaQuery: false });
  });
});

describe('a real console', () => {
  let c: TestConsole;
  beforeAll(async () => {
    c = await startConsole();
  });
  afterAll(() => c?.stop());

  test('without the token: 401, and a page that says to use the address wirelab up printed', async () => {
    const page = await request(c.port, 'GET', '/', { Host: c.host });
    expect(page.status).toBe(401);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('wirelab up');
    expect(page.body).toContain('?token=');
    const api = await request(c.port, 'GET', '/api/lab', { Host: c.host });
    expect(api.status).toBe(401);
    expect(api.json().error).toMatch(/token/);
    const wrong = await request(c.port, 'GET', '/api/lab', { Host: c.host, Cookie: 'wirelab_console=not-the-token' });
    expect(wrong.status).toBe(401);
    expect((await request(c.port, 'GET', '/?token=nope', { Host: c.host })).status).toBe(401);
  });

  test('with the token in the address: a cookie (HttpOnly, SameSite=Strict) and on to / without it', async () => {
    const r = await request(c.port, 'GET', `/?token=${c.server.token}`, { Host: c.host });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toContain(`wirelab_console=${c.server.token}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await request(c.port, 'GET', '/', { Host: c.host, Cookie: c.cookie });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(page.body).toContain('<script src="/console.js"');
  });

  test('a Host that is not this machine is refused, even with the token (DNS rebinding)', async () => {
    const r = await request(c.port, 'GET', '/api/lab', { Host: `rebind.example:${c.port}`, Cookie: c.cookie });
    expect(r.status).toBe(403);
    expect(r.json().error).toMatch(/Host rebind\.example/);
    expect((await request(c.port, 'GET', '/api/lab', { Host: `localhost:${c.port}`, Cookie: c.cookie })).status).toBe(200);
  });

  test("a POST from another page's Origin, or with no Origin, is refused, even with the cookie", async () => {
    const body = JSON.stringify({});
    const evil = await request(c.port, 'POST', '/api/lab/app/stop', { Host: c.host, Cookie: c.cookie, Origin: 'http://evil.example' }, body);
    expect(evil.status).toBe(403);
    const none = await request(c.port, 'POST', '/api/lab/app/stop', { Host: c.host, Cookie: c.cookie }, body);
    expect(none.status).toBe(403);
    expect((await c.backend.status()).find((s) => s.name === 'app')?.state).toBe('running');
    const events = await request(c.port, 'GET', '/api/events', { Host: c.host, Cookie: c.cookie, Origin: 'http://evil.example' });
    expect(events.status).toBe(403);
  });
});
