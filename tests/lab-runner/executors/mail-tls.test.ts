import { pop3Executor } from '../../../lab-runner/executors/pop3';
import { smtpExecutor } from '../../../lab-runner/executors/smtp';
import { stripStartTls } from '../../../lab-runner/executors/smtp/middlebox';
import type { WireEvent } from '../../../lab-runner/wire';
import { startLab, type Lab } from '../../helpers/lab';

/**
 * `smtp:` with STARTTLS (RFC 3207) and SMTPS (RFC 8314), `pop3:` with STLS (RFC 2595)
 * and POP3S, against the embedded lab's mail.lab.test: what is said in clear, the
 * handshake, what is said inside TLS, and what the server wrote of it in the Received
 * field; and the clients that require TLS stopping before they give anything away.
 */

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(() => lab.stop());
afterEach(() => lab.fault('pop3', 'none'));

/** The conversation as lines: `kind [encrypted] summary`, DNS left out. */
const talk = (events: WireEvent[]): string[] =>
  events.filter((e) => e.protocol !== 'dns').map((e) => `${e.kind}${e.encrypted ? ' [tls]' : ''} ${e.kind === 'tls' ? e.tls!.version ?? e.tls!.error : e.summary}`);

const mail = { from: 'alice@lab.test', to: 'bob@lab.test', subject: 'inside TLS', body: 'hello' };

/** The newest message in bob's mailbox: what the lab's SMTP server delivered. */
const delivered = async (): Promise<string> => (await lab.mailbox('bob')).at(-1) ?? '';

test('smtp starttls: EHLO in clear, STARTTLS, the handshake, EHLO again inside TLS, then AUTH and the message', async () => {
  const { output, error, events } = await lab.step(smtpExecutor, { port: 587, starttls: true, auth: { user: 'alice', password: 'alice' }, ...mail });
  expect(error).toBeUndefined();
  expect(talk(events)).toEqual([
    'connect connect from port ' + events.find((e) => e.kind === 'connect')!.local!.port,
    'recv 220 mail.lab.test ESMTP wirelab',
    'send EHLO client.lab.test',
    expect.stringMatching(/^recv 250 mail\.lab\.test .*\(\+\d+ lines\)$/),
    'send STARTTLS',
    'recv 220 2.0.0 Ready to start TLS',
    'tls TLSv1.3',
    'send [tls] EHLO client.lab.test',
    expect.stringMatching(/^recv \[tls\] 250 mail\.lab\.test/),
    expect.stringMatching(/^send \[tls\] AUTH PLAIN /),
    'recv [tls] 235 2.7.0 Authentication successful',
    'send [tls] MAIL FROM:<alice@lab.test>',
    'recv [tls] 250 2.1.0 Accepted',
    'send [tls] RCPT TO:<bob@lab.test>',
    'recv [tls] 250 2.1.5 Accepted',
    'send [tls] DATA',
    'recv [tls] 354 End data with <CR><LF>.<CR><LF>',
    expect.stringMatching(/^send \[tls\] \(message, \d+ bytes\) \.$/),
    expect.stringMatching(/^recv \[tls\] 250 2\.0\.0 Ok: delivered as [0-9A-F]+$/),
    'send [tls] QUIT',
    'recv [tls] 221 2.0.0 Bye',
  ]);
  // What was offered in clear, and inside TLS.
  expect(output!.starttls).toEqual({ offered: true, extensions: expect.arrayContaining(['STARTTLS']), code: 220, text: '2.0.0 Ready to start TLS', secure: true });
  expect(output!.extensions).toEqual(expect.arrayContaining(['AUTH PLAIN LOGIN']));
  expect(output!.extensions).not.toContain('STARTTLS');
  expect(output).toMatchObject({ sent: true, auth: { code: 235 }, tls: { version: 'TLSv1.3', servername: 'mail.lab.test', authorized: true } });
  // The server's own word for the hop (RFC 3848): inside TLS (S), after AUTH (A).
  expect(await delivered()).toMatch(/^Received: from client\.lab\.test .*\r\n\t\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256\/256 bits\)\)\r\n\tby mail\.lab\.test \(wirelab\) with ESMTPSA id /);
  expect(await delivered()).toContain('Subject: inside TLS');
});

test('smtp without starttls: port 587 keeps the lesson: AUTH goes in clear, and the password can be read off the wire', async () => {
  const { output, events } = await lab.step(smtpExecutor, { port: 587, auth: { user: 'alice', password: 'alice' }, ...mail, subject: 'in clear' });
  expect(output).toMatchObject({ sent: true, auth: { code: 235 } });
  expect(output!.tls).toBeUndefined();
  expect(events.find((e) => e.summary.startsWith('AUTH PLAIN'))).toMatchObject({ kind: 'send', text: expect.stringContaining(Buffer.from('\0alice\0alice').toString('base64')) });
  expect(events.some((e) => e.encrypted || e.kind === 'tls')).toBe(false);
  expect(await delivered()).toMatch(/by mail\.lab\.test \(wirelab\) with ESMTPA id /);
});

test('smtp tls: implicit is SMTPS on 465: the handshake comes before the greeting', async () => {
  const { output, events } = await lab.step(smtpExecutor, { tls: 'implicit', auth: { user: 'alice', password: 'alice' }, ...mail });
  expect(talk(events).slice(0, 3)).toEqual([expect.stringMatching(/^connect /), 'tls TLSv1.3', 'recv [tls] 220 mail.lab.test ESMTP wirelab']);
  expect(events.find((e) => e.kind === 'connect')!.to).toBe('mail.lab.test:465');
  expect(output).toMatchObject({ sent: true, tls: { authorized: true } });
  expect(output!.starttls).toBeUndefined();
  expect(await delivered()).toMatch(/\(using TLSv1\.3 .*\r\n\tby mail\.lab\.test \(wirelab\) with ESMTPSA id /);
});

test('smtp raw lines: STARTTLS answered 220 is followed by the handshake', async () => {
  const { output, events } = await lab.step(smtpExecutor, { port: 587, lines: ['EHLO me.lab.test', 'STARTTLS', 'EHLO me.lab.test', 'QUIT'] });
  expect(talk(events).slice(4, 8)).toEqual(['send STARTTLS', 'recv 220 2.0.0 Ready to start TLS', 'tls TLSv1.3', 'send [tls] EHLO me.lab.test']);
  expect(output).toMatchObject({ tls: { authorized: true } });
});

test('pop3 stls: STLS in clear, the handshake, then USER/PASS inside TLS', async () => {
  const { output, error, events } = await lab.step(pop3Executor, { user: 'bob', password: 'bob', stls: true, retrieve: 'none' });
  expect(error).toBeUndefined();
  expect(talk(events).slice(0, 7)).toEqual([
    expect.stringMatching(/^connect /),
    expect.stringMatching(/^recv \+OK /),
    'send STLS',
    expect.stringMatching(/^recv \+OK /),
    'tls TLSv1.3',
    'send [tls] USER bob',
    expect.stringMatching(/^recv \[tls\] \+OK /),
  ]);
  expect(output).toMatchObject({ stls: { ok: true, secure: true }, loggedIn: true, tls: { servername: 'mail.lab.test', authorized: true } });
});

test('pop3 without stls: port 110 keeps the lesson: USER/PASS in clear, and the server takes them', async () => {
  const { output, events } = await lab.step(pop3Executor, { user: 'bob', password: 'bob', retrieve: 'none' });
  expect(output).toMatchObject({ loggedIn: true });
  expect(events.find((e) => e.summary === 'PASS bob')).toMatchObject({ kind: 'send' });
  expect(events.some((e) => e.encrypted || e.kind === 'tls')).toBe(false);
});

test('pop3 tls: implicit is POP3S on 995', async () => {
  const { output, events } = await lab.step(pop3Executor, { user: 'bob', password: 'bob', tls: 'implicit', retrieve: 'none' });
  expect(events.find((e) => e.kind === 'connect')!.to).toBe('mail.lab.test:995');
  expect(talk(events).slice(1, 3)).toEqual(['tls TLSv1.3', expect.stringMatching(/^recv \[tls\] \+OK /)]);
  expect(output).toMatchObject({ loggedIn: true, tls: { authorized: true } });
});

test('pop3 under a certificate fault: the failure says why, and no password was sent', async () => {
  await lab.fault('pop3', 'expired');
  const { error, events } = await lab.step(pop3Executor, { user: 'bob', password: 'bob', stls: 'required' });
  expect(error!.code).toBe('CERT_HAS_EXPIRED');
  expect(events.some((e) => e.summary.startsWith('PASS'))).toBe(false);
  expect(error!.output!.tls).toMatchObject({ authorized: false, error: 'CERT_HAS_EXPIRED', servername: 'mail.lab.test' });
});

test('stripStartTls: STARTTLS struck out of an EHLO reply, letter for letter; nothing else touched', () => {
  expect(stripStartTls('250-mail.lab.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n')).toBe('250-mail.lab.test\r\n250-XXXXXXXA\r\n250 AUTH PLAIN\r\n');
  expect(stripStartTls('250-PIPELINING\r\n250 STARTTLS\r\n')).toBe('250-PIPELINING\r\n250 XXXXXXXA\r\n');
  expect(stripStartTls('220 STARTTLS is great\r\n250-STARTTLSX\r\n')).toBe('220 STARTTLS is great\r\n250-STARTTLSX\r\n');
});

describe('a middlebox on the path that strips STARTTLS', () => {
  const via = { middlebox: 'strip-starttls', from: 'alice@lab.test', to: 'bob@lab.test', body: 'hello' };

  test('starttls: true never learns TLS was offered, and sends the mail in clear', async () => {
    const { output, events } = await lab.step(smtpExecutor, { port: 25, starttls: true, subject: 'stripped', ...via });
    expect(output).toMatchObject({ sent: true, starttls: { offered: false, secure: false, extensions: expect.arrayContaining(['XXXXXXXA']) } });
    expect(events.some((e) => e.kind === 'tls' || e.encrypted)).toBe(false);
    expect(events.filter((e) => e.kind === 'note').map((e) => e.summary)).toEqual([
      expect.stringMatching(/^the connection goes through a middlebox on the path \(strip-starttls\), 127\.0\.0\.1:\d+$/),
      'on the path, a middlebox wrote XXXXXXXA over "250-STARTTLS" in the EHLO reply',
    ]);
    // The server did offer it: the box changed the reply on its way.
    expect(events.find((e) => e.kind === 'recv' && e.summary.startsWith('250 '))!.text).toContain('250-XXXXXXXA\r\n');
    // Delivered, and the server's Received field says it came in clear: ESMTP, no S.
    expect(await delivered()).toMatch(/^Received: [^]*by mail\.lab\.test \(wirelab\) with ESMTP id [^]*Subject: stripped/);
  });

  test('starttls: required says QUIT: the attacker gets no mail', async () => {
    const before = (await lab.mailbox('bob')).length;
    const { error, events } = await lab.step(smtpExecutor, { port: 25, starttls: 'required', subject: 'never sent', ...via });
    expect(error!.code).toBe('ETLS');
    expect(error!.message).toBe('mail.lab.test:25 does not offer STARTTLS: this client requires TLS, so it said QUIT and sent nothing more in clear');
    expect(error!.output).toEqual({ tls: { authorized: false, error: 'ETLS', message: 'STARTTLS not offered', chain: [] } });
    expect(talk(events).filter((l) => l.startsWith('send'))).toEqual(['send EHLO client.lab.test', 'send QUIT']);
    expect(await lab.mailbox('bob')).toHaveLength(before);
  });

  test('SMTPS (465) leaves the box nothing to strip: TLS from the first byte', async () => {
    const { output, events } = await lab.step(smtpExecutor, { tls: 'implicit', auth: { user: 'alice', password: 'alice' }, subject: 'through the box, in TLS', ...via });
    expect(output).toMatchObject({ sent: true, tls: { authorized: true } });
    expect(events.filter((e) => e.kind === 'note').map((e) => e.summary)).toContain('on the path, a middlebox relays TLS records: nothing it can read, nothing to strip');
    expect(await delivered()).toMatch(/\(using TLSv1\.3 [^]*with ESMTPSA id [^]*Subject: through the box, in TLS/);
  });
});
