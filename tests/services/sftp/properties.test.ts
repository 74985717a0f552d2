/**
 * Properties of the SFTP service's pure parts (fast-check, fixed seed): the strings of
 * an extended request read back as written, and any other bytes are a BAD_MESSAGE
 * status; REALPATH's canonical form is absolute, has no `.` or `..`, is its own
 * canonical form, and never leaves the home once confined.
 */
import path from 'node:path';
import fc from 'fast-check';
import { confine } from '../../../services/common/jail';
import { canonical, checkLength, clientView, MAX_PATH_BYTES, PathTooLongError } from '../../../services/sftp/clientPath';
import { readStrings, sshString } from '../../../services/sftp/packets';
import { SftpStatusError } from '../../../services/sftp/replies';
import { holds, thrown } from '../../helpers/properties';

describe('extended requests (draft-ietf-secsh-filexfer-02 8, RFC 4251 5)', () => {
  test('strings written as SSH strings read back as themselves', () => {
    holds(fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !/\p{Cs}/u.test(s)), { maxLength: 4 }), (strings) => expect(readStrings(Buffer.concat(strings.map((s) => sshString(s))), strings.length)).toEqual(strings)));
  });

  test('any bytes, for any count of strings: the strings, or an SftpStatusError BAD_MESSAGE', () => {
    holds(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.nat({ max: 4 }), (bytes, count) => {
        const err = thrown(() => readStrings(Buffer.from(bytes), count));
        if (err !== undefined) {
          expect(err).toBeInstanceOf(SftpStatusError);
          expect((err as SftpStatusError).status).toBe('BAD_MESSAGE');
        }
      }),
      500,
    );
  });
});

describe('client paths', () => {
  const clientPath = fc.array(fc.oneof(fc.constantFrom('..', '.', '', 'a', 'b c', '...'), fc.string({ maxLength: 5 }).filter((s) => !s.includes('/') && !s.includes('\0') && !s.includes('\\'))), { maxLength: 8 }).map((p) => p.join('/'));

  test('REALPATH: absolute, no "." or ".." or empty segment, canonical twice is canonical once, and inside the home once confined', () => {
    const home = path.join('/', 'srv', 'homes', 'alice');
    holds(
      fc.property(clientPath, (p) => {
        const c = canonical(p);
        expect(c.startsWith('/')).toBe(true);
        expect(c === '/' || c.split('/').slice(1).every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
        expect(canonical(c)).toBe(c);
        const real = confine(home, c);
        expect(clientView(home, real)).toBe(c);
      }),
      500,
    );
  });

  test('a path over MAX_PATH_BYTES is refused with PathTooLongError, any shorter one passes unchanged', () => {
    holds(fc.property(fc.string({ unit: 'binary', minLength: 0, maxLength: 20 }).filter((s) => !/\p{Cs}/u.test(s)), fc.nat({ max: MAX_PATH_BYTES + 10 }), (s, pad) => {
      const p = 'x'.repeat(pad) + s;
      if (Buffer.byteLength(p) > MAX_PATH_BYTES) expect(thrown(() => checkLength(p))).toBeInstanceOf(PathTooLongError);
      else expect(checkLength(p)).toBe(p);
    }));
  });
});
