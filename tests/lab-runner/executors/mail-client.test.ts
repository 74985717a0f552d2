import { composeMessage, smtpReply } from '../../../lab-runner/executors/smtp/protocol';
import { multiLine, singleLine } from '../../../lab-runner/executors/pop3/protocol';
import { parseMessage } from '../../../lab-runner/executors/pop3/message';
import { createLogger, logWire, parseLogLine } from '../../../services/common/logger';
import { mergeByTime } from '../../../lab-runner/wire';
import type { WireEvent } from '../../../lab-runner/wire';

const b = (s: string) => Buffer.from(s);

describe("the runner's SMTP client, pure parts", () => {
  test('multi-line replies end at the line with a space after the code', () => {
    const text = '250-mail.lab.test\r\n250-SIZE 10485760\r\n250 AUTH PLAIN LOGIN\r\n354 go';
    expect(smtpReply(b(text.slice(0, 30)))).toBeUndefined();
    const parsed = smtpReply(b(text))!;
    expect(parsed.reply).toEqual({ code: 250, lines: ['mail.lab.test', 'SIZE 10485760', 'AUTH PLAIN LOGIN'], text: 'mail.lab.test SIZE 10485760 AUTH PLAIN LOGIN' });
    expect(parsed.rest.toString()).toBe('354 go');
    expect(smtpReply(b('221\r\n'))!.reply).toMatchObject({ code: 221, lines: [''] });
  });

  test('garbage and a code that changes mid-reply are errors', () => {
    expect(() => smtpReply(b('HTTP/1.1 200 OK\r\n'))).toThrow(/not an SMTP reply line/);
    expect(() => smtpReply(b('250-a\r\n251 b\r\n'))).toThrow(/not an SMTP reply line/);
  });

  test('a composed message has From, To, Date, Subject, a blank line, the body', () => {
    const text = composeMessage({ from: 'alice@lab.test', to: ['bob@lab.test', 'carol@example.test'], subject: 'Hi', body: 'x', date: new Date(Date.UTC(2026, 10, 21, 12)) });
    expect(text).toBe('From: <alice@lab.test>\r\nTo: <bob@lab.test>, <carol@example.test>\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\nSubject: Hi\r\n\r\nx');
  });
});

describe("the runner's POP3 client, pure parts", () => {
  test('single-line and multi-line replies, with dot-unstuffing', () => {
    expect(singleLine(b('+OK 2 320\r\n'))!.reply).toEqual({ ok: true, text: '2 320' });
    expect(singleLine(b('-ERR no such message\r\n'))!.reply).toEqual({ ok: false, text: 'no such message' });
    const body = '+OK 120 octets\r\nSubject: x\r\n\r\n..hidden\r\nline\r\n.\r\n+OK';
    expect(multiLine(b(body.slice(0, 40)))).toBeUndefined();
    const parsed = multiLine(b(body))!;
    expect(parsed.reply.lines).toEqual(['Subject: x', '', '.hidden', 'line']);
    expect(parsed.rest.toString()).toBe('+OK');
    // -ERR has no body, even for a multi-line command.
    expect(multiLine(b('-ERR no such message\r\n'))!.reply).toEqual({ ok: false, text: 'no such message' });
    expect(() => singleLine(b('220 smtp here\r\n'))).toThrow(/not a POP3 status line/);
  });

  test('messages split into headers (unfolded), Received list, body', () => {
    const m = parseMessage('Received: from a\r\n by b; date\r\nReceived: from c by d\r\nSubject: Hi\r\nX-Empty:\r\n\r\nbody\r\nline 2\r\n');
    expect(m.received).toEqual(['from a by b; date', 'from c by d']);
    expect(m.headers).toMatchObject({ subject: 'Hi', 'x-empty': '' });
    expect(m.body).toBe('body\nline 2\n');
    expect(parseMessage('no headers here\n\nbody').body).toBe('no headers here\n\nbody');
  });
});

describe('service wire lines', () => {
  test('logWire writes a line that parseLogLine reads back', () => {
    const lines: string[] = [];
    const log = createLogger('smtp', { sink: (l) => lines.push(l) }).child({ conn: 'c9' });
    logWire(log, { kind: 'send', proto: 'smtp', from: 'mail.lab.test', to: 'mail.example.test:25', summary: 'MAIL FROM:<alice@lab.test> SIZE="3"' });
    expect(parseLogLine(lines[0]!)).toMatchObject({
      service: 'smtp',
      level: 'info',
      message: 'wire',
      fields: { conn: 'c9', kind: 'send', proto: 'smtp', from: 'mail.lab.test', to: 'mail.example.test:25', summary: 'MAIL FROM:<alice@lab.test> SIZE="3"' },
    });
    expect(parseLogLine('not a log line')).toBeUndefined();
  });

  test('merging keeps time order and, at equal times, the client first', () => {
    const e = (at: number, summary: string): WireEvent => ({ at, kind: 'note', from: 'a', to: 'b', protocol: 'x', summary });
    expect(mergeByTime([e(1, 'c1'), e(5, 'c2')], [e(0, 's0'), e(5, 's5'), e(9, 's9')]).map((x) => x.summary)).toEqual(['s0', 'c1', 'c2', 's5', 's9']);
  });
});
