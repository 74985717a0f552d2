/**
 * The POP3 service's pure parts, without sockets: the line parser, the reply encoder
 * (dot-stuffing), message lines and sizes, TOP, UIDL ids, and the state machine.
 */
import { MAX_COMMAND_LINE, parseCommand, parseLines, splitArgs } from '../../../services/pop3/lines';
import { messageLines, octets, topOf, uidlOf } from '../../../services/pop3/message';
import { encodeReply, err, ok, statusLine } from '../../../services/pop3/reply';
import { notAllowed, transition } from '../../../services/pop3/states';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (lines: Buffer[]): string[] => lines.map((l) => l.toString('latin1'));

describe('parseLines', () => {
  test('CRLF and bare LF end a line; the rest waits for the next chunk', () => {
    expect(parseLines(b('USER bob\r\nPASS x\nST'))).toEqual({ lines: ['USER bob', 'PASS x'], rest: b('ST'), tooLong: false });
  });

  test('incremental: a command split anywhere, even between CR and LF, comes out once and whole', () => {
    const stream = 'USER bob\r\nPASS two words\r\nSTAT\r\n';
    for (let cut = 0; cut <= stream.length; cut++) {
      const first = parseLines(b(stream.slice(0, cut)));
      const second = parseLines(Buffer.concat([first.rest, b(stream.slice(cut))]));
      expect([...first.lines, ...second.lines]).toEqual(['USER bob', 'PASS two words', 'STAT']);
      expect(second.rest.length).toBe(0);
    }
  });

  test('byte by byte', () => {
    let rest: Buffer = Buffer.alloc(0);
    const lines: string[] = [];
    for (const byte of b('CAPA\r\nQUIT\r\n')) {
      const out = parseLines(Buffer.concat([rest, Buffer.from([byte])]));
      lines.push(...out.lines);
      rest = out.rest;
    }
    expect(lines).toEqual(['CAPA', 'QUIT']);
  });

  test('the limit counts the CRLF: 255 octets pass, 256 do not (RFC 2449 4)', () => {
    const at = 'x'.repeat(MAX_COMMAND_LINE - 2);
    expect(parseLines(b(`${at}\r\n`)).lines).toEqual([at]);
    expect(parseLines(b(`${at}\n`)).lines).toEqual([at]); // a bare LF counts as if it were CRLF
    expect(parseLines(b(`${at}x\r\n`))).toEqual({ lines: [], rest: Buffer.alloc(0), tooLong: true });
  });

  test('a line still arriving is too long as soon as it is over the limit, and the lines before it are kept', () => {
    expect(parseLines(b('NOOP\r\n' + 'x'.repeat(254)))).toEqual({ lines: ['NOOP'], rest: Buffer.alloc(0), tooLong: true });
    expect(parseLines(b('NOOP\r\n' + 'x'.repeat(253))).tooLong).toBe(false); // 253 + CRLF = 255: may still end in time
    expect(parseLines(b('x'.repeat(253) + '\r')).tooLong).toBe(false); // the CR is part of the CRLF
  });

  test('a custom limit', () => {
    expect(parseLines(b('USER abc\r\n'), 10).lines).toEqual(['USER abc']);
    expect(parseLines(b('USER abcd\r\n'), 10).tooLong).toBe(true);
  });

  test('empty lines are lines', () => {
    expect(parseLines(b('\r\n\n')).lines).toEqual(['', '']);
  });
});

describe('parseCommand and splitArgs', () => {
  test('the verb is upper-cased, the argument kept whole', () => {
    expect(parseCommand('retr 1')).toEqual({ verb: 'RETR', arg: '1' });
    expect(parseCommand('PASS my pass word ')).toEqual({ verb: 'PASS', arg: 'my pass word ' });
    expect(parseCommand('STAT')).toEqual({ verb: 'STAT', arg: '' });
    expect(parseCommand('')).toEqual({ verb: '', arg: '' });
  });

  test('arguments split on spaces, extra spaces tolerated', () => {
    expect(splitArgs('1  10 ')).toEqual(['1', '10']);
    expect(splitArgs('')).toEqual([]);
  });
});

describe('encodeReply', () => {
  test('single line: +OK text, -ERR [CODE] text, a bare +OK', () => {
    expect(encodeReply(ok('2 320')).toString()).toBe('+OK 2 320\r\n');
    expect(encodeReply(err('maildrop locked', 'IN-USE')).toString()).toBe('-ERR [IN-USE] maildrop locked\r\n');
    expect(encodeReply(ok('')).toString()).toBe('+OK\r\n');
    expect(statusLine(err('x', 'SYS/TEMP'))).toBe('-ERR [SYS/TEMP] x');
  });

  test('multi-line: the lines with CRLF, then a dot alone', () => {
    expect(encodeReply(ok('2 messages', ['1 120', '2 200'])).toString()).toBe('+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n');
    expect(encodeReply(ok('none', [])).toString()).toBe('+OK none\r\n.\r\n');
  });

  test('dot-stuffing: a line that starts with a dot gets one more (RFC 1939 3)', () => {
    const lines = [b('.'), b('.hidden'), b('..'), b('a.b'), b(''), b(' .x')];
    expect(encodeReply(ok('msg', lines)).toString('latin1')).toBe('+OK msg\r\n..\r\n..hidden\r\n...\r\na.b\r\n\r\n .x\r\n.\r\n');
  });

  test('CR and LF in a text cannot start a new line', () => {
    expect(encodeReply(ok('hi\r\n+OK forged')).toString()).toBe('+OK hi  +OK forged\r\n');
    expect(encodeReply(ok('x', ['a\r\n.'])).toString()).toBe('+OK x\r\na  .\r\n.\r\n');
  });

  test('message bytes pass as they are (8-bit mail)', () => {
    const line = Buffer.from([0xe9, 0x74, 0xe9]);
    expect(encodeReply(ok('m', [line]))).toEqual(Buffer.concat([b('+OK m\r\n'), line, b('\r\n.\r\n')]));
  });
});

describe('message lines and sizes', () => {
  test('CRLF and bare LF end lines; a last line without an end is a line', () => {
    expect(text(messageLines(b('a\r\nb\nc')))).toEqual(['a', 'b', 'c']);
    expect(text(messageLines(b('a\r\n\r\nb\r\n')))).toEqual(['a', '', 'b']);
    expect(text(messageLines(b('')))).toEqual([]);
    expect(text(messageLines(b('\n')))).toEqual(['']);
    expect(text(messageLines(b('cr\r\r\n')))).toEqual(['cr\r']); // only the CR of the line end goes
  });

  test('octets: every line with CRLF, whatever the file had', () => {
    expect(octets(messageLines(b('a\r\nb\nc')))).toBe('a\r\nb\r\nc\r\n'.length);
    expect(octets(messageLines(b('Subject: x\r\n\r\nbody\r\n')))).toBe(20); // the size of a CRLF file is its size on disk
    expect(octets([])).toBe(0);
  });

  test('octets do not count dot-stuffing (the client takes those dots off)', () => {
    const lines = messageLines(b('.a\r\n'));
    expect(octets(lines)).toBe(4);
    expect(encodeReply(ok('', lines)).length).toBe('+OK\r\n'.length + 5 + 3);
  });

  test('topOf: the header, the blank line, n body lines; no blank line means all header', () => {
    const msg = messageLines(b('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n'));
    expect(text(topOf(msg, 0))).toEqual(['A: 1', 'B: 2', '']);
    expect(text(topOf(msg, 2))).toEqual(['A: 1', 'B: 2', '', 'l1', 'l2']);
    expect(text(topOf(msg, 50))).toEqual(['A: 1', 'B: 2', '', 'l1', 'l2', 'l3']);
    expect(text(topOf(messageLines(b('A: 1\r\nB: 2')), 5))).toEqual(['A: 1', 'B: 2']);
  });

  test('uidlOf: a Maildir name that fits RFC 1939 is the id; one that does not is hashed, the same every time', () => {
    expect(uidlOf('1732211400.M123456P42Q1.mail')).toBe('1732211400.M123456P42Q1.mail');
    const long = '1732211400.M123456P42Q1.' + 'h'.repeat(80);
    expect(uidlOf(long)).toMatch(/^sha1-[0-9a-f]{40}$/);
    expect(uidlOf(long)).toBe(uidlOf(long));
    expect(uidlOf('with space')).toMatch(/^sha1-/);
    expect(uidlOf('ünïcode')).toMatch(/^sha1-/);
  });
});

describe('the state machine (RFC 1939 3)', () => {
  test('login: AUTHORIZATION -> TRANSACTION; quit: TRANSACTION -> UPDATE', () => {
    expect(transition('AUTHORIZATION', 'login')).toBe('TRANSACTION');
    expect(transition('TRANSACTION', 'quit')).toBe('UPDATE');
  });

  test('no other move exists', () => {
    expect(() => transition('AUTHORIZATION', 'quit')).toThrow('pop3: no move from AUTHORIZATION on quit');
    expect(() => transition('TRANSACTION', 'login')).toThrow('pop3: no move from TRANSACTION on login');
    expect(() => transition('UPDATE', 'quit')).toThrow();
    expect(() => transition('UPDATE', 'login')).toThrow();
  });

  test('why a verb is refused, per state', () => {
    expect(notAllowed('STAT', 'AUTHORIZATION')).toBe('STAT needs a login first: USER name, then PASS password');
    expect(notAllowed('USER', 'TRANSACTION')).toBe('USER is for before login, and you are logged in');
  });
});
