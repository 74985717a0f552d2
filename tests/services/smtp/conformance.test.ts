/**
 * What RFC 5321 asks of every SMTP server, with real clients (swaks, Python's smtplib,
 * a raw socket) and POP3 (poplib) to read what was delivered:
 *
 * - postmaster (4.5.1): `RCPT TO:<Postmaster>` and postmaster@<domain> in any letter
 *   case are taken, into the mailbox lab/aliases.yaml names, on both lab domains;
 * - a MAIL FROM / RCPT TO parameter of no announced extension: 555 (4.1.1.11);
 * - quoted local parts (4.1.2): `"john smith"@example.test`, and `"bob"@lab.test` is bob;
 * - EXPN and TURN: 502, not implemented (4.2.4);
 * - EHLO announces ENHANCEDSTATUSCODES, and every reply after it carries one (RFC 2034).
 *
 * postfix (3.7, smtpd on loopback) was the reference for the first three; it answers EXPN
 * and TURN with 500 where RFC 5321 names 502.
 */
import { rm } from 'node:fs/promises';
import { session as popSession, startPop3, type RunningPop3 } from '../pop3/clients';
import { inbox, python, RawClient, startSmtp, stillServes, swaks, type RunningSmtp } from './harness';

let lab: RunningSmtp;
let example: RunningSmtp;

beforeAll(async () => {
  lab = await startSmtp();
  example = await startSmtp({ domain: 'example.test' }, undefined, { smtp: 0 });
});

afterAll(async () => {
  await Promise.all([lab.stop(), example.stop()]);
  await Promise.all([lab, example].map((s) => rm(s.dataDir, { recursive: true, force: true })));
});

/** A raw session on port 25, past the greeting and EHLO. */
async function raw(port = lab.smtp): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.expect(/^220 /);
  await c.command('EHLO raw.lab.test');
  return c;
}

/** smtplib: one transaction with a MAIL/RCPT option list, printing each reply as [code, text]. */
const SMTPLIB_OPTIONS = `
import json, smtplib, sys
port, sender, mail_options, to, rcpt_options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
with smtplib.SMTP('127.0.0.1', int(port), local_hostname='pyclient.lab.test', timeout=20) as s:
    s.ehlo()
    mail = s.mail(sender, mail_options)
    rcpt = s.rcpt(to, rcpt_options)
    print(json.dumps([[c, t.decode()] for c, t in (mail, rcpt)]))
`;

async function smtplibOptions(port: number, mailOptions: string[], rcptOptions: string[], from = 'someone@example.test', to = 'bob@lab.test'): Promise<[number, string][]> {
  const run = await python(SMTPLIB_OPTIONS, String(port), from, JSON.stringify(mailOptions), to, JSON.stringify(rcptOptions));
  if (run.code !== 0) throw new Error(`python failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as [number, string][];
}

describe('postmaster (RFC 5321 4.5.1)', () => {
  let pop: RunningPop3;
  beforeAll(async () => {
    pop = await startPop3({ fromLab: true, dataDir: lab.dataDir, keepData: true });
  });
  afterAll(() => pop.stop());

  test('RCPT TO:<Postmaster> without a domain, on port 25: 250, into alice\'s mailbox, read over POP3', async () => {
    const c = await raw();
    expect(await c.command('MAIL FROM:<someone@example.test>')).toBe('250 2.1.0 Accepted');
    expect(await c.command('RCPT TO:<Postmaster>')).toBe('250 2.1.5 Accepted');
    expect(await c.command('DATA')).toMatch(/^354 /);
    expect(await c.command('Subject: to the postmaster\r\n\r\nyour server bounced my mail\r\n.')).toMatch(/^250 2\.0\.0 Ok: delivered as/);
    c.destroy();
    await lab.logs.waitFor(/ rcpt to conn=c\d+ to=Postmaster mailbox=alice code=250/);
    const results = await popSession(pop.port, 'alice', [['retr', 1]], { password: 'alice' });
    const retr = results.find((r) => r.op === 'retr')!.ok as [string, string[]];
    expect(retr[1]).toContain('Subject: to the postmaster');
    expect(retr[1]).toContain('your server bounced my mail');
  });

  test('postmaster@lab.test in any letter case, with swaks and smtplib: delivered to alice', async () => {
    const before = (await inbox(lab.dataDir, 'lab.test', 'alice')).length;
    const result = await swaks(lab.smtp, '--to', 'PostMaster@LAB.test', '--from', 'someone@example.test', '--header', 'Subject: case');
    expect(result.stdout).toMatch(/<- {2}250 2\.1\.5 Accepted/);
    const python = await smtplibOptions(lab.smtp, [], [], 'someone@example.test', 'postmaster@lab.test');
    expect(python[1]).toEqual([250, '2.1.5 Accepted']);
    expect((await inbox(lab.dataDir, 'lab.test', 'alice')).length).toBe(before + 1);
  });

  test('postmaster@example.test, and <Postmaster>, on mail.example.test: carol\'s mailbox', async () => {
    expect((await swaks(example.smtp, '--to', 'postmaster@example.test', '--from', 'alice@lab.test')).stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered/);
    expect((await swaks(example.smtp, '--to', 'Postmaster', '--from', 'alice@lab.test')).stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered/);
    expect(await inbox(example.dataDir, 'example.test', 'carol')).toHaveLength(2);
  });

  test('postmaster of the other domain on port 25 is relaying: 554, like any other address there', async () => {
    const result = await swaks(lab.smtp, '--to', 'postmaster@example.test', '--from', 'someone@example.test');
    expect(result.stdout).toMatch(/<\*\* 554 5\.7\.1 <postmaster@example\.test>: Relay access denied/);
    await stillServes(lab);
  });
});

describe('parameters of no announced extension: 555 (RFC 5321 4.1.1.11)', () => {
  test('smtplib: MAIL FROM FOO=1, RCPT TO NOTIFY=SUCCESS (DSN is not offered), AUTH= on port 25', async () => {
    const [mail] = await smtplibOptions(lab.smtp, ['FOO=1'], []);
    expect(mail).toEqual([555, '5.5.4 Unsupported parameter FOO=1 of MAIL FROM; this server knows SIZE, BODY, SMTPUTF8']);
    const [, rcpt] = await smtplibOptions(lab.smtp, [], ['NOTIFY=SUCCESS']);
    expect(rcpt).toEqual([555, '5.5.4 Unsupported parameter NOTIFY=SUCCESS of RCPT TO, which takes none here']);
    const [auth] = await smtplibOptions(lab.smtp, ['AUTH=<>'], []);
    expect(auth![0]).toBe(555); // port 25 announces no AUTH
    await lab.logs.waitFor(/ mail from conn=c\d+ from=someone@example\.test parameter="FOO=1" code=555/);
  });

  test('the ones that are announced are taken: SIZE, BODY=8BITMIME, SMTPUTF8; the transaction goes on after a 555', async () => {
    const [mail, rcpt] = await smtplibOptions(lab.smtp, ['SIZE=100', 'BODY=8BITMIME', 'SMTPUTF8'], []);
    expect([mail, rcpt]).toEqual([
      [250, '2.1.0 Accepted'],
      [250, '2.1.5 Accepted'],
    ]);
    const c = await raw();
    expect(await c.command('MAIL FROM:<a@example.test> FOO')).toMatch(/^555 5\.5\.4 Unsupported parameter FOO of MAIL FROM/);
    expect(await c.command('MAIL FROM:<a@example.test>')).toBe('250 2.1.0 Accepted'); // the 555 left no sender behind
    expect(await c.command('RCPT TO:<bob@lab.test> ORCPT=rfc822;bob@lab.test')).toMatch(/^555 /);
    expect(await c.command('RCPT TO:<bob@lab.test>')).toBe('250 2.1.5 Accepted');
    c.destroy();
  });
});

describe('quoted local parts (RFC 5321 4.1.2)', () => {
  test('"john smith"@example.test as the sender, "bob"@lab.test is bob: delivered to bob', async () => {
    const before = (await inbox(lab.dataDir, 'lab.test', 'bob')).length;
    const result = await swaks(lab.smtp, '--from', '"john smith"@example.test', '--to', '"bob"@lab.test', '--header', 'Subject: quoted');
    expect(result.stdout).toContain('-> MAIL FROM:<"john smith"@example.test>');
    expect(result.stdout).toMatch(/<- {2}250 2\.1\.0 Accepted/);
    expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered/);
    expect((await inbox(lab.dataDir, 'lab.test', 'bob')).length).toBe(before + 1);
    await lab.logs.waitFor(/ message accepted conn=c\d+ .*from="\\"john smith\\"@example\.test" delivered=bob code=250/);
  });

  test('escapes inside quotes; a quote that is not closed, or only part of the local part: 501', async () => {
    const c = await raw();
    expect(await c.command('MAIL FROM:<"a\\"b\\\\c"@example.test> SIZE=10')).toBe('250 2.1.0 Accepted');
    expect(await c.command('RCPT TO:<"no such"@lab.test>')).toMatch(/^550 5\.1\.1 <"no such"@lab\.test>: Recipient address rejected/);
    expect(await c.command('RSET')).toMatch(/^250 /);
    expect(await c.command('MAIL FROM:<"open@example.test>')).toMatch(/^501 /);
    expect(await c.command('MAIL FROM:<"a"b@example.test>')).toMatch(/^501 /);
    expect(await c.command(`MAIL FROM:<"${'x'.repeat(70)}"@example.test>`)).toMatch(/^501 /); // over 64 octets
    c.destroy();
    await stillServes(lab);
  });
});

describe('EXPN and TURN: 502, not implemented', () => {
  test('raw socket and smtplib: 502 5.5.1; the session goes on', async () => {
    const c = await raw();
    expect(await c.command('EXPN staff')).toMatch(/^502 5\.5\.1 EXPN is not offered here/);
    expect(await c.command('TURN')).toMatch(/^502 5\.5\.1 TURN is not offered/);
    expect(await c.command('NOOP')).toBe('250 2.0.0 OK');
    c.destroy();
    const run = await python(
      `import smtplib, sys
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20) as s:
    code, text = s.expn('staff')
    print(code, text.decode())`,
      String(lab.smtp),
    );
    expect(run.stdout).toMatch(/^502 5\.5\.1 EXPN is not offered here/);
    expect(lab.logs.lines.some((l) => / smtp info refused conn=c\d+ code=502 reply="502 5\.5\.1 TURN is not offered/.test(l))).toBe(true);
  });
});

describe('enhanced status codes (RFC 2034, RFC 3463)', () => {
  test('EHLO announces ENHANCEDSTATUSCODES; every reply after EHLO but 354 carries one, each once', async () => {
    const result = await swaks(lab.smtp, '--to', 'bob@lab.test', '--from', 'someone@example.test');
    expect(result.stdout).toMatch(/<- {2}250-ENHANCEDSTATUSCODES/);
    const replies = result.stdout.split('\n').filter((l) => /^<[-~*]{1,2} +\d{3}[ -]/.test(l));
    const afterEhlo = replies.slice(replies.findIndex((l) => / 250 SIZE /.test(l)) + 1); // past the greeting and the EHLO reply
    expect(afterEhlo.length).toBeGreaterThanOrEqual(5);
    for (const line of afterEhlo) {
      if (/ 354 /.test(line)) continue; // an intermediate reply has none (RFC 2034 4)
      expect(line).toMatch(/ \d{3} [245]\.\d{1,3}\.\d{1,3} /);
      expect(line).not.toMatch(/ [245]\.\d{1,3}\.\d{1,3} [245]\.\d{1,3}\.\d{1,3} /);
    }
    const c = await raw();
    expect(await c.command('XYZZY')).toBe('500 5.5.2 Error: command not recognized');
    expect(await c.command('RCPT TO:<bob@lab.test>')).toBe('503 5.5.1 Error: need MAIL command');
    expect(await c.command('MAIL FROM:<a@example.test>')).toBe('250 2.1.0 Accepted');
    expect(await c.command('RCPT TO:<nobody@lab.test>')).toBe('550 5.1.1 <nobody@lab.test>: Recipient address rejected: no such user here');
    expect(await c.command('QUIT')).toBe('221 2.0.0 Bye');
  });
});
