/**
 * The pure parts of the SMTP service: reply parsing, dot-stuffing, the DATA checks,
 * header fields, bounces; and the relay client against a hand-written server.
 */
import { buildBounce, statusOf } from '../../../services/smtp/bounce';
import { SmtpClient, SmtpClientError } from '../../../services/smtp/client';
import { permanentNegative, positiveCompletion, positiveIntermediate, transientNegative } from '../../../services/smtp/codes';
import { dotStuff } from '../../../services/smtp/dotStuff';
import { formatDate, hasField, headerEnd, headerSection, prepareMessage, receivedField } from '../../../services/smtp/headers';
import { formatReply, parseReplies, ReplyParseError, replyText } from '../../../services/smtp/replyParser';
import { TextCheck } from '../../../services/smtp/textCheck';
import { listenTcp } from '../../helpers/socket';

describe('parseReplies', () => {
  const EHLO = '250-mail.example.test Nice to meet you\r\n250-PIPELINING\r\n250 SIZE 10485760\r\n';

  test('single and multi-line replies, and what is left over', () => {
    expect(parseReplies('220 mail.lab.test ESMTP\r\n')).toEqual({ replies: [{ code: 220, lines: ['mail.lab.test ESMTP'] }], rest: '' });
    expect(parseReplies(EHLO + '250 Acc')).toEqual({
      replies: [{ code: 250, lines: ['mail.example.test Nice to meet you', 'PIPELINING', 'SIZE 10485760'] }],
      rest: '250 Acc',
    });
    expect(parseReplies('354\r\n')).toEqual({ replies: [{ code: 354, lines: [''] }], rest: '' });
    expect(parseReplies('250 bare LF is read too\n').replies).toHaveLength(1);
  });

  test('split at every byte, fed chunk by chunk: the same replies', () => {
    const text = EHLO + '250 Accepted\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const first = parseReplies(text.slice(0, cut));
      const second = parseReplies(first.rest + text.slice(cut));
      expect([...first.replies, ...second.replies].map(formatReply)).toEqual([
        '250-mail.example.test Nice to meet you\n250-PIPELINING\n250 SIZE 10485760',
        '250 Accepted',
      ]);
      expect(second.rest).toBe('');
    }
  });

  test('not a reply, or a code that changes midway: ReplyParseError', () => {
    expect(() => parseReplies('hello\r\n')).toThrow(ReplyParseError);
    expect(() => parseReplies('25 short\r\n')).toThrow(ReplyParseError);
    expect(() => parseReplies('250-one\r\n251 two\r\n')).toThrow(/not an SMTP reply line: "251 two"/);
  });

  test('replyText and the code classes', () => {
    expect(replyText({ code: 550, lines: ['5.1.1 <x@y>:', 'no such user'] })).toBe('550 5.1.1 <x@y>: no such user');
    expect([positiveCompletion(250), positiveIntermediate(354), transientNegative(452), permanentNegative(550)]).toEqual([true, true, true, true]);
    expect([positiveCompletion(354), transientNegative(550), permanentNegative(421)]).toEqual([false, false, false]);
  });
});

describe('dotStuff', () => {
  const stuffed = (s: string): string => dotStuff(Buffer.from(s, 'latin1')).toString('latin1');

  test('a line that starts with a dot gets another; the end is <CRLF>.<CRLF>', () => {
    expect(stuffed('.one\r\ntwo\r\n.\r\n..\r\n')).toBe('..one\r\ntwo\r\n..\r\n...\r\n.\r\n');
  });

  test('bare LF and CR become CRLF, so no smuggled end of DATA ever leaves', () => {
    expect(stuffed('a\n.\nMAIL FROM:<x>\r.\rb')).toBe('a\r\n..\r\nMAIL FROM:<x>\r\n..\r\nb\r\n.\r\n');
    expect(stuffed('a\r\n.\nb\n')).toBe('a\r\n..\r\nb\r\n.\r\n');
  });

  test('8-bit bytes pass unchanged; an empty message is only the end', () => {
    expect(dotStuff(Buffer.from([0xc3, 0xa9, 0x0d, 0x0a]))).toEqual(Buffer.from([0xc3, 0xa9, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]));
    expect(stuffed('')).toBe('.\r\n');
  });
});

describe('TextCheck', () => {
  const check = (chunks: string[], maxBytes = 1000, maxLine = 20): ReturnType<TextCheck['end']> => {
    const c = new TextCheck(maxBytes, maxLine);
    for (const chunk of chunks) c.push(Buffer.from(chunk, 'latin1'));
    return c.end();
  };

  test('CRLF split across chunks is fine', () => {
    expect(check(['abc\r', '\ndef\r\n'])).toBeUndefined();
  });

  test('bare LF, bare CR, a CR as the last byte', () => {
    expect(check(['abc\r\nd\nef\r\n'])).toEqual({ kind: 'bare-lf', line: 2 });
    expect(check(['abc\r', 'x\r\n'])).toEqual({ kind: 'bare-cr', line: 1 });
    expect(check(['abc\r'])).toEqual({ kind: 'bare-cr', line: 1 });
  });

  test('line length counts the CRLF, across chunks', () => {
    expect(check(['x'.repeat(10), 'x'.repeat(8) + '\r\n'])).toBeUndefined(); // 18 + 2 = 20
    expect(check(['x'.repeat(10), 'x'.repeat(9) + '\r\n'])).toEqual({ kind: 'line-too-long', line: 1, limit: 20 });
  });

  test('size: the first byte over the limit', () => {
    const c = new TextCheck(10, 1000);
    c.push(Buffer.from('12345\r\n'));
    c.push(Buffer.from('678'));
    expect(c.problem).toBeUndefined();
    c.push(Buffer.from('9'));
    expect(c.end()).toEqual({ kind: 'too-big', limit: 10 });
    expect(c.bytes).toBe(11);
  });
});

describe('header fields', () => {
  const date = new Date(Date.UTC(2026, 10, 1, 7, 5, 9));

  test('formatDate is RFC 5322 3.3', () => {
    expect(formatDate(date)).toBe('Sun, 01 Nov 2026 07:05:09 +0000');
  });

  test('receivedField, with an IPv6 client too', () => {
    const r = { helo: 'client.lab.test', clientAddress: '172.28.0.100', hostname: 'mail.lab.test', protocol: 'ESMTPA', id: 'ABCDEF0123', date };
    expect(receivedField(r)).toBe('Received: from client.lab.test ([172.28.0.100])\r\n\tby mail.lab.test (wirelab) with ESMTPA id ABCDEF0123;\r\n\tSun, 01 Nov 2026 07:05:09 +0000\r\n');
    expect(receivedField({ ...r, clientAddress: 'fd00:28::100', helo: '' })).toMatch(/^Received: from unknown \(\[IPv6:fd00:28::100\]\)/);
  });

  test('headerEnd: folded fields, the blank line, a message without header', () => {
    const m = Buffer.from('Subject: a\r\n long one\r\nTo: b\r\n\r\nbody\r\n');
    expect(headerEnd(m)).toBe('Subject: a\r\n long one\r\nTo: b\r\n'.length);
    expect(headerSection(m).toString()).toBe('Subject: a\r\n long one\r\nTo: b\r\n');
    expect(headerEnd(Buffer.from('just text\r\n'))).toBe(0);
    expect(headerEnd(Buffer.from(' not a fold\r\n'))).toBe(0);
    expect(hasField(m, 'to')).toBe(true);
    expect(hasField(Buffer.from('Subject: x\r\n\r\nTo: in the body\r\n'), 'To')).toBe(false);
  });

  test('prepareMessage: Received on top, Message-ID and Date added only when missing', () => {
    const add = { received: 'Received: x\r\n', messageId: '<1@h>', date: 'D' };
    expect(prepareMessage(Buffer.from('Subject: s\r\n\r\nbody\r\n'), add).toString()).toBe('Received: x\r\nSubject: s\r\nMessage-ID: <1@h>\r\nDate: D\r\n\r\nbody\r\n');
    expect(prepareMessage(Buffer.from('message-id: <old@x>\r\nDATE: d\r\n\r\nb\r\n'), add).toString()).toBe('Received: x\r\nmessage-id: <old@x>\r\nDATE: d\r\n\r\nb\r\n');
    expect(prepareMessage(Buffer.from('no header here\r\n'), { received: 'Received: x\r\n' }).toString()).toBe('Received: x\r\n\r\nno header here\r\n');
    expect(prepareMessage(Buffer.alloc(0), { received: 'Received: x\r\n' }).toString()).toBe('Received: x\r\n');
  });
});

describe('bounce', () => {
  test('a multipart/report with the reason for a person, for a program, and the original header', () => {
    const text = buildBounce({
      domain: 'lab.test',
      hostname: 'mail.lab.test',
      sender: 'alice@lab.test',
      failures: [{ recipient: 'nobody@example.test', status: '5.1.1', diagnostic: '550 5.1.1 no such user\r\n(in reply to RCPT TO command)', diagnosticType: 'smtp', remoteMta: 'mail.example.test' }],
      originalHeaders: Buffer.from('Subject: hi\r\n'),
      arrivalDate: new Date(0),
      date: new Date(0),
      messageId: '<b@mail.lab.test>',
      boundary: 'BOUNDARY',
    }).toString();
    expect(text).toMatch(/^From: Mail Delivery System <MAILER-DAEMON@lab\.test>\r\nTo: <alice@lab\.test>\r\nSubject: Undelivered Mail Returned to Sender\r\n/);
    expect(text).toContain('Auto-Submitted: auto-replied\r\n');
    expect(text).toContain('<nobody@example.test>: host mail.example.test said:\r\n    550 5.1.1 no such user (in reply to RCPT TO command)\r\n');
    expect(text).toContain('--BOUNDARY\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.lab.test\r\n');
    expect(text).toContain('Diagnostic-Code: smtp; 550 5.1.1 no such user (in reply to RCPT TO command)\r\n');
    expect(text.endsWith('Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n\r\n--BOUNDARY--\r\n')).toBe(true);
    expect(text.split('\r\n').every((l) => l.length <= 998)).toBe(true);
    expect(/(^|[^\r])\n/.test(text)).toBe(false); // CRLF everywhere
  });

  test('statusOf reads the enhanced code, or makes one from the class', () => {
    expect(statusOf(550, '550 5.1.1 <x>: no')).toBe('5.1.1');
    expect(statusOf(452, '452 Too many')).toBe('4.0.0');
  });
});

describe('SmtpClient against a hand-written server', () => {
  test('a reply in pieces, commands and a dot-stuffed message on the wire', async () => {
    let received = '';
    const server = await listenTcp((socket) => {
      socket.write('220-mail.example.test\r\n22');
      setImmediate(() => socket.write('0 ESMTP\r\n'));
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1');
        if (received.endsWith('\r\n.\r\n') || /^(MAIL|QUIT)/m.test(chunk.toString())) socket.write(received.endsWith('QUIT\r\n') ? '221 Bye\r\n' : '250 OK\r\n');
      });
    });
    const wire: string[] = [];
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: server.port }, { timeoutMs: 5000, onWire: (d, t) => wire.push(`${d} ${t}`) });
    expect(await client.read()).toEqual({ code: 220, lines: ['mail.example.test', 'ESMTP'] });
    expect((await client.command('MAIL FROM:<a@lab.test>')).code).toBe(250);
    expect(() => client.command('RCPT TO:<x>\r\nDATA')).toThrow(/one line/);
    expect((await client.data(Buffer.from('.dot\nend'))).code).toBe(250);
    await client.quit();
    expect(received).toBe('MAIL FROM:<a@lab.test>\r\n..dot\r\nend\r\n.\r\nQUIT\r\n');
    expect(wire).toEqual(['recv 220-mail.example.test\n220 ESMTP', 'send MAIL FROM:<a@lab.test>', 'recv 250 OK', 'send (the message: 8 bytes, then <CRLF>.<CRLF>)', 'recv 250 OK', 'send QUIT', 'recv 221 Bye']);
    await server.close();
  });

  test('not SMTP: EPROTO; connection refused: ECONNREFUSED; silence: ETIMEDOUT', async () => {
    const http = await listenTcp((socket) => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const a = await SmtpClient.connect({ host: '127.0.0.1', port: http.port }, { timeoutMs: 5000 });
    await expect(a.read()).rejects.toMatchObject({ code: 'EPROTO' });
    await http.close();
    const refused = await SmtpClient.connect({ host: '127.0.0.1', port: http.port }, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SmtpClientError);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    const mute = await listenTcp(() => {});
    const b = await SmtpClient.connect({ host: '127.0.0.1', port: mute.port }, { timeoutMs: 100 });
    await expect(b.read()).rejects.toMatchObject({ code: 'ETIMEDOUT', message: 'no reply within 100 ms' });
    await mute.close();
  });
});
