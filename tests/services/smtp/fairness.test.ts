/**
 * One client cannot take the mail server from the others (issue 16): a share of the
 * connections per client address, on all three ports together, and a deadline to log
 * in (587, 465) or start a message (25) that activity does not move.
 */
import { readFile } from 'node:fs/promises';
import { takeEveryPlace } from '../../helpers/fairness';
import { SMTP_SERVER_DEFAULTS } from '../../../services/smtp/server';
import { python, RawClient, startSmtp, startSmtpWithTls, swaks, type RunningSmtp } from './harness';

/** A raw client on `port` from `from`: held when greeted with 220; the reply line when refused. */
async function greeted(port: number, from = '127.0.0.1'): Promise<RawClient | string> {
  const c = await RawClient.connect(port, { localAddress: from });
  const greeting = await c.expect(/^\d{3} /);
  if (greeting.startsWith('220 ')) return c;
  await c.closed();
  return greeting;
}

describe('maxConnectionsPerAddress', () => {
  let s: RunningSmtp;
  beforeAll(async () => {
    s = await startSmtp();
  });
  afterAll(async () => {
    await s.stop();
  });

  test('one client takes what it can, on 25 and 587 together: it gets 10, then 421 4.7.0; a client from 127.0.0.2 delivers with swaks', async () => {
    const greedy = await takeEveryPlace((n) => greeted(n % 2 ? s.submission : s.smtp));
    try {
      expect(greedy.held).toHaveLength(10);
      expect(greedy.refusal).toBe('421 4.7.0 Too many connections from your address (10), try again later');
      await s.logs.waitFor(/ warn connection refused .*reason="too many connections from your address" limit=10/);
      const other = await swaks(s.smtp, '--local-interface', '127.0.0.2', '--to', 'bob@lab.test', '--from', 'other@example.test');
      expect(other.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered as/);
      // One of the greedy client's connections goes: its address has room again.
      const first = greedy.held.shift()!;
      expect(await first.command('QUIT')).toMatch(/^221 /);
      await first.closed();
      await s.logs.waitFor(/ info disconnect/, { count: 2 });
      const again = await greeted(s.smtp);
      expect(again).toBeInstanceOf(RawClient);
      (again as RawClient).destroy();
    } finally {
      for (const c of greedy.held) c.destroy();
    }
  });
});

describe('loginTimeoutMs', () => {
  let s: RunningSmtp;
  beforeAll(async () => {
    s = await startSmtp({ loginTimeoutMs: 400 });
  });
  afterAll(async () => {
    await s.stop();
  });

  test('25: a client that only sends NOOP is answered 250 each time, and cut at the deadline with 421 4.4.2', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    expect(await c.command('EHLO client.lab.test')).toMatch(/^250 /);
    const answers: string[] = [];
    // Busy all along: the deadline is not moved by activity (the idle timeout is, and is a minute).
    for (let i = 0; i < 100_000 && !answers.at(-1)?.startsWith('421'); i++) answers.push(await c.command('NOOP'));
    expect(answers.length).toBeGreaterThan(1);
    expect(answers.slice(0, -1).every((a) => a.startsWith('250 '))).toBe(true);
    expect(answers.at(-1)).toBe('421 4.4.2 mail.lab.test Error: no MAIL within 400 ms, closing connection');
    await c.closed();
    await s.logs.waitFor(/ warn login timeout .*limitMs=400 waitedFor=MAIL/);
  });

  test('once a client logged in (587) or sent MAIL (25), the deadline is gone: both still answer after a later connection was cut', async () => {
    const submission = await RawClient.connect(s.submission);
    await submission.expect(/^220 /);
    await submission.command('EHLO client.lab.test');
    expect(await submission.command(`AUTH PLAIN ${Buffer.from('\0alice\0alice').toString('base64')}`)).toMatch(/^235 /);
    const smtp = await RawClient.connect(s.smtp);
    await smtp.expect(/^220 /);
    await smtp.command('EHLO client.lab.test');
    expect(await smtp.command('MAIL FROM:<someone@example.test>')).toMatch(/^250 /);
    const before = s.logs.matching(/ login timeout /).length;
    // A connection opened after both, that does nothing: its deadline comes after theirs would have.
    const idle = await RawClient.connect(s.submission);
    await idle.expect(/^220 /);
    expect(await idle.rest()).toMatch(/^421 4\.4\.2 .*no login within 400 ms/);
    expect(s.logs.matching(/ login timeout /)).toHaveLength(before + 1);
    expect(await submission.command('NOOP')).toMatch(/^250 /);
    expect(await smtp.command('NOOP')).toMatch(/^250 /);
    submission.destroy();
    smtp.destroy();
  });
});

describe('465 (SMTPS) shares the address\'s places', () => {
  test('two held on 465, the third is told 421 4.7.0 inside TLS', async () => {
    const s = await startSmtpWithTls({ maxConnectionsPerAddress: 2 }, { smtps: 0 });
    try {
      const ca = await readFile(s.caFile);
      const open = async (): Promise<RawClient> => (await RawClient.connect(s.smtps)).startTls({ ca, servername: 'mail.lab.test' });
      const held = [await open(), await open()];
      for (const c of held) await c.expect(/^220 /);
      const third = await open();
      expect(await third.expect(/^\d{3} /)).toBe('421 4.7.0 Too many connections from your address (2), try again later');
      for (const c of [...held, third]) c.destroy();
    } finally {
      await s.stop();
    }
  });
});

describe('maxUnknownCommands', () => {
  test('smtplib sends commands the server does not know: 500 each, the third 421 4.7.0, and the connection closes', async () => {
    const s = await startSmtp({ maxUnknownCommands: 3 });
    try {
      const script = `
import json, smtplib, sys
out = []
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.lab.test', timeout=10)
s.ehlo()
for i in range(4):
    try:
        code, text = s.docmd('FOO%d' % i)
        out.append('%d %s' % (code, text.decode()))
    except smtplib.SMTPServerDisconnected as e:
        out.append('disconnected')
        break
print(json.dumps(out))
`;
      const result = await python(script, String(s.smtp));
      expect(JSON.parse(result.stdout)).toEqual([
        '500 5.5.2 Error: command not recognized',
        '500 5.5.2 Error: command not recognized',
        '421 4.7.0 Too many unknown commands (3), closing connection',
        'disconnected',
      ]);
      await s.logs.waitFor(/ info refused conn=c\d+ code=421 reply="421 4\.7\.0 Too many unknown commands \(3\), closing connection"/);
      // The default is the line protocols' (10), not smtp-server's fixed one.
      expect(SMTP_SERVER_DEFAULTS.maxUnknownCommands).toBe(10);
    } finally {
      await s.stop();
    }
  });
});
