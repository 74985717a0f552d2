/**
 * Properties of the shared parts every service relies on (fast-check, fixed seed):
 * path confinement (a resolved path is always inside its root, by text and on a real
 * disk with symlinks), the request-line watch the HTTP services run before node:http's
 * parser, and the HTTP rules' readings of Host and of parser errors.
 */
import { lstat, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { explainParseError, isHostValue } from '../../../services/common/httpRules';
import { confine, confineForWrite, confineReal, isInside, JailError } from '../../../services/common/jail';
import { RequestLineWatch } from '../../../services/common/requestLine';
import { chunksOf, cuts, holds, holdsAsync, thrown } from '../../helpers/properties';

/** Paths as a client writes them, tricks included: `..`, `.`, empty segments, encoded or Windows separators, NUL, absolute. */
const clientPath = fc
  .array(fc.oneof(fc.constantFrom('..', '.', '', 'a', 'sub', 'file', 'out', 'link-out', 'link-in', 'dangling', '...', '..\\..', 'a\0b', '%2e%2e', '~'), fc.string({ maxLength: 6 })), { maxLength: 8 })
  .chain((segments) => fc.constantFrom('', '/', '//').map((lead) => lead + segments.join('/')));

describe('confine (services/common/jail.ts)', () => {
  /** The reference: resolve the segments by hand; climbing above the root is a refusal. */
  function byHand(root: string, requested: string): string | 'refused' {
    if (requested.includes('\0') || requested.includes('\\')) return 'refused';
    const stack: string[] = [];
    for (const part of requested.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length === 0) return 'refused';
        stack.pop();
      } else stack.push(part);
    }
    return path.join(root, ...stack);
  }

  test('for any path, the result is inside the root and agrees with resolving it by hand; a refusal is a JailError', () => {
    const root = path.join(os.tmpdir(), 'wirelab-jail-root');
    holds(
      fc.property(clientPath, (requested) => {
        let result: string | undefined;
        const err = thrown(() => (result = confine(root, requested)));
        if (err !== undefined) expect(err).toBeInstanceOf(JailError);
        expect(result ?? 'refused').toBe(byHand(root, requested));
        if (result !== undefined) expect(isInside(root, result)).toBe(true);
      }),
      1000,
    );
  });

  test('found by the property above: a name that starts with two dots ("...", "..notes") is a name inside the root, not a climb', () => {
    const root = path.join(os.tmpdir(), 'wirelab-jail-root');
    expect(confine(root, '/...')).toBe(path.join(root, '...'));
    expect(confine(root, 'sub/..notes')).toBe(path.join(root, 'sub', '..notes'));
    expect(isInside(root, path.join(root, '..x'))).toBe(true);
    expect(isInside(root, path.join(root, '..'))).toBe(false);
    expect(isInside(root, path.join(root, '..', 'x'))).toBe(false);
  });

  describe('on a real disk, with symlinks that lead in, out and nowhere', () => {
    let base: string;
    let root: string;
    let realRoot: string;
    beforeAll(async () => {
      base = await mkdtemp(path.join(os.tmpdir(), 'wirelab-jail-props-'));
      root = path.join(base, 'root');
      const outside = path.join(base, 'outside');
      await mkdir(path.join(root, 'sub', 'a'), { recursive: true });
      await mkdir(outside);
      await writeFile(path.join(outside, 'file'), 'secret');
      await writeFile(path.join(root, 'sub', 'file'), 'ok');
      await symlink(outside, path.join(root, 'out'));
      await symlink(outside, path.join(root, 'sub', 'link-out'));
      await symlink(path.join(root, 'sub'), path.join(root, 'link-in'));
      await symlink(path.join(outside, 'nothing'), path.join(root, 'dangling'));
      await symlink('../..', path.join(root, 'sub', 'a', 'up'));
      realRoot = await realpath(root);
    });
    afterAll(() => rm(base, { recursive: true, force: true }));

    /** Refusals a caller expects: the jail's, or a path that is not there. */
    const expected = (err: unknown): boolean => err instanceof JailError || ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

    test('confineReal: what it returns, followed to the end, is inside the root', async () => {
      await holdsAsync(
        fc.asyncProperty(clientPath, async (requested) => {
          try {
            const real = await confineReal(root, requested);
            expect(isInside(realRoot, await realpath(real))).toBe(true);
          } catch (err) {
            expect(expected(err)).toBe(true);
          }
        }),
        300,
      );
    });

    test('confineForWrite: the folder a new file would go in is inside the root, and an existing link there leads inside', async () => {
      await holdsAsync(
        fc.asyncProperty(clientPath, async (requested) => {
          try {
            const target = await confineForWrite(root, requested);
            expect(isInside(realRoot, await realpath(path.dirname(target)).catch(() => realRoot))).toBe(true);
            const info = await lstat(target).catch(() => undefined);
            if (info?.isSymbolicLink()) expect(isInside(realRoot, await realpath(target))).toBe(true);
          } catch (err) {
            expect(expected(err)).toBe(true);
          }
        }),
        300,
      );
    });
  });
});

describe('the request-line watch (services/common/requestLine.ts)', () => {
  const requestLine = fc
    .tuple(fc.constantFrom('', '\r\n', '\n\r\n'), fc.constantFrom('GET', 'POST', 'get', 'BREW'), fc.string({ maxLength: 30 }).map((t) => '/' + t.replace(/[\s]/g, '')), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/1.9', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.'), fc.constantFrom('\r\n', '\n', '\r\n\r\n'))
    .map(([before, method, target, version, end]) => ({ text: `${method} ${target} ${version}`, target, version, bytes: Buffer.from(`${before}${method} ${target} ${version}${end}Host: x\r\n\r\n`, 'latin1') }));

  function watch(chunks: Buffer[]): { watch: RequestLineWatch; out: Buffer } {
    const w = new RequestLineWatch();
    const out: Buffer[] = [];
    for (const chunk of chunks) {
      const copy = Buffer.from(chunk);
      w.feed(copy);
      out.push(copy);
    }
    return { watch: w, out: Buffer.concat(out) };
  }

  test('fed in any chunks, it reads the same line, target length and version as fed at once, and rewrites only HTTP/1.2-1.9 to 1.1', () => {
    holds(
      fc.property(requestLine, cuts(), ({ text, target, version, bytes }, at) => {
        const whole = watch([bytes]);
        const pieces = watch(chunksOf(bytes, at));
        for (const w of [whole, pieces]) {
          expect({ line: w.watch.requestLine, target: w.watch.targetLength, complete: w.watch.complete }).toEqual({ line: text, target: Buffer.byteLength(target, 'latin1'), complete: true });
        }
        expect(pieces.out).toEqual(whole.out);
        const minor = /^HTTP\/1\.([2-9])$/.exec(version)?.[1];
        expect(whole.watch.sentVersion).toBe(minor ? `1.${minor}` : undefined);
        const rewritten = minor ? Buffer.from(bytes.toString('latin1').replace(version, 'HTTP/1.1'), 'latin1') : bytes;
        expect(whole.out).toEqual(rewritten);
      }),
      500,
    );
  });

  test('explainParseError: any parser error and any bytes seen give a 4xx or 5xx answer with a sentence; nothing throws', () => {
    const codes = fc.constantFrom('HPE_HEADER_OVERFLOW', 'HPE_INVALID_METHOD', 'HPE_INVALID_VERSION', 'HPE_PAUSED_H2_UPGRADE', 'HPE_INVALID_TRANSFER_ENCODING', 'HPE_CHUNK_EXTENSIONS_OVERFLOW', 'ERR_HTTP_REQUEST_TIMEOUT', 'HPE_INVALID_CONSTANT', 'HPE_LF_EXPECTED', 'SOMETHING_NEW');
    holds(
      fc.property(codes, fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), fc.uint8Array({ maxLength: 80 }), (code, reason, seen) => {
        const w = new RequestLineWatch();
        w.feed(Buffer.from(seen));
        const err = Object.assign(new Error('parse error'), { code, reason });
        const { status, why } = explainParseError(err, w, { who: 'the server', maxHeaderBytes: 16384, maxTargetBytes: 8192, headersTimeoutMs: 10000, requestTimeoutMs: 30000 });
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(600);
        expect(why.length).toBeGreaterThan(10);
      }),
      500,
    );
  });
});

describe('Host (RFC 9110 7.2)', () => {
  test('a name, an IPv4 address or a bracketed IPv6 address, with or without a port, is a Host; two dots in a row never are', () => {
    holds(
      fc.property(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().filter((a) => !a.includes('%')).map((a) => `[${a}]`)), fc.option(fc.nat({ max: 65535 }), { nil: undefined }), (host, port) => {
        const value = port === undefined ? host : `${host}:${port}`;
        expect(isHostValue(value)).toBe(true);
        expect(isHostValue(value.replace('.', '..'))).toBe(!value.includes('.'));
      }),
      500,
    );
    holds(fc.property(fc.string({ maxLength: 40 }), (text) => void isHostValue(text)), 300);
  });
});
