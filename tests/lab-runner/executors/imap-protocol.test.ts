/**
 * The imap executor's pure parts: cutting responses off the stream (literals followed
 * by their counts, whatever the chunks), reading their values, and turning FETCH data
 * into the output. The responses are written by the lab server's own encoder
 * (services/imap/responses.ts, fetch.ts) from the test fixtures, so the client reads
 * what the server really sends; the executor against live servers (ours and Dovecot) is
 * in imap.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bodyPart, fetchData, fetchedMessages } from '../../../lab-runner/executors/imap/fetched';
import { fetchItems } from '../../../lab-runner/executors/imap/actions';
import { astring, imapResponse, listPattern, parseResponse, setNumbers, type ImapResponse } from '../../../lab-runner/executors/imap/protocol';
import { bodyStructure, envelope as serverEnvelope } from '../../../services/imap/fetch';
import { parseMessage } from '../../../services/imap/message';
import { atom, data, encode, no, ok, continuation } from '../../../services/imap/responses';

const FIXTURES = path.resolve(__dirname, '../../fixtures/imap');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

/** Every response in `bytes`, fed `size` octets at a time as TCP might deliver them. */
function cut(bytes: Buffer, size: number): { responses: ImapResponse[]; raws: Buffer[] } {
  const responses: ImapResponse[] = [];
  const raws: Buffer[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  for (let at = 0; at < bytes.length; at += size) {
    buffer = Buffer.concat([buffer, bytes.subarray(at, at + size)]);
    for (let got = imapResponse(buffer); got; got = imapResponse(buffer)) {
      responses.push(got.reply);
      raws.push(got.raw);
      buffer = got.rest;
    }
  }
  expect(buffer.length).toBe(0);
  return { responses, raws };
}

describe('responses off the stream', () => {
  // A message whose text holds lines that look like responses, and a literal announcement.
  const body = Buffer.from('a5 OK not the end\r\n* 9 EXISTS\r\n{12}\r\nstill the body\r\n');
  const stream = encode([
    data(3, atom('EXISTS')),
    data(1, atom('FETCH'), [atom('UID'), 7, atom('BODY[TEXT]'), body, atom('FLAGS'), [atom('\\Seen')]]),
    ok('*', 'flags permitted', 'PERMANENTFLAGS (\\Seen \\*)'),
    continuation('Ready for 310 octets'),
    no('a5', 'no such mailbox', 'NONEXISTENT'),
  ]);

  test.each([1, 2, 5, 17, 4096])('one response per event, whatever the chunks (%i octets at a time)', (size) => {
    const { responses, raws } = cut(stream, size);
    expect(Buffer.concat(raws).equals(stream)).toBe(true);
    expect(responses.map((r) => r.line)).toEqual([
      '* 3 EXISTS',
      `* 1 FETCH (UID 7 BODY[TEXT] {${body.length}} FLAGS (\\Seen))`,
      '* OK [PERMANENTFLAGS (\\Seen \\*)] flags permitted',
      '+ Ready for 310 octets',
      'a5 NO [NONEXISTENT] no such mailbox',
    ]);
    expect(fetchData(responses[1]!.values[0])).toEqual({ uid: 7, flags: ['\\Seen'], sections: { 'BODY[TEXT]': body.toString() }, body: body.toString(), text: body.toString() });
  });

  test('the parts of a status: tag, status, code and its arguments, text', () => {
    const [greeting, tagged, untagged] = cut(encode([ok('*', 'ready', 'CAPABILITY IMAP4rev2 IDLE'), ok('a1', 'APPEND completed', 'APPENDUID 1796419832 4'), data(atom('BYE'), atom('bye'))]), 4096).responses;
    expect(greeting).toMatchObject({ tag: '*', type: 'OK', status: 'OK', code: { name: 'CAPABILITY', args: 'IMAP4rev2 IDLE' }, text: 'ready' });
    expect(tagged).toMatchObject({ tag: 'a1', status: 'OK', code: { name: 'APPENDUID', args: '1796419832 4' }, text: 'APPEND completed' });
    expect(untagged).toMatchObject({ tag: '*', status: 'BYE', text: 'bye' });
  });

  test('NIL is nothing, "NIL" is a string; a section name with spaces in brackets is one atom', () => {
    const [list, fetch] = cut(Buffer.from('* LIST (\\Noselect) NIL "NIL"\r\n* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)]<0> {3}\r\nabc BINARY[1] ~{2}\r\nxy)\r\n'), 3).responses;
    expect(list!.values).toEqual([['\\Noselect'], null, 'NIL']);
    expect(fetch!.values[0]).toEqual(['BODY[HEADER.FIELDS (SUBJECT FROM)]<0>', 'abc', 'BINARY[1]', 'xy']);
  });

  test('something that is no IMAP response is an error', () => {
    expect(() => imapResponse(Buffer.from('HTTP/1.1 400 Bad Request\r\n'))).toThrow(/a tagged response must be OK, NO or BAD/);
    expect(() => parseResponse(Buffer.from(' \r\n'))).toThrow(/not an IMAP response/);
  });
});

describe('FETCH data as the output shows it', () => {
  /** The server's FETCH response for a fixture (ENVELOPE and BODYSTRUCTURE, its own encoder), read back by the client. */
  function fetched(name: string) {
    const mime = parseMessage(fixture(name));
    const bytes = encode(data(4, atom('FETCH'), [atom('ENVELOPE'), serverEnvelope(mime.fields), atom('BODYSTRUCTURE'), bodyStructure(mime, true)]));
    return fetchedMessages(cut(bytes, 7).responses)[0]!;
  }

  test('an envelope: encoded words decoded, groups left out, empty lists where nobody is', () => {
    expect(fetched('04-addresses.eml').envelope).toEqual({
      subject: 'Grüße aus Berlin',
      from: [{ name: 'Jürgen', address: 'juergen@example.test' }],
      sender: [{ address: 'secretary@example.test' }],
      replyTo: [{ address: 'erin@lab.test' }, { name: 'Frank F.', address: 'frank@lab.test' }],
      to: [],
      cc: [],
      bcc: [{ address: 'grace@lab.test' }],
      messageId: '<addr@example.test>',
    });
  });

  test('a body structure: a multipart with a forwarded message inside', () => {
    const m = fetched('03-forward.eml');
    expect(m.seq).toBe(4);
    expect(m.envelope!.subject).toBe('Fwd: Lunch on Friday?');
    expect(m.bodystructure).toMatchObject({
      type: 'multipart/mixed',
      params: { boundary: 'fwd-b' },
      parts: [{ type: 'text/plain', params: { charset: 'us-ascii' }, encoding: '7bit' }, { type: 'message/rfc822', parts: [{ type: 'text/plain' }] }],
    });
    expect(bodyPart(['text', 'plain', null, null, null, '7bit', 12, 1])).toEqual({ type: 'text/plain', encoding: '7bit', size: 12, lines: 1 });
  });

  test('a whole message (BODY[]) gives its header fields and its text', () => {
    const raw = fixture('01-plain.eml');
    const m = fetchedMessages(cut(encode(data(1, atom('FETCH'), [atom('BODY[]'), raw])), 64).responses)[0]!;
    expect(m.headers!.subject).toBe(parseMessage(raw).fields.find((f) => f.name === 'Subject')!.value);
    expect(m.text).toBe(raw.toString().split(/\r?\n\r?\n/).slice(1).join('\r\n\r\n'));
    expect(m.body).toBe(raw.toString());
  });

  test('two responses about one message (a FETCH, then new flags) make one message', () => {
    const { responses } = cut(encode([data(2, atom('FETCH'), [atom('UID'), 9, atom('FLAGS'), []]), data(2, atom('FETCH'), [atom('FLAGS'), [atom('\\Seen')]])]), 4096);
    expect(fetchedMessages(responses)).toEqual([{ seq: 2, uid: 9, flags: ['\\Seen'] }]);
  });
});

describe('writing commands', () => {
  test('a string is an atom, a quoted string, or a literal, as it must be', () => {
    expect(astring('INBOX')).toBe('INBOX');
    expect(astring('')).toBe('""');
    expect(astring('two words')).toBe('"two words"');
    expect(astring('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
    expect(astring('Grüße')).toEqual({ literal: Buffer.from('Grüße') });
    expect(astring('line\r\nbreak')).toEqual({ literal: Buffer.from('line\r\nbreak') });
    // A LIST pattern may have its wildcards in an atom; a string may not.
    expect([listPattern('*'), listPattern('Archive.%'), listPattern('My mail*')]).toEqual(['*', 'Archive.%', '"My mail*"']);
    expect(astring('*')).toBe('"*"');
  });

  test('fetch items by their short names, and BODY.PEEK with peek', () => {
    expect(fetchItems(['uid', 'flags', 'envelope', 'size', 'body', 'BODY[HEADER.FIELDS (SUBJECT)]'], false)).toBe('(UID FLAGS ENVELOPE RFC822.SIZE BODY[] BODY[HEADER.FIELDS (SUBJECT)])');
    expect(fetchItems(['text', 'header', 'BINARY[1]'], true)).toBe('(BODY.PEEK[TEXT] BODY.PEEK[HEADER] BINARY[1])');
  });

  test('a set the server sends back (COPYUID, ESEARCH) as its numbers', () => {
    expect(setNumbers('4')).toEqual([4]);
    expect(setNumbers('1:3,7,9:8')).toEqual([1, 2, 3, 7, 8, 9]);
  });
});
