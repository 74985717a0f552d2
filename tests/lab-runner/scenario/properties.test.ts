/**
 * Properties of scenario paths (`answers[0].data`, fast-check, fixed seed): a path
 * written from tokens reads back as them and finds the value put there; any other text
 * is refused with an error that quotes it.
 */
import fc from 'fast-check';
import { getPath, parsePath, type PathToken } from '../../../lab-runner/scenario/path';
import { holds, thrown } from '../../helpers/properties';

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,8}$/);

describe('scenario paths (lab-runner/scenario/path.ts)', () => {
  const pathToken: fc.Arbitrary<PathToken> = fc.oneof(token, fc.nat({ max: 20 }), fc.stringMatching(/^[^"'.[\]]{0,6}$/).map((s) => `${s} key`));
  const written = (tokens: PathToken[]): string =>
    tokens.map((t, i) => (typeof t === 'number' ? `[${t}]` : /^[A-Za-z][\w-]*$/.test(t) ? `${i ? '.' : ''}${t}` : `['${t}']`)).join('');

  test('a path written from tokens parses back into them, and finds the value put there', () => {
    holds(
      fc.property(fc.array(pathToken, { minLength: 1, maxLength: 6 }).filter((t) => typeof t[0] === 'string'), fc.jsonValue(), (tokens, value) => {
        expect(parsePath(written(tokens))).toEqual(tokens);
        // Build an object holding `value` at that path, then look it up.
        let holder: unknown = value;
        for (const t of [...tokens].reverse()) holder = typeof t === 'number' ? Object.assign(new Array(t + 1).fill(null), { [t]: holder }) : { [t]: holder };
        expect(getPath(holder, written(tokens))).toEqual(value);
      }),
      500,
    );
  });

  test('any text: tokens, or an Error that quotes the path', () => {
    holds(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const err = thrown(() => parsePath(text));
        if (err !== undefined) expect((err as Error).message).toContain('bad path');
      }),
      500,
    );
  });
});
