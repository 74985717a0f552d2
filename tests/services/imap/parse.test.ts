/**
 * The pure parts of the IMAP server, alone: the framer (commands and literals out of a
 * byte stream, cut anywhere), the command parser, mailbox names (modified UTF-7, LIST
 * patterns), the message parser (addresses, MIME parts) and the response encoder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFramer, type ImapItem } from '../../../services/imap/framer';
import { parseAddressList, parseMessage, splitMultipart, withCrlf } from '../../../services/imap/message';
import { checkName, decodeUtf7, encodeUtf7, listMatcher, NameError } from '../../../services/imap/names';
import { fetchAtts, formatSet, ParseError, parseCommandLine, Reader, resolveSet, searchArgs, sectionName, sequenceSet, type FetchAtt } from '../../../services/imap/parser';
import { atom, data, encode, Joined, ok } from '../../../services/imap/responses';
import { FolderWatcher } from '../../../services/imap/watch';

describe('framer', () => {
  /** Push `input` in chunks of `size` octets; the items, commands shown as text. */
  function frame(input: string, size = input.length, framer = new ImapFramer(100, 50)): (string | object)[] {
    const items: ImapItem[] = [];
    const bytes = Buffer.from(input, 'latin1');
    for (let at = 0; at < bytes.length; at += size) items.push(...(framer.push(bytes.subarray(at, at + size)) as ImapItem[]));
    return items.map((i) => (i.kind === 'command' ? i.raw.toString('latin1') : i));
  }

  test.each([1, 3, 7, 1000])('commands and literals come out whole, whatever the chunks (%i octets at a time)', (size) => {
    const input = 'a1 NOOP\r\na2 LOGIN {5}\r\nalice {3+}\r\npw!\r\na3 LIST "" *\n';
    expect(frame(input, size)).toEqual([
      'a1 NOOP',
      { kind: 'continue', tag: 'a2', size: 5 },
      'a2 LOGIN {5}\r\nalice {3+}\r\npw!',
      'a3 LIST "" *',
    ]);
  });

  test('a literal may hold CRLF and things that look like commands: they are its octets', () => {
    expect(frame('a APPEND x {16+}\r\nb NOOP\r\nc NOOP\r\n\r\nd NOOP\r\n')).toEqual(['a APPEND x {16+}\r\nb NOOP\r\nc NOOP\r\n', 'd NOOP']);
  });

  test('a synchronizing literal over the limit is refused at once: no "+", and the next line is a new command', () => {
    expect(frame('a APPEND x {51}\r\nb NOOP\r\n')).toEqual([{ kind: 'refused', tag: 'a', why: 'literal-too-big', size: 51, synchronizing: true }, 'b NOOP']);
  });

  test('a non-synchronizing literal over the limit is read and dropped, and so is the rest of its command', () => {
    const junk = 'x'.repeat(60);
    expect(frame(`a APPEND x {60+}\r\n${junk} more {2+}\r\nzz\r\nb NOOP\r\n`, 9)).toEqual([{ kind: 'refused', tag: 'a', why: 'literal-too-big', size: 60, synchronizing: false }, 'b NOOP']);
  });

  test('the limit counts all literals of a command together', () => {
    expect(frame('a LOGIN {30+}\r\n' + 'u'.repeat(30) + ' {30}\r\nb NOOP\r\n')).toEqual([{ kind: 'refused', tag: 'a', why: 'literal-too-big', size: 30, synchronizing: true }, 'b NOOP']);
  });

  test('a command over maxText is refused with its tag; its end is found, literals and all', () => {
    const long = 'y'.repeat(120);
    expect(frame(`t1 SEARCH ${long} {3+}\r\nabc\r\nt2 NOOP\r\n`, 10)).toEqual([{ kind: 'refused', tag: 't1', why: 'line-too-long' }, 't2 NOOP']);
    expect(frame(`${'z'.repeat(120)}\r\nt3 NOOP\r\n`)).toEqual([{ kind: 'refused', tag: '*', why: 'line-too-long' }, 't3 NOOP']);
  });

  test('the literal limit can change (at login), and reset() forgets a command in progress (STARTTLS)', () => {
    const framer = new ImapFramer(100, 10);
    expect(frame('a X {20}\r\n', 100, framer)).toEqual([{ kind: 'refused', tag: 'a', why: 'literal-too-big', size: 20, synchronizing: true }]);
    framer.maxLiteral = 20;
    expect(frame('b X {20}\r\n', 100, framer)).toEqual([{ kind: 'continue', tag: 'b', size: 20 }]);
    expect(framer.reset()).toBe(10);
    expect(frame('c NOOP\r\n', 100, framer)).toEqual(['c NOOP']);
  });
});

describe('command syntax', () => {
  const args = (text: string): Reader => {
    const r = new Reader(Buffer.from(text, 'latin1'));
    return r;
  };

  test('tag and name; a bad tag is a ParseError (the answer is untagged)', () => {
    const line = parseCommandLine(Buffer.from('a.1 uid fetch 1 FLAGS'));
    expect([line.tag, line.name, line.args.bytes.toString('latin1', line.args.pos)]).toEqual(['a.1', 'UID', ' fetch 1 FLAGS']);
    for (const bad of ['"a" NOOP', '+a NOOP', '(a) NOOP', 'a{1} NOOP', '']) expect(() => parseCommandLine(Buffer.from(bad))).toThrow(ParseError);
  });

  test('strings: atoms, quoted with escapes, literals, NIL', () => {
    const r = args('alice "pass \\"word\\" \\\\" {3}\r\nx y NIL');
    expect(r.astring()).toBe('alice');
    r.sp();
    expect(r.astring()).toBe('pass "word" \\');
    r.sp();
    expect(r.astring()).toBe('x y');
    r.sp();
    expect(r.nstring()).toBeNull();
    r.end();
    expect(() => args('"a\\b"').quoted()).toThrow('in a quoted string only');
    expect(() => args('{9}\r\nshort').literal()).toThrow('literal shorter than announced');
  });

  test('sequence sets: ranges either way round, *, $; resolved against what exists', () => {
    const set = sequenceSet(args('4:2,7,9:*'));
    expect(set).toEqual({ saved: false, ranges: [[4, 2], [7, 7], [9, '*']] });
    if (set.saved) throw new Error('not saved');
    expect(resolveSet(set.ranges, [1, 2, 3, 4, 5, 7, 8])).toEqual([2, 3, 4, 7, 8]);
    expect(resolveSet([[559, '*']], [3, 10])).toEqual([10]); // RFC 9051 6.4.9: n:* includes the last UID even when n is higher
    expect(sequenceSet(args('$'))).toEqual({ saved: true });
    expect(formatSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    expect(() => sequenceSet(args('0'))).toThrow('greater than 0');
  });

  test('search keys: AND by juxtaposition, OR, NOT, lists, dates, RETURN and CHARSET', () => {
    expect(searchArgs(args(' RETURN (MIN COUNT) CHARSET utf-8 OR FROM bob (SEEN LARGER 10) NOT 1:3 SINCE 2-Dec-2026'))).toEqual({
      returns: ['MIN', 'COUNT'],
      charset: 'UTF-8',
      key: {
        op: 'and',
        keys: [
          { op: 'or', a: { op: 'header', field: 'FROM', value: 'bob' }, b: { op: 'and', keys: [{ op: 'flag', flag: '\\Seen', set: true }, { op: 'size', cmp: 'larger', octets: 10 }] } },
          { op: 'not', key: { op: 'seq', set: { saved: false, ranges: [[1, 3]] } } },
          { op: 'date', which: 'internal', cmp: 'since', day: { year: 2026, month: 12, day: 2 } },
        ],
      },
    });
    expect(() => searchArgs(args(' SINCE 2-Foo-2026'))).toThrow('expected a date');
    expect(() => searchArgs(args(' SHINY'))).toThrow('unknown search key SHINY');
  });

  test('fetch items: macros, sections with fields, partials, BINARY; names as the response writes them', () => {
    const atts = fetchAtts(args('(UID BODY.PEEK[1.2.HEADER.FIELDS (Subject from)]<0.100> BINARY[2] BINARY.SIZE[2] RFC822.SIZE)'));
    expect(atts[1]).toEqual({ kind: 'section', binary: false, peek: true, section: { part: [1, 2], text: 'HEADER.FIELDS', fields: ['Subject', 'from'] }, partial: { start: 0, count: 100 } });
    expect(sectionName(atts[1] as Extract<FetchAtt, { kind: 'section' }>)).toBe('BODY[1.2.HEADER.FIELDS (SUBJECT FROM)]<0>');
    expect(atts.map((a) => a.kind)).toEqual(['UID', 'section', 'section', 'BINARY.SIZE', 'RFC822.SIZE']);
    expect(fetchAtts(args('FAST')).map((a) => a.kind)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    expect(() => fetchAtts(args('BODY[MIME]'))).toThrow('MIME needs a part number');
    expect(() => fetchAtts(args('BINARY[HEADER]'))).toThrow('BINARY takes only part numbers');
  });
});

describe('mailbox names', () => {
  test('modified UTF-7 both ways (RFC 3501 5.1.3)', () => {
    expect(encodeUtf7('Entwürfe')).toBe('Entw&APw-rfe');
    expect(encodeUtf7('A&B')).toBe('A&-B');
    expect(encodeUtf7('日本語')).toBe('&ZeVnLIqe-');
    for (const name of ['Entwürfe', 'A&B', '日本語', 'Été.2026', 'plain']) expect(decodeUtf7(encodeUtf7(name))).toBe(name);
    expect(() => decodeUtf7('bad&name')).toThrow(NameError);
  });

  test('names that may not be created', () => {
    expect(checkName('inbox.Sub')).toBe('INBOX.Sub');
    for (const bad of ['', '.lead', 'trail.', 'a..b', 'a/b', '..', 'x\\y', 'tab\there', 'wild*', '%', 'x'.repeat(201)]) expect(() => checkName(bad)).toThrow(NameError);
  });

  test('LIST patterns: * crosses levels, % does not; INBOX in any case', () => {
    const names = ['INBOX', 'INBOX.Old', 'Sent', 'Archive', 'Archive.2026', 'Archive.2026.Q1'];
    expect(names.filter(listMatcher('', '*'))).toEqual(names);
    expect(names.filter(listMatcher('', '%'))).toEqual(['INBOX', 'Sent', 'Archive']);
    expect(names.filter(listMatcher('Archive.', '%'))).toEqual(['Archive.2026']);
    expect(names.filter(listMatcher('', 'inbox*'))).toEqual(['INBOX', 'INBOX.Old']);
    expect(names.filter(listMatcher('', 'archive'))).toEqual([]);
  });
});

describe('messages', () => {
  test('addresses: names, quotes, comments, groups, routes, a missing domain', () => {
    expect(parseAddressList('"Doe, Jane" <jane@x.test>, bob@y.test (Bob B), Team: a@t.test, <b@t.test>;, <@relay:c@z.test>, local')).toEqual([
      { name: 'Doe, Jane', mailbox: 'jane', host: 'x.test' },
      { name: 'Bob B', mailbox: 'bob', host: 'y.test' },
      { name: null, mailbox: 'Team', host: null },
      { name: null, mailbox: 'a', host: 't.test' },
      { name: null, mailbox: 'b', host: 't.test' },
      { name: null, mailbox: null, host: null },
      { name: null, mailbox: 'c', host: 'z.test' },
      { name: null, mailbox: 'local', host: null },
    ]);
  });

  test('multipart: preamble and epilogue belong to no part; the CRLF before a boundary belongs to the boundary', () => {
    const body = Buffer.from('preamble\r\n--b\r\nPart: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n--bx\r\n--b--\r\nepilogue');
    expect(splitMultipart(body, 'b').map((p) => p.toString())).toEqual(['Part: 1\r\n\r\none', '\r\ntwo\r\n--bx']);
  });

  test('nesting deeper than 20 levels stops being parsed (a message built to exhaust the parser)', () => {
    let text = 'deep';
    for (let i = 0; i < 100; i++) text = `Content-Type: message/rfc822\r\n\r\n${text}`;
    let part = parseMessage(Buffer.from(text));
    let depth = 0;
    while (part.message) {
      part = part.message;
      depth++;
    }
    expect(depth).toBe(20);
  });

  test('bare LF becomes CRLF, CRLF stays', () => {
    expect(withCrlf(Buffer.from('a\nb\r\nc\n')).toString()).toBe('a\r\nb\r\nc\r\n');
  });
});

describe('responses', () => {
  test('strings are quoted when they can be, literals when not; Joined values have no spaces', () => {
    const out = encode([data(1, atom('FETCH'), [atom('ENVELOPE'), [null, 'say "hi"', [new Joined([['A', null, 'a', 'x.test'], ['B', null, 'b', 'x.test']])]], atom('X'), 'Grüße', atom('Y'), 'two\r\nlines']), ok('t1', 'done', 'READ-WRITE')]);
    expect(out.toString('utf8')).toBe('* 1 FETCH (ENVELOPE (NIL "say \\"hi\\"" (("A" NIL "a" "x.test")("B" NIL "b" "x.test"))) X {7}\r\nGrüße Y {10}\r\ntwo\r\nlines)\r\nt1 OK [READ-WRITE] done\r\n');
  });
});

describe('the IDLE watcher', () => {
  test('where the file system cannot be watched, the poll wakes it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-watch-'));
    const watcher = new FolderWatcher(path.join(dir, 'no-such-folder'), 20);
    try {
      await watcher.next(new AbortController().signal); // resolves at the first poll
    } finally {
      watcher.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
