import { bearerToken, challenge } from '../../../services/http/auth';
import { clfDate, clfLine, clientAddress, escapeLogText } from '../../../services/common/clf';
import { contentTypeFor } from '../../../services/http/contentTypes';
import { etagFor, httpDate, ifNoneMatchHits, notModifiedSince } from '../../../services/http/etag';
import { signJwt, verifyJwt } from '../../../services/http/jwt';
import { allowedMethods, findRoute, handlerFor, matchPath, type Route } from '../../../services/http/router';
import { ROUTES } from '../../../services/http/routes';
import { BadTargetError, decodePath, splitTarget } from '../../../services/http/target';

/** The pure helpers of services/http, one by one. */

describe('target: splitTarget', () => {
  test.each([
    ['/', { rawPath: '/', query: '' }],
    ['/a/b?x=1&y', { rawPath: '/a/b', query: 'x=1&y' }],
    ['/a?', { rawPath: '/a', query: '' }],
    ['http://www.lab.test/a?q', { rawPath: '/a', query: 'q' }],
    ['http://www.lab.test', { rawPath: '/', query: '' }],
    ['http://www.lab.test?q', { rawPath: '/', query: 'q' }],
    ['HTTP://host:8080/x', { rawPath: '/x', query: '' }],
  ])('%s', (target, expected) => {
    expect(splitTarget(target)).toEqual(expected);
  });

  test('* is the asterisk form', () => {
    expect(splitTarget('*')).toBe('*');
  });

  test.each(['index.html', '', 'www.lab.test:80'])('%p is not a target for a server', (target) => {
    expect(() => splitTarget(target)).toThrow(BadTargetError);
  });
});

describe('target: decodePath decodes exactly once', () => {
  test.each([
    ['/a%20b', '/a b'],
    ['/caf%C3%A9.html', '/café.html'],
    ['/%2e%2e/x', '/../x'],
    ['/..%2fx', '/../x'],
    ['/%252e%252e', '/%2e%2e'],
    ['/a+b', '/a+b'],
  ])('%s -> %s', (raw, decoded) => {
    expect(decodePath(raw)).toBe(decoded);
  });

  test.each([
    ['/%00', /NUL/],
    ['/a%', /percent-encoding/],
    ['/a%2', /percent-encoding/],
    ['/a%zz', /percent-encoding/],
    ['/%e9', /UTF-8/],
    ['/a\\b', /backslash/],
    ['/a%5cb', /backslash/],
    ['/a%5Cb', /backslash/],
  ])('%s is refused', (raw, reason) => {
    expect(() => decodePath(raw)).toThrow(reason);
  });
});

describe('router', () => {
  test.each([
    ['/api/notes', '/api/notes', {}],
    ['/api/notes/:id', '/api/notes/42', { id: '42' }],
    ['/~:user/*', '/~web/a/b.html', { user: 'web', '*': 'a/b.html' }],
    ['/~:user/*', '/~web/', { user: 'web', '*': '' }],
    ['/*', '/', { '*': '' }],
    ['/*', '/a/b', { '*': 'a/b' }],
  ])('%s matches %s', (pattern, urlPath, params) => {
    expect(matchPath(pattern, urlPath)).toEqual(params);
  });

  test.each([
    ['/api/notes', '/api/notes/'],
    ['/api/notes/:id', '/api/notes/'],
    ['/api/notes/:id', '/api/notes/1/2'],
    ['/~:user/*', '/~/x'],
    ['/api/notes', '/api'],
  ])('%s does not match %s', (pattern, urlPath) => {
    expect(matchPath(pattern, urlPath)).toBeUndefined();
  });

  test('HEAD falls back to GET; * takes any method; Allow lists HEAD and OPTIONS', () => {
    const get = async () => {};
    const any = async () => {};
    const route: Route = { path: '/x', methods: { GET: get, DELETE: get } };
    expect(handlerFor(route, 'HEAD')).toBe(get);
    expect(handlerFor(route, 'POST')).toBeUndefined();
    expect(handlerFor({ path: '/y', methods: { '*': any } }, 'PATCH')).toBe(any);
    expect(allowedMethods(route)).toEqual(['GET', 'HEAD', 'DELETE', 'OPTIONS']);
  });

  test('the route table sends each path where the README says', () => {
    const at = (p: string) => findRoute(ROUTES, p)?.route.path;
    expect(at('/api/notes')).toBe('/api/notes');
    expect(at('/api/notes/7')).toBe('/api/notes/:id');
    expect(at('/api/login')).toBe('/api/login');
    expect(at('/api/me')).toBe('/api/me');
    expect(at('/api/other')).toBe('/api/*');
    expect(at('/inspect')).toBe('/inspect');
    expect(at('/inspect/more')).toBe('/*');
    expect(at('/~web/')).toBe('/~:user/*');
    expect(at('/~web')).toBe('/~:user/*');
    expect(at('/')).toBe('/*');
  });
});

describe('etag and dates', () => {
  test('the ETag is strong and changes with size or time', () => {
    const tag = etagFor({ size: 100, mtimeMs: 1_700_000_000_123.5 });
    expect(tag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(etagFor({ size: 101, mtimeMs: 1_700_000_000_123.5 })).not.toBe(tag);
    expect(etagFor({ size: 100, mtimeMs: 1_700_000_000_124.5 })).not.toBe(tag);
  });

  test('If-None-Match', () => {
    expect(ifNoneMatchHits(undefined, '"a"')).toBe(false);
    expect(ifNoneMatchHits('"a"', '"a"')).toBe(true);
    expect(ifNoneMatchHits('W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchHits('"b", "a"', '"a"')).toBe(true);
    expect(ifNoneMatchHits('"b"', '"a"')).toBe(false);
    expect(ifNoneMatchHits(' * ', '"a"')).toBe(true);
  });

  test('If-Modified-Since works in whole seconds and ignores garbage', () => {
    const mtime = Date.UTC(2026, 10, 21, 17, 50, 0, 900);
    expect(notModifiedSince(httpDate(mtime), mtime)).toBe(true);
    expect(notModifiedSince(httpDate(mtime - 1000), mtime)).toBe(false);
    expect(notModifiedSince('yesterday', mtime)).toBe(false);
    expect(notModifiedSince(undefined, mtime)).toBe(false);
    expect(httpDate(mtime)).toBe('Sat, 21 Nov 2026 17:50:00 GMT');
  });
});

describe('content types', () => {
  test.each([
    ['a.html', 'text/html; charset=utf-8'],
    ['A.HTML', 'text/html; charset=utf-8'],
    ['a.css', 'text/css; charset=utf-8'],
    ['a.js', 'text/javascript; charset=utf-8'],
    ['a.json', 'application/json'],
    ['a.png', 'image/png'],
    ['a.svg', 'image/svg+xml'],
    ['a.txt', 'text/plain; charset=utf-8'],
    ['favicon.ico', 'image/x-icon'],
    ['no-extension', 'application/octet-stream'],
    ['a.weird', 'application/octet-stream'],
  ])('%s -> %s', (file, type) => {
    expect(contentTypeFor(file)).toBe(type);
  });
});

describe('common log format', () => {
  const time = new Date(Date.UTC(2026, 10, 21, 17, 50, 0));
  test('the example line', () => {
    expect(clfLine({ client: '127.0.0.1', user: 'alice', time, requestLine: 'GET / HTTP/1.1', status: 200, bytes: 1234 })).toBe(
      '127.0.0.1 - alice [21/Nov/2026:17:50:00 +0000] "GET / HTTP/1.1" 200 1234',
    );
  });
  test('unknowns are -', () => {
    expect(clfLine({ client: '::1', time, requestLine: '-', status: undefined, bytes: 0 })).toBe('::1 - - [21/Nov/2026:17:50:00 +0000] "-" - -');
  });
  test('dates are UTC with two-digit days', () => {
    expect(clfDate(new Date(Date.UTC(2027, 0, 5, 3, 4, 5)))).toBe('05/Jan/2027:03:04:05 +0000');
  });
  test('escaping', () => {
    expect(escapeLogText('a"b\\c\nd\x7f')).toBe('a\\"b\\\\c\\x0ad\\x7f');
    expect(clientAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddress(undefined)).toBe('-');
  });
});

describe('jwt and bearer', () => {
  const key = Buffer.alloc(32, 1);
  test('sign then verify; expiry is exclusive (RFC 7519 §4.1.4)', () => {
    const token = signJwt({ sub: 'bob', iat: 1000, exp: 2000 }, key);
    expect(verifyJwt(token, key, 1999)).toEqual({ ok: true, claims: { sub: 'bob', iat: 1000, exp: 2000 } });
    expect(verifyJwt(token, key, 2000)).toEqual({ ok: false, reason: expect.stringMatching(/expired/) });
  });

  test('a non-canonical signature (same bytes, other last letter) is refused', () => {
    const token = signJwt({ sub: 'bob', iat: 1000, exp: 2000 }, key);
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[(alphabet.indexOf(last) & ~3) + ((alphabet.indexOf(last) + 1) & 3)]!;
    expect(verifyJwt(token.slice(0, -1) + sibling, key, 1500).ok).toBe(false);
  });

  test('claims of the wrong type are refused even when signed', () => {
    const token = signJwt({ sub: 'bob', iat: 1000, exp: '2000' } as never, key);
    expect(verifyJwt(token, key, 1500)).toEqual({ ok: false, reason: expect.stringMatching(/sub, iat and exp/) });
  });

  test.each([
    [undefined, undefined],
    ['Basic abc', undefined],
    ['Bearer abc.def', 'abc.def'],
    ['bearer   abc  ', 'abc'],
    ['Bearer', ''],
    ['Bearerx abc', undefined],
  ])('bearerToken(%p) = %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  test('challenges (RFC 6750 §3)', () => {
    expect(challenge()).toBe('Bearer realm="lab.test"');
    expect(challenge('bad "thing"')).toBe(`Bearer realm="lab.test", error="invalid_token", error_description="bad 'thing'"`);
  });
});
