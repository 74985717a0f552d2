/**
 * The SMTP service with real clients (swaks, Python's smtplib): delivery on port 25,
 * submission with AUTH on 587, and each refusal, followed by proof that the server
 * still serves the next client.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, silentSink } from '../../../services/common/logger';
import { PortInUseError } from '../../../services/common/listen';
import { loadUsers } from '../../../services/common/users';
import { SMTP_SERVER_DEFAULTS, SmtpServer } from '../../../services/smtp/server';
import { LAB_DIR } from '../../helpers/paths';
import { listenTcp } from '../../helpers/socket';
import { inbox, RawClient, smtplibSend, startSmtp, stillServes, swaks, tempDir, type RunningSmtp } from './harness';

const ALICE = ['--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'alice'];

describe('port 25: mail for the local domain', () => {
  let s: RunningSmtp;
  beforeAll(async () => {
    s = await startSmtp({ maxMessageBytes: 4000, maxRecipients: 2 });
  });
  afterAll(async () => {
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  });

  test('swaks delivers to bob: the message is in new/ with a Received field on top and its own Message-Id kept', async () => {
    const result = await swaks(s.smtp, '--to', 'bob@lab.test', '--from', 'someone@example.test', '--header', 'Subject: hello bob');
    expect(result.stdout).toMatch(/<- {2}220 mail\.lab\.test ESMTP wirelab/);
    const id = /<- {2}250 2\.0\.0 Ok: delivered as ([0-9A-F]{10})/.exec(result.stdout)?.[1];
    expect(id).toBeDefined();
    expect(result.code).toBe(0);
    const [message] = await inbox(s.dataDir, 'lab.test', 'bob');
    expect(message).toMatch(new RegExp(`^Received: from client\\.lab\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mail\\.lab\\.test \\(wirelab\\) with ESMTP id ${id};\\r\\n\\t\\w{3}, \\d{2} \\w{3} \\d{4} \\d{2}:\\d{2}:\\d{2} \\+0000\\r\\n`));
    expect(message).toContain('Subject: hello bob\r\n');
    expect(message!.match(/^Message-Id:/gim)).toHaveLength(1); // swaks wrote one: not replaced, not doubled
    expect(s.logs.lines.some((l) => / message accepted conn=c\d+ id=[0-9A-F]+ size=\d+ from=someone@example\.test delivered=bob code=250/.test(l))).toBe(true);
    expect(s.logs.lines.some((l) => / smtp info connect conn=c\d+ listener=smtp client=127\.0\.0\.1:\d+$/.test(l))).toBe(true);
  });

  test('smtplib without AUTH: a Message-ID is added when missing; no Date is added on port 25', async () => {
    const result = await smtplibSend(s.smtp, 'someone@example.test', 'alice@lab.test', { subject: 'no id', body: 'from python' });
    expect(result).toEqual({ ok: true, refused: {} });
    const [message] = await inbox(s.dataDir, 'lab.test', 'alice');
    expect(message).toMatch(/^Received: from pyclient\.lab\.test \(\[127\.0\.0\.1\]\)/);
    expect(message).toMatch(/\r\nMessage-ID: <\d+\.[0-9A-F]{10}@mail\.lab\.test>\r\n/);
    expect(message).not.toMatch(/^Date:/im);
    expect(message).toContain('\r\n\r\nfrom python\r\n');
  });

  test('MAIL FROM:<> (a bounce from another server) is accepted', async () => {
    const result = await swaks(s.smtp, '--to', 'web@lab.test', '--from', '<>');
    expect(result.stdout).toContain('-> MAIL FROM:<>');
    expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered/);
    expect(await inbox(s.dataDir, 'lab.test', 'web')).toHaveLength(1);
  });

  test('an unknown local user: 550 5.1.1 at RCPT', async () => {
    const result = await swaks(s.smtp, '--to', 'nobody@lab.test', '--from', 'someone@example.test');
    expect(result.stdout).toMatch(/<\*\* 550 5\.1\.1 <nobody@lab\.test>: Recipient address rejected: no such user here/);
    expect(result.stdout).not.toContain('-> DATA');
    expect(result.code).not.toBe(0);
    expect(s.logs.lines.some((l) => / rcpt to conn=c\d+ to=nobody@lab\.test code=550/.test(l))).toBe(true);
    await stillServes(s);
  });

  test('another domain without AUTH: 554 5.7.1 relay denied (never an open relay)', async () => {
    const result = await swaks(s.smtp, '--to', 'carol@example.test', '--from', 'alice@lab.test');
    expect(result.stdout).toMatch(/<\*\* 554 5\.7\.1 <carol@example\.test>: Relay access denied/);
    const python = await smtplibSend(s.smtp, 'alice@lab.test', 'carol@example.test');
    expect(python.error).toBe('SMTPRecipientsRefused');
    expect(python.refused!['carol@example.test']![0]).toBe(554);
    await stillServes(s);
  });

  test('port 25 offers no AUTH at all', async () => {
    const result = await swaks(s.smtp, '--to', 'bob@lab.test', '--from', 'alice@lab.test', ...ALICE);
    expect(result.stdout).not.toMatch(/250-AUTH/);
    expect(result.stdout + result.stderr).toMatch(/Host did not advertise authentication/);
    expect(result.stdout).not.toContain('-> MAIL FROM');
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    await c.command('EHLO raw.lab.test');
    expect(await c.command(`AUTH PLAIN ${Buffer.from('\0alice\0alice').toString('base64')}`)).toBe('500 5.5.2 Error: command not recognized');
    c.destroy();
  });

  test('maxMessageBytes: over the limit gets 552 after DATA, never 250, and nothing is stored', async () => {
    const before = (await inbox(s.dataDir, 'lab.test', 'bob')).length;
    const body = Array.from({ length: 80 }, (_, i) => `line ${i} of a long message, long enough to pass the limit`).join('\n');
    const result = await swaks(s.smtp, '--to', 'bob@lab.test', '--from', 'someone@example.test', '--body', body);
    expect(result.stdout).toMatch(/<- {2}250-mail\.lab\.test|<- {2}250 SIZE 4000/);
    expect(result.stdout).toContain('SIZE 4000');
    expect(result.stdout).toMatch(/<\*\* 552 5\.3\.4 Message too big: the limit is 4000 bytes/);
    expect(result.stdout).not.toMatch(/Ok: delivered/);
    expect(await inbox(s.dataDir, 'lab.test', 'bob')).toHaveLength(before);
    await stillServes(s);
  });

  test('maxMessageBytes: smtplib announces SIZE= in MAIL FROM and gets 552 at once', async () => {
    const result = await smtplibSend(s.smtp, 'someone@example.test', 'bob@lab.test', { body: 'x'.repeat(70) + '\n'.repeat(1) + ('y'.repeat(70) + '\n').repeat(80) });
    expect(result).toMatchObject({ error: 'SMTPSenderRefused', code: 552 });
    await stillServes(s);
  });

  test('maxRecipients: one more gets 452; the others still get the message', async () => {
    const result = await swaks(s.smtp, '--to', 'alice@lab.test,bob@lab.test,web@lab.test', '--from', 'someone@example.test', '--header', 'Subject: three');
    expect(result.stdout).toMatch(/<\*\* 452 4\.5\.3 Too many recipients: at most 2 per message/);
    expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered/);
    const subjects = async (u: string): Promise<boolean> => (await inbox(s.dataDir, 'lab.test', u)).some((m) => m.includes('Subject: three'));
    expect([await subjects('alice'), await subjects('bob'), await subjects('web')]).toEqual([true, true, false]);
    await stillServes(s);
  });
});

describe('port 587: submission with AUTH', () => {
  let s: RunningSmtp;
  beforeAll(async () => {
    // Wrong passwords answered at once: the slowing and the lock-out per address are tests/services/common/auth-throttle.test.ts's.
    s = await startSmtp({ authFailureDelayMs: 0, maxAuthFailuresPerAddress: 100 });
  });
  afterAll(async () => {
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  });

  test('AUTH PLAIN with swaks: 235, then delivered, Received says ESMTPA', async () => {
    const result = await swaks(s.submission, '--to', 'bob@lab.test', '--from', 'alice@lab.test', ...ALICE, '--header', 'Subject: plain');
    expect(result.stdout).toMatch(/<- {2}250-AUTH PLAIN LOGIN/);
    expect(result.stdout).toMatch(/<- {2}235 2\.7\.0 Authentication successful/);
    expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered as/);
    const message = (await inbox(s.dataDir, 'lab.test', 'bob')).find((m) => m.includes('Subject: plain'));
    expect(message).toMatch(/^Received: from client\.lab\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.lab\.test \(wirelab\) with ESMTPA id /);
    expect(s.logs.lines.some((l) => / auth conn=c\d+ method=PLAIN user=alice result=ok/.test(l))).toBe(true);
    expect(s.logs.lines.join('\n')).not.toMatch(/AGFsaWNlAGFsaWNl/); // the base64 password never reaches the log
  });

  test('AUTH LOGIN with swaks, user name written with the domain', async () => {
    const result = await swaks(s.submission, '--to', 'alice@lab.test', '--from', 'bob@lab.test', '--auth', 'LOGIN', '--auth-user', 'bob@lab.test', '--auth-password', 'bob', '--header', 'Subject: login');
    expect(result.stdout).toMatch(/-> AUTH LOGIN/);
    expect(result.stdout).toMatch(/<- {2}334 VXNlcm5hbWU6/); // "Username:" in base64
    expect(result.stdout).toMatch(/<- {2}235 2\.7\.0 Authentication successful/);
    expect((await inbox(s.dataDir, 'lab.test', 'alice')).some((m) => m.includes('Subject: login'))).toBe(true);
  });

  test('smtplib login (PLAIN): a Date and a Message-ID are added when missing', async () => {
    const result = await smtplibSend(s.submission, 'web@lab.test', 'bob@lab.test', { user: 'web', password: 'web', subject: 'from web' });
    expect(result).toEqual({ ok: true, refused: {} });
    const message = (await inbox(s.dataDir, 'lab.test', 'bob')).find((m) => m.includes('Subject: from web'))!;
    expect(message).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/);
    expect(message).toMatch(/\r\nMessage-ID: <\d+\.[0-9A-F]{10}@mail\.lab\.test>\r\n/);
  });

  test('no AUTH: 530 5.7.0 at MAIL FROM', async () => {
    const result = await swaks(s.submission, '--to', 'bob@lab.test', '--from', 'alice@lab.test');
    expect(result.stdout).toMatch(/<\*\* 530 5\.7\.0 Authentication required/);
    await stillServes(s);
  });

  test('a wrong password: 535 5.7.8; a user of another domain cannot log in here either', async () => {
    const wrong = await swaks(s.submission, '--to', 'bob@lab.test', '--from', 'alice@lab.test', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'bob');
    expect(wrong.stdout).toMatch(/<\*\* 535 5\.7\.8 Authentication credentials invalid/);
    expect(wrong.stdout).not.toContain('-> MAIL FROM');
    const carol = await smtplibSend(s.submission, 'carol@example.test', 'bob@lab.test', { user: 'carol', password: 'carol' });
    expect(carol).toMatchObject({ error: 'SMTPAuthenticationError', code: 535 });
    expect(s.logs.lines.some((l) => / warn auth conn=c\d+ method=PLAIN user=alice result=failed address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=0 code=535/.test(l))).toBe(true);
    await stillServes(s);
  });

  test('MAIL FROM another address than the logged-in user: 553 5.7.1', async () => {
    const result = await swaks(s.submission, '--to', 'bob@lab.test', '--from', 'bob@lab.test', ...ALICE);
    expect(result.stdout).toMatch(/<\*\* 553 5\.7\.1 <bob@lab\.test>: Sender address rejected: you are logged in as alice@lab\.test/);
    const empty = await swaks(s.submission, '--to', 'bob@lab.test', '--from', '<>', ...ALICE);
    expect(empty.stdout).toMatch(/<\*\* 553 5\.7\.1 <>/);
    await stillServes(s);
  });

  test('an unknown local recipient after AUTH: 550 5.1.1', async () => {
    const result = await swaks(s.submission, '--to', 'nobody@lab.test', '--from', 'alice@lab.test', ...ALICE);
    expect(result.stdout).toMatch(/<\*\* 550 5\.1\.1 <nobody@lab\.test>/);
  });

  test('without a dialer there is no relay: another domain is refused at RCPT even after AUTH', async () => {
    const result = await swaks(s.submission, '--to', 'carol@example.test', '--from', 'alice@lab.test', ...ALICE);
    expect(result.stdout).toMatch(/<\*\* 554 5\.7\.1 <carol@example\.test>: Relay access denied: this server has no route to other domains/);
  });

  test('maxAuthFailures (default 3): the third wrong password gets 535, then 421, and the connection closes', async () => {
    expect(SMTP_SERVER_DEFAULTS.maxAuthFailures).toBe(3);
    const c = await RawClient.connect(s.submission);
    await c.expect(/^220 /);
    expect(await c.command('EHLO raw.lab.test')).toMatch(/^250 /);
    const wrong = Buffer.from('\0alice\0wrong').toString('base64');
    expect(await c.command(`AUTH PLAIN ${wrong}`)).toMatch(/^535 5\.7\.8/);
    expect(await c.command(`AUTH PLAIN ${wrong}`)).toMatch(/^535 5\.7\.8/);
    expect(await c.command(`AUTH PLAIN ${wrong}`)).toMatch(/^535 5\.7\.8/);
    await c.expect(/^421 4\.7\.0 Too many failed authentication attempts/);
    await c.closed();
    await stillServes(s);
  });
});

describe('options', () => {
  const log = createLogger('smtp', { sink: silentSink });

  test('the defaults are the documented ones', () => {
    expect(SMTP_SERVER_DEFAULTS).toMatchObject({
      domain: 'lab.test',
      maxMessageBytes: 10 * 1024 * 1024,
      maxRecipients: 50,
      maxCommandLineLength: 512,
      maxTextLineLength: 1000,
      maxConnections: 100,
      idleTimeoutMs: 60_000,
      maxAuthFailures: 3,
      retryDelaysMs: [60_000, 300_000, 900_000, 3_600_000],
      maxQueueAgeMs: 86_400_000,
      relayTimeoutMs: 30_000,
      dnsTimeoutMs: 5000,
      dnsLabel: 'ns.lab.test:53',
      closeGraceMs: 10000,
      greetingDelayMs: 100,
      greetingTrustMs: 10_000,
      maxTrustedClients: 10_000,
    });
    const server = new SmtpServer();
    expect([server.domain, server.hostname]).toEqual(['lab.test', 'mail.lab.test']);
  });

  test('domain and hostname: example.test takes mail for carol, not for bob, and names itself', async () => {
    const s = await startSmtp({ domain: 'example.test', hostname: 'mx.example.test' });
    try {
      const result = await swaks(s.smtp, '--to', 'carol@example.test', '--from', 'alice@lab.test');
      expect(result.stdout).toMatch(/<- {2}220 mx\.example\.test ESMTP wirelab/);
      const [message] = await inbox(s.dataDir, 'example.test', 'carol');
      expect(message).toMatch(/\tby mx\.example\.test \(wirelab\) with ESMTP id /);
      const bob = await swaks(s.smtp, '--to', 'bob@lab.test', '--from', 'carol@example.test');
      expect(bob.stdout).toMatch(/<\*\* 554 5\.7\.1 <bob@lab\.test>: Relay access denied: mx\.example\.test only takes mail for @example\.test/);
      const login = await swaks(s.submission, '--to', 'carol@example.test', '--from', 'carol@example.test', '--auth', 'PLAIN', '--auth-user', 'carol', '--auth-password', 'carol');
      expect(login.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered/);
    } finally {
      await s.stop();
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });

  test('users default to none; dataDir defaults to $WIRELAB_DATA', async () => {
    const data = await tempDir();
    const saved = process.env.WIRELAB_DATA;
    process.env.WIRELAB_DATA = data;
    const nobody = new SmtpServer({ log });
    const withBob = new SmtpServer({ log, users: (await loadUsers(LAB_DIR)).filter((u) => u.name === 'bob') });
    try {
      const a = await nobody.listen({ smtp: 0 });
      expect((await swaks(a.smtp!.port, '--to', 'bob@lab.test', '--from', 'x@example.test')).stdout).toMatch(/<\*\* 550 5\.1\.1/);
      const b = await withBob.listen({ smtp: 0 });
      expect((await swaks(b.smtp!.port, '--to', 'bob@lab.test', '--from', 'x@example.test')).stdout).toMatch(/<- {2}250 2\.0\.0/);
      expect(await inbox(data, 'lab.test', 'bob')).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.WIRELAB_DATA;
      else process.env.WIRELAB_DATA = saved;
      await nobody.close();
      await withBob.close();
      await rm(data, { recursive: true, force: true });
    }
  });

  test('listen() opens only the ports asked for; a port in use is named', async () => {
    const holder = await listenTcp();
    const busy = holder.port;
    const s = await startSmtp({}, undefined, { smtp: 0 });
    const other = new SmtpServer({ log });
    try {
      expect(s.submission).toBe(0);
      const err: unknown = await other.listen({ smtp: 0, submission: busy }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect(err).toMatchObject({ service: 'smtp', port: busy });
    } finally {
      await other.close();
      await s.stop();
      await holder.close();
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });

  test('fromLab refuses a data directory inside the lab folder', async () => {
    await expect(SmtpServer.fromLab(LAB_DIR, path.join(LAB_DIR, 'data'))).rejects.toThrow(/inside the lab directory/);
  });

  test('closeGraceMs: close() tells a client still connected 421 and ends its session', async () => {
    const s = await startSmtp({ closeGraceMs: 50 });
    const c = await RawClient.connect(s.smtp);
    try {
      await c.expect(/^220 /);
      await c.command('EHLO raw.lab.test');
      await s.stop();
      expect(await c.expect(/^421 /)).toBe('421 4.3.2 Service shutting down');
      await c.closed();
    } finally {
      c.destroy();
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });

  test('the data directory may not exist yet: Maildirs are made on first delivery', async () => {
    const parent = await tempDir();
    const data = path.join(parent, 'not', 'yet');
    const s = await startSmtp({}, data);
    try {
      await mkdir(parent, { recursive: true });
      expect((await swaks(s.smtp, '--to', 'bob@lab.test', '--from', 'x@example.test')).stdout).toMatch(/<- {2}250 2\.0\.0/);
      expect(await inbox(data, 'lab.test', 'bob')).toHaveLength(1);
    } finally {
      await s.stop();
      await rm(parent, { recursive: true, force: true });
    }
  });
});
