/**
 * Properties of what the www service parses itself (fast-check, fixed seed): the Range
 * header, the request target and its percent-decoding, the router's patterns, the
 * conditional headers and the bearer token.
 */
import fc from 'fast-check';
import { bearerToken } from '../../../services/http/auth';
import { etagFor, ifNoneMatchHits, ifRangeHolds, httpDate } from '../../../services/http/etag';
import { signJwt, verifyJwt } from '../../../services/http/jwt';
import { contentRange, parseRange } from '../../../services/http/range';
import { matchPath } from '../../../services/http/router';
import { BadTargetError, decodePath, splitTarget } from '../../../services/http/target';
import { holds, thrown } from '../../helpers/properties';

describe('Range (RFC 9110 14)', () => {
  const spec = fc.oneof(
    fc.tuple(fc.nat({ max: 3000 }), fc.option(fc.nat({ max: 3000 }), { nil: undefined })).map(([a, b]) => `${a}-${b ?? ''}`),
    fc.nat({ max: 3000 }).map((n) => `-${n}`),
    fc.string({ maxLength: 8 }),
  );
  const header = fc.oneof(
    fc.tuple(fc.array(spec, { minLength: 1, maxLength: 5 }), fc.constantFrom(',', ', ', ' ,', ',,'), fc.constantFrom('bytes=', 'BYTES=', 'items=')).map(([specs, comma, unit]) => unit + specs.join(comma)),
    fc.string({ maxLength: 30 }),
  );

  test('any header on any file: the parts lie in the file, start before end, at most maxRanges, adding up to at most the file', () => {
    holds(
      fc.property(header, fc.nat({ max: 2000 }), fc.integer({ min: 1, max: 4 }), (value, size, maxRanges) => {
        const answer = parseRange(value, size, maxRanges);
        if (answer.kind !== 'partial') return;
        expect(answer.ranges.length).toBeLessThanOrEqual(maxRanges);
        let total = 0;
        for (const { start, end } of answer.ranges) {
          expect(0 <= start && start <= end && end < size).toBe(true);
          total += end - start + 1;
          expect(contentRange({ start, end }, size)).toBe(`bytes ${start}-${end}/${size}`);
        }
        expect(total).toBeLessThanOrEqual(size);
      }),
      1000,
    );
  });

  test('one range agrees with reading it by hand (RFC 9110 14.1.2)', () => {
    holds(
      fc.property(fc.nat({ max: 3000 }), fc.option(fc.nat({ max: 3000 }), { nil: undefined }), fc.integer({ min: 1, max: 2000 }), (first, last, size) => {
        const answer = parseRange(`bytes=${first}-${last ?? ''}`, size, 1);
        if (last !== undefined && last < first) expect(answer).toEqual({ kind: 'unsatisfiable' });
        else if (first >= size) expect(answer).toEqual({ kind: 'unsatisfiable' });
        else expect(answer).toEqual({ kind: 'partial', ranges: [{ start: first, end: Math.min(last ?? Infinity, size - 1) }] });
      }),
      500,
    );
  });
});

describe('the request target (RFC 9112 3.2, RFC 3986 2.1)', () => {
  /** A path segment as a person writes it: any text but `/`, NUL and `\`. */
  const segment = fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !/[/\0\\]|\p{Cs}/u.test(s));
  const path = fc.array(segment, { maxLength: 5 }).map((segments) => '/' + segments.join('/'));

  test('a path percent-encoded reads back as itself, decoded exactly once', () => {
    holds(
      fc.property(path, fc.string({ maxLength: 20 }).map(encodeURIComponent), (written, query) => {
        const raw = written.split('/').map(encodeURIComponent).join('/');
        const target = splitTarget(`${raw}?${query}`);
        expect(target).toEqual({ rawPath: raw, query });
        expect(decodePath(raw)).toBe(written);
        // Encoded twice, decoded once: the first encoding comes back, not the path (no double decoding).
        const twice = written.split('/').map((s) => encodeURIComponent(encodeURIComponent(s))).join('/');
        expect(decodePath(twice)).toBe(raw);
      }),
      500,
    );
  });

  test('any target: a path that starts with "/" and holds no NUL nor backslash, or a BadTargetError; nothing else', () => {
    holds(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.array(fc.constantFrom('/', '%', '%2', '%2e', '%2f', '%5c', '%00', '%c3', '%C3%A9', '..', '\\', '?', '#', 'http://x', 'a'), { maxLength: 10 }).map((p) => p.join(''))), (target) => {
        let decoded: string | undefined;
        const err = thrown(() => {
          const split = splitTarget(target);
          if (split !== '*') decoded = decodePath(split.rawPath);
        });
        if (err !== undefined) return void expect(err).toBeInstanceOf(BadTargetError);
        if (decoded === undefined) return;
        expect(decoded.startsWith('/')).toBe(true);
        expect(decoded).not.toMatch(/[\0\\]/);
      }),
      1000,
    );
  });
});

describe('the router', () => {
  const name = fc.stringMatching(/^[a-z]{1,6}$/);
  const value = fc.string({ maxLength: 10 }).filter((s) => s !== '' && !s.includes('/'));

  test('a path made from a pattern matches it, and gives back the values it was made with', () => {
    holds(
      fc.property(fc.array(fc.oneof(name.map((n) => ({ fixed: n })), fc.tuple(fc.stringMatching(/^[~a-z]{0,2}$/), name).map(([prefix, param]) => ({ prefix, param }))), { minLength: 1, maxLength: 4 }), fc.array(value, { minLength: 4, maxLength: 4 }), (parts, values) => {
        const params = new Set<string>();
        const kept = parts.filter((p) => !('param' in p) || (!params.has(p.param) && params.add(p.param)));
        const pattern = '/' + kept.map((p) => ('fixed' in p ? p.fixed : `${p.prefix}:${p.param}`)).join('/');
        const path = '/' + kept.map((p, i) => ('fixed' in p ? p.fixed : p.prefix + values[i]!)).join('/');
        const expected = Object.fromEntries(kept.flatMap((p, i) => ('param' in p ? [[p.param, values[i]!]] : [])));
        expect(matchPath(pattern, path)).toEqual(expected);
        // One segment more or less does not match.
        expect(matchPath(pattern, path + '/extra')).toBeUndefined();
      }),
      500,
    );
  });

  test('"*" takes the rest of the path, slashes and all', () => {
    holds(fc.property(fc.array(value, { maxLength: 4 }), (rest) => expect(matchPath('/files/*', `/files/${rest.join('/')}`)).toEqual({ '*': rest.join('/') })));
  });
});

describe('validators and tokens', () => {
  const version = fc.record({ size: fc.nat({ max: 2 ** 40 }), mtimeMs: fc.integer({ min: 0, max: 4102444800000 }) });

  test('If-None-Match hits its own ETag in any list, weak or strong, and * hits all; If-Range holds only for the same ETag or date', () => {
    holds(
      fc.property(version, version, fc.array(fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s)), { maxLength: 3 }), fc.boolean(), (file, other, extra, weak) => {
        const etag = etagFor(file);
        const list = [...extra, weak ? `W/${etag}` : etag].join(', ');
        expect(ifNoneMatchHits(list, etag)).toBe(true);
        expect(ifNoneMatchHits(' * ', etag)).toBe(true);
        expect(ifRangeHolds(etag, etag, file.mtimeMs)).toBe(true);
        expect(ifRangeHolds(httpDate(file.mtimeMs), etag, file.mtimeMs)).toBe(true);
        if (etagFor(other) !== etag) {
          expect(ifNoneMatchHits(etagFor(other), etag)).toBe(false);
          expect(ifRangeHolds(etagFor(other), etag, file.mtimeMs)).toBe(false);
        }
      }),
      300,
    );
  });

  const key = Buffer.from('a lab key for the property tests');
  const claims = fc.record({ sub: fc.string({ maxLength: 12 }), iat: fc.nat({ max: 2 ** 31 }), exp: fc.nat({ max: 2 ** 32 }) });

  test('a token this server signed verifies until it expires; one changed character, or any other text, never does; nothing throws', () => {
    holds(
      fc.property(claims, fc.nat(), fc.nat({ max: 63 }), (c, at, replacement) => {
        const token = signJwt(c, key);
        expect(verifyJwt(token, key, c.exp - 1)).toEqual(c.exp >= 1 ? { ok: true, claims: c } : expect.anything());
        expect(verifyJwt(token, key, c.exp).ok).toBe(false);
        const i = at % token.length;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const changed = token.slice(0, i) + alphabet[replacement]! + token.slice(i + 1);
        // A change in the last character's unused bits can leave the signature's bytes as they were.
        if (changed !== token && i !== token.length - 1) expect(verifyJwt(changed, key, c.iat).ok).toBe(false);
      }),
      300,
    );
    holds(fc.property(fc.string({ maxLength: 200 }), (text) => expect(verifyJwt(text, key, 0).ok).toBe(false)), 500);
  });

  test('Authorization: the Bearer token whatever the letter case and spaces; another scheme is no token', () => {
    holds(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._~+/-]{0,40}=*$/), fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr'), fc.constantFrom(' ', '  ', '\t'), (token, scheme, space) => {
        expect(bearerToken(`${scheme}${space}${token}`)).toBe(token);
        expect(bearerToken(`Basic ${token}`)).toBeUndefined();
      }),
    );
  });
});
