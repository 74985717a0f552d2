/**
 * The FTP service's pure parts: command lines out of a byte stream, PORT/EPRT/PASV/EPSV
 * arguments, TYPE A line ends, the listing formats, and replies on the wire.
 */
import { formatEpsv, formatPasv, normalizeAddress, parseEprtArgument, parseEpsvArgument, parsePortArgument, sameHost } from '../../../services/ftp/addresses';
import { toLocalLines, toNetworkLines } from '../../../services/ftp/ascii';
import { Code, permanentNegative, positiveCompletion, positiveIntermediate, positivePreliminary, transientNegative } from '../../../services/ftp/codes';
import { requestedPath } from '../../../services/ftp/files';
import { decodeLine, INITIAL_LINE_STATE, parseCommand, parseLines, TOO_LONG, type LineItem, type LineState } from '../../../services/ftp/lines';
import { listLine, mlsxLine, nlstLines, permissions, timeVal, type Entry } from '../../../services/ftp/listing';
import { encodeReply, quotePath, reply } from '../../../services/ftp/reply';

/** Feed chunks one after another, as TCP would deliver them. */
function feed(chunks: (string | Buffer)[], max = 512): { items: LineItem[]; state: LineState } {
  let state = INITIAL_LINE_STATE;
  const items: LineItem[] = [];
  for (const chunk of chunks) {
    const r = parseLines(state, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'), max);
    items.push(...r.items);
    state = r.state;
  }
  return { items, state };
}

describe('command lines', () => {
  test('CRLF, LF and CR end a line; a line split anywhere comes out whole', () => {
    expect(feed(['USER alice\r\nPASS al', 'ice\r\n']).items).toEqual(['USER alice', 'PASS alice']);
    expect(feed(['NOOP\nSYST\n']).items).toEqual(['NOOP', 'SYST']);
    // A CR at the end of one chunk and its LF at the start of the next are one line end, not two.
    expect(feed(['NOOP\r', '\nSYST\r\n']).items).toEqual(['NOOP', 'SYST']);
    // A bare CR ends a line (ABOR sent as urgent data loses its LF on Linux).
    expect(feed(['ABOR\r']).items).toEqual(['ABOR']);
    expect(feed(['ABOR\rNOOP\r\n']).items).toEqual(['ABOR', 'NOOP']);
    expect(feed(['\r\n']).items).toEqual(['']);
  });

  test('a line over the limit gives one TOO_LONG as soon as it is known, the rest of it is dropped, the next line is read', () => {
    const long = 'RETR ' + 'a'.repeat(100);
    // Still arriving, already over the limit: TOO_LONG now, not at its end.
    const early = feed([long.slice(0, 70)], 64);
    expect(early.items).toEqual([TOO_LONG]);
    expect(early.state.discarding).toBe(true);
    expect(feed([long.slice(0, 70), long.slice(70), '\r\nNOOP\r\n'], 64).items).toEqual([TOO_LONG, 'NOOP']);
    expect(feed(['NOOP\r\n' + long + '\r\nSYST\r\n'], 64).items).toEqual(['NOOP', TOO_LONG, 'SYST']);
    // The limit counts the CRLF: 62 characters + CRLF = 64 is fine, 63 is not.
    expect(feed(['x'.repeat(62) + '\n'], 64).items).toEqual(['x'.repeat(62)]);
    expect(feed(['x'.repeat(63) + '\n'], 64).items).toEqual([TOO_LONG]);
  });

  test('Telnet commands are taken out: IAC IP IAC DM before ABOR, option negotiation, IAC IAC is one 255', () => {
    expect(decodeLine(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR')]))).toBe('ABOR');
    expect(decodeLine(Buffer.from([0xf2, ...Buffer.from('ABOR')]))).toBe('ABOR'); // DM without its IAC (urgent data)
    expect(decodeLine(Buffer.from([0xff, 0xfb, 0x01, ...Buffer.from('NOOP')]))).toBe('NOOP');
    expect(decodeLine(Buffer.from([...Buffer.from('RETR a'), 0xff, 0xff]))).toBe('RETR a\ufffd');
    expect(decodeLine(Buffer.from('RETR caf\u00e9.txt', 'utf8'))).toBe('RETR caf\u00e9.txt');
  });

  test('the verb is upper-cased, the argument kept as sent (spaces included)', () => {
    expect(parseCommand('retr notes.txt')).toEqual({ verb: 'RETR', arg: 'notes.txt' });
    expect(parseCommand('STOR  two spaces.txt ')).toEqual({ verb: 'STOR', arg: ' two spaces.txt ' });
    expect(parseCommand('PWD')).toEqual({ verb: 'PWD', arg: '' });
  });
});

describe('PORT, EPRT, PASV, EPSV', () => {
  test('PORT h1,h2,h3,h4,p1,p2', () => {
    expect(parsePortArgument('127,0,0,1,195,80')).toEqual({ host: '127.0.0.1', port: 195 * 256 + 80 });
    for (const bad of ['127,0,0,1,195', '127,0,0,1,256,1', '127,0,0,1,0,0', 'a,b,c,d,e,f', '127.0.0.1:80', '']) {
      expect(parsePortArgument(bad)).toBeUndefined();
    }
    expect(formatPasv('127.0.0.1', 30001)).toBe('(127,0,0,1,117,49)');
  });

  test('EPRT |proto|address|port| with any delimiter; unknown protocols are told apart from bad syntax', () => {
    expect(parseEprtArgument('|1|132.235.1.2|6275|')).toEqual({ family: 1, host: '132.235.1.2', port: 6275 });
    expect(parseEprtArgument('|2|::1|6275|')).toEqual({ family: 2, host: '::1', port: 6275 });
    expect(parseEprtArgument('!1!127.0.0.1!50000!')).toEqual({ family: 1, host: '127.0.0.1', port: 50000 });
    expect(parseEprtArgument('|3|x|1|')).toEqual({ error: 'protocol' });
    for (const bad of ['|1|::1|80|', '|1|127.0.0.1|0|', '|1|127.0.0.1|70000|', '|1|127.0.0.1|80', '1|127.0.0.1|80|', '']) {
      expect(parseEprtArgument(bad)).toEqual({ error: 'syntax' });
    }
    expect(formatEpsv(30001)).toBe('(|||30001|)');
  });

  test('EPSV [protocol | ALL]: any number is a protocol (an unknown one gets 522), a word is bad syntax', () => {
    expect(parseEpsvArgument('')).toEqual({});
    expect(parseEpsvArgument(' all ')).toEqual({ all: true });
    expect(parseEpsvArgument('1')).toEqual({ protocol: 1 });
    expect(parseEpsvArgument('3')).toEqual({ protocol: 3 });
    for (const bad of ['x', '1,2', '-1', '123456']) expect(parseEpsvArgument(bad)).toEqual({ error: 'syntax' });
  });

  test('addresses compare the same through an IPv6 socket', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(sameHost('::ffff:127.0.0.1', '127.0.0.1')).toBe(true);
    expect(sameHost('127.0.0.2', '127.0.0.1')).toBe(false);
    expect(sameHost(undefined, '')).toBe(false);
  });
});

describe('TYPE A line ends', () => {
  test('sending: LF becomes CR LF, an existing CR LF stays, across chunk borders', () => {
    expect(toNetworkLines(Buffer.from('a\nb\n'), false).out.toString()).toBe('a\r\nb\r\n');
    expect(toNetworkLines(Buffer.from('a\r\nb'), false).out.toString()).toBe('a\r\nb');
    const first = toNetworkLines(Buffer.from('a\r'), false);
    expect(first.lastWasCR).toBe(true);
    expect(toNetworkLines(Buffer.from('\nb'), first.lastWasCR).out.toString()).toBe('\nb');
  });

  test('receiving: CR LF becomes LF, a bare CR stays, a CR at a chunk end waits for the next byte', () => {
    expect(toLocalLines(Buffer.from('a\r\nb\r\n'), false)).toEqual({ out: Buffer.from('a\nb\n'), heldCR: false });
    expect(toLocalLines(Buffer.from('a\rb'), false).out.toString()).toBe('a\rb');
    const first = toLocalLines(Buffer.from('a\r'), false);
    expect(first).toEqual({ out: Buffer.from('a'), heldCR: true });
    expect(toLocalLines(Buffer.from('\nb'), true).out.toString()).toBe('\nb');
    expect(toLocalLines(Buffer.from('b'), true).out.toString()).toBe('\rb');
  });
});

describe('listings', () => {
  const file: Entry = { name: 'notes.txt', type: 'file', size: 84, modified: new Date('2026-11-21T17:50:09Z'), mode: 0o644, links: 1, unique: '803.1a' };
  const dir: Entry = { name: 'pub', type: 'dir', size: 4096, modified: new Date('2025-01-02T03:04:05Z'), mode: 0o755, links: 2 };
  const link: Entry = { name: 'escape', type: 'link', size: 7, modified: new Date('2026-11-20T08:00:00Z'), mode: 0o777, links: 1, target: '/tmp/x' };
  const now = new Date('2026-11-21T18:00:00Z');

  test('LIST is ls -l: time of day for recent files, the year for old ones, links with their target', () => {
    expect(listLine(file, now, 'alice')).toBe('-rw-r--r--    1 alice    alice              84 Nov 21 17:50 notes.txt');
    expect(listLine(dir, now)).toBe('drwxr-xr-x    2 ftp      ftp              4096 Jan  2  2025 pub');
    expect(listLine(link, now)).toBe('lrwxrwxrwx    1 ftp      ftp                 7 Nov 20 08:00 escape -> /tmp/x');
    expect(permissions(0o750)).toBe('rwxr-x---');
  });

  test('NLST is names, with the folder in front when one was named', () => {
    expect(nlstLines([file, dir])).toEqual(['notes.txt', 'pub']);
    expect(nlstLines([file], 'sub')).toEqual(['sub/notes.txt']);
  });

  test('MLSD facts (RFC 3659 7): type, size for files, modify in UTC, perm by what the user may do, unique', () => {
    const facts = ['type', 'size', 'modify', 'perm', 'unique'] as const;
    expect(mlsxLine(file, facts, true)).toBe('type=file;size=84;modify=20261121175009;perm=adfrw;unique=803.1a; notes.txt');
    expect(mlsxLine(file, facts, false)).toBe('type=file;size=84;modify=20261121175009;perm=r;unique=803.1a; notes.txt');
    expect(mlsxLine(dir, facts, false)).toBe('type=dir;modify=20250102030405;perm=el; pub');
    expect(mlsxLine(file, ['type', 'size'], true, '/notes.txt')).toBe('type=file;size=84; /notes.txt');
    expect(timeVal(new Date('2026-01-02T03:04:05.678Z'))).toBe('20260102030405');
  });

  test('a name with CR or LF cannot split a listing line', () => {
    expect(nlstLines([{ ...file, name: 'a\r\nb' }])).toEqual(['a??b']);
  });
});

describe('replies', () => {
  test('single line, and multi-line with code- ... code (a middle line that looks like an end is indented)', () => {
    expect(encodeReply(reply(Code.OK, 'NOOP ok.')).toString()).toBe('200 NOOP ok.\r\n');
    expect(encodeReply(reply(Code.SYSTEM_STATUS, 'Features:', [' EPSV', ' SIZE'], 'End')).toString()).toBe('211-Features:\r\n EPSV\r\n SIZE\r\n211 End\r\n');
    expect(encodeReply(reply(Code.HELP, 'Help:', ['214 looks like the end'])).toString()).toBe('214-Help:\r\n 214 looks like the end\r\n214 End\r\n');
    expect(encodeReply(reply(Code.FILE_UNAVAILABLE, 'two\r\nlines')).toString()).toBe('550 two  lines\r\n');
  });

  test('257 paths double their quotes (RFC 959 appendix II)', () => {
    expect(quotePath('/my "best" files')).toBe('"/my ""best"" files"');
  });

  test('codes are read by their first digit', () => {
    expect([150, 226, 350, 425, 550].map((c) => [positivePreliminary(c), positiveCompletion(c), positiveIntermediate(c), transientNegative(c), permanentNegative(c)].indexOf(true))).toEqual([0, 1, 2, 3, 4]);
  });
});

test('paths: relative to the current directory, nothing normalized before the jail sees it', () => {
  expect(requestedPath('/', 'notes.txt')).toBe('/notes.txt');
  expect(requestedPath('/pub', '../../etc/passwd')).toBe('/pub/../../etc/passwd');
  expect(requestedPath('/pub', '/abs')).toBe('/abs');
});
