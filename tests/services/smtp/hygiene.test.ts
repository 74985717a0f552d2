/**
 * What well-behaved clients never send, over a raw socket: talking before the
 * greeting, overlong lines, bare LF and the SMTP smuggling sequences, silence, too many
 * connections. Each case asserts the reply, and that the server still serves.
 */
import { rm } from 'node:fs/promises';
import { inbox, RawClient, startSmtp, stillServes, type RunningSmtp } from './harness';

/** Greeting, EHLO, MAIL, RCPT, DATA; resolves when the server said 354. */
async function openData(c: RawClient, to = 'bob@lab.test'): Promise<void> {
  await c.expect(/^220 /);
  expect(await c.command('EHLO raw.lab.test')).toMatch(/^250 /);
  expect(await c.command('MAIL FROM:<raw@example.test>')).toBe('250 2.1.0 Accepted');
  expect(await c.command(`RCPT TO:<${to}>`)).toBe('250 2.1.5 Accepted');
  expect(await c.command('DATA')).toMatch(/^354 /);
}

describe('with the default limits', () => {
  let s: RunningSmtp;
  beforeAll(async () => {
    s = await startSmtp();
  });
  afterAll(async () => {
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  });

  test('a command before the greeting (early talker): 421, closed', async () => {
    const c = await RawClient.connect(s.smtp, { localAddress: '127.0.0.9' }); // an address the server has not seen
    c.write('EHLO early.lab.test\r\n'); // at once: the server waits greetingDelayMs (100) before its 220
    expect(await c.expect(/^\d{3} /)).toBe('421 mail.lab.test You talk too soon');
    await c.closed();
    expect(c.text).not.toContain('220 ');
    expect(s.logs.lines.some((l) => / smtp info refused session=\S+ code=421 reply="421 mail\.lab\.test You talk too soon"/.test(l))).toBe(true);
    await stillServes(s);
  });

  test('an address that waited for its greeting is greeted at once next time; another address is still tested', async () => {
    const first = await RawClient.connect(s.smtp, { localAddress: '127.0.0.10' });
    await first.expect(/^220 /); // it waited its turn
    expect(await first.command('QUIT')).toMatch(/^221 /);
    // Greeted at once, so a command sent right away comes after the 220: answered, not refused.
    const again = await RawClient.connect(s.smtp, { localAddress: '127.0.0.10' });
    again.write('EHLO again.lab.test\r\n');
    expect(await again.expect(/^\d{3} /)).toMatch(/^220 mail\.lab\.test ESMTP/);
    expect(await again.expect(/^\d{3} /)).toMatch(/^250 /);
    again.destroy();
    const stranger = await RawClient.connect(s.smtp, { localAddress: '127.0.0.11' });
    stranger.write('EHLO stranger.lab.test\r\n');
    expect(await stranger.expect(/^\d{3} /)).toBe('421 mail.lab.test You talk too soon');
    await stranger.closed();
    await stillServes(s);
  });

  test('a command line of 512 octets with its CRLF is fine; one more octet: 421, closed', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    expect(await c.command(`NOOP ${'x'.repeat(505)}`)).toBe('250 2.0.0 OK'); // 510 + CRLF = 512
    expect(await c.command(`NOOP ${'x'.repeat(506)}`)).toBe('421 4.4.2 Error: Command line too long');
    await c.closed();
    await stillServes(s);
  });

  test('an endless line without CRLF is cut off at the limit, not buffered', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    c.write('EHLO ' + 'a'.repeat(4000));
    expect(await c.expect(/^\d{3} /)).toBe('421 4.4.2 Error: Command line too long');
    await c.closed();
    await stillServes(s);
  });

  test('a message line of 1000 octets with CRLF is fine; 1001: 500 5.5.2, nothing stored', async () => {
    const before = (await inbox(s.dataDir, 'lab.test', 'bob')).length;
    const c = await RawClient.connect(s.smtp);
    await openData(c);
    c.write(`Subject: long lines\r\n\r\n${'a'.repeat(998)}\r\n.\r\n`);
    expect(await c.expect(/^\d{3} /)).toMatch(/^250 2\.0\.0 Ok: delivered/);
    expect(await c.command('MAIL FROM:<raw@example.test>')).toBe('250 2.1.0 Accepted');
    expect(await c.command('RCPT TO:<bob@lab.test>')).toBe('250 2.1.5 Accepted');
    expect(await c.command('DATA')).toMatch(/^354 /);
    c.write(`Subject: too long\r\n\r\nshort\r\n${'b'.repeat(999)}\r\n.\r\n`);
    expect(await c.expect(/^\d{3} /)).toBe('500 5.5.2 Line too long: line 4 is over 1000 octets (RFC 5321 4.5.3.1.6)');
    expect(await c.command('QUIT')).toBe('221 2.0.0 Bye');
    const messages = await inbox(s.dataDir, 'lab.test', 'bob');
    expect(messages).toHaveLength(before + 1);
    expect(messages.some((m) => m.includes('Subject: too long'))).toBe(false);
    await stillServes(s);
  });

  // SMTP smuggling (2023): a second message hidden inside the first, behind an end of
  // DATA that some servers accept and others do not. Only <CRLF>.<CRLF> ends DATA here,
  // and a message with a bare CR or LF is refused whole, so it can never be passed on.
  test.each([
    ['<LF>.<LF>', '\n.\n'],
    ['<LF>.<CRLF>', '\n.\r\n'],
    ['<CRLF>.<LF>', '\r\n.\n'],
    ['<CR>.<CR>', '\r.\r'],
    ['<CRLF>.<CR>', '\r\n.\r'],
  ])('smuggling with %s: the message is refused whole (550 5.6.0), the smuggled one never exists', async (_name, end) => {
    const before = (await inbox(s.dataDir, 'lab.test', 'bob')).length;
    const c = await RawClient.connect(s.smtp);
    await openData(c);
    const smuggled = 'MAIL FROM:<ceo@lab.test>\r\nRCPT TO:<bob@lab.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nforged\r\n';
    // Split in two writes, the end sequence in the second, as an attacker would try too.
    c.write(`Subject: first\r\n\r\nhello`);
    c.write(`${end}${smuggled}.\r\n`);
    expect(await c.expect(/^\d{3} /)).toMatch(/^550 5\.6\.0 Message refused: bare (LF|CR) in line [34]; lines end with CRLF/);
    expect(await c.command('QUIT')).toBe('221 2.0.0 Bye');
    // Exactly three replies after 354: none for the smuggled MAIL, RCPT and DATA.
    expect(c.text.slice(c.text.indexOf('354 ')).match(/^\d{3} /gm)).toEqual(['354 ', '550 ', '221 ']);
    await c.closed();
    expect(await inbox(s.dataDir, 'lab.test', 'bob')).toHaveLength(before);
    expect(s.logs.lines.some((l) => / message refused conn=c\d+ bytes=\d+ code=550 reason=bare-(lf|cr)/.test(l))).toBe(true);
    await stillServes(s);
  });

  test('dot-stuffing: a line that starts with a dot arrives with one dot, and ".." alone is not the end', async () => {
    const c = await RawClient.connect(s.smtp);
    await openData(c, 'web@lab.test');
    c.write('Subject: dots\r\n\r\n..\r\n...hidden\r\nafter\r\n.\r\n');
    expect(await c.expect(/^\d{3} /)).toMatch(/^250 2\.0\.0 Ok: delivered/);
    c.destroy();
    const message = (await inbox(s.dataDir, 'lab.test', 'web')).find((m) => m.includes('Subject: dots'))!;
    expect(message.endsWith('\r\n\r\n.\r\n..hidden\r\nafter\r\n')).toBe(true);
  });

  test('a whole transaction in one write (PIPELINING): every reply in order', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    c.write('EHLO pipe.lab.test\r\nMAIL FROM:<p@example.test>\r\nRCPT TO:<nobody@lab.test>\r\nRCPT TO:<alice@lab.test>\r\nDATA\r\n');
    await c.expect(/^250 SIZE/);
    expect(await c.expect(/^\d{3} /)).toBe('250 2.1.0 Accepted');
    expect(await c.expect(/^\d{3} /)).toMatch(/^550 5\.1\.1/);
    expect(await c.expect(/^\d{3} /)).toBe('250 2.1.5 Accepted');
    expect(await c.expect(/^\d{3} /)).toMatch(/^354 /);
    c.write('Subject: piped\r\n\r\nok\r\n.\r\nQUIT\r\n');
    expect(await c.expect(/^\d{3} /)).toMatch(/^250 2\.0\.0 Ok: delivered/);
    expect(await c.expect(/^\d{3} /)).toBe('221 2.0.0 Bye');
    await c.closed();
  });

  test('an HTTP request on the SMTP port: 421, closed', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    c.write('GET / HTTP/1.1\r\nHost: mail.lab.test\r\n\r\n');
    expect(await c.expect(/^\d{3} /)).toBe('421 4.4.2 HTTP requests not allowed');
    await c.closed();
  });

  test('a client that hangs up in the middle of DATA: nothing stored, nothing crashes', async () => {
    const before = (await inbox(s.dataDir, 'lab.test', 'bob')).length;
    const c = await RawClient.connect(s.smtp);
    await openData(c);
    c.write('Subject: half\r\n\r\nonly half of it');
    c.destroy();
    await s.logs.waitFor(/ message aborted conn=c\d+ /);
    await stillServes(s);
    expect(await inbox(s.dataDir, 'lab.test', 'bob')).toHaveLength(before + 1); // only stillServes' message
  });
});

describe('with small limits', () => {
  let s: RunningSmtp;
  beforeAll(async () => {
    s = await startSmtp({ idleTimeoutMs: 300, maxConnections: 2, maxCommandLineLength: 64, maxTextLineLength: 100, maxAuthFailures: 1 });
  });
  afterAll(async () => {
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  });

  test('idleTimeoutMs: a silent client gets 421 and is disconnected', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    expect(await c.expect(/^\d{3} /)).toBe('421 4.4.2 Timeout - closing connection');
    await c.closed();
    expect(s.logs.lines.some((l) => / smtp info refused conn=c\d+ code=421 reply="421 4\.4\.2 Timeout - closing connection"/.test(l))).toBe(true);
    await stillServes(s);
  });

  test('maxConnections: one over the limit gets 421 at once; a place frees up when a client leaves', async () => {
    const disconnects = s.logs.lines.filter((l) => / disconnect conn=/.test(l)).length;
    const first = await RawClient.connect(s.smtp);
    const second = await RawClient.connect(s.smtp);
    await first.expect(/^220 /);
    await second.expect(/^220 /);
    const third = await RawClient.connect(s.smtp);
    expect(await third.expect(/^\d{3} /)).toBe('421 mail.lab.test Too many connected clients, try again in a moment');
    await third.closed();
    expect(await first.command('QUIT')).toBe('221 2.0.0 Bye');
    await first.closed();
    second.destroy();
    await s.logs.waitFor(/ disconnect conn=/, { count: disconnects + 2 }); // the server has let both go
    await stillServes(s);
  });

  test('maxCommandLineLength: 64 octets with CRLF', async () => {
    const c = await RawClient.connect(s.smtp);
    await c.expect(/^220 /);
    expect(await c.command(`NOOP ${'x'.repeat(57)}`)).toBe('250 2.0.0 OK');
    expect(await c.command(`NOOP ${'x'.repeat(58)}`)).toBe('421 4.4.2 Error: Command line too long');
    await c.closed();
  });

  test('maxTextLineLength: 100 octets with CRLF', async () => {
    const c = await RawClient.connect(s.smtp);
    await openData(c);
    c.write(`Subject: x\r\n\r\n${'y'.repeat(98)}\r\n.\r\n`);
    expect(await c.expect(/^\d{3} /)).toMatch(/^250 2\.0\.0 Ok: delivered/);
    expect(await c.command('MAIL FROM:<raw@example.test>')).toBe('250 2.1.0 Accepted');
    expect(await c.command('RCPT TO:<bob@lab.test>')).toBe('250 2.1.5 Accepted');
    expect(await c.command('DATA')).toMatch(/^354 /);
    c.write(`Subject: x\r\n\r\n${'y'.repeat(99)}\r\n.\r\n`);
    expect(await c.expect(/^\d{3} /)).toBe('500 5.5.2 Line too long: line 3 is over 100 octets (RFC 5321 4.5.3.1.6)');
    c.destroy();
  });

  test('maxAuthFailures: 1 closes after the first wrong password', async () => {
    const c = await RawClient.connect(s.submission);
    await c.expect(/^220 /);
    await c.command('EHLO raw.lab.test');
    expect(await c.command(`AUTH PLAIN ${Buffer.from('\0bob\0alice').toString('base64')}`)).toBe('535 5.7.8 Authentication credentials invalid');
    await c.expect(/^421 4\.7\.0 /);
    await c.closed();
  });
});

describe('the greeting options', () => {
  const servers: RunningSmtp[] = [];
  afterAll(async () => {
    for (const s of servers) {
      await s.stop();
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });

  test('greetingTrustMs 0: every connection waits and is tested, even from an address that waited before', async () => {
    const s = await startSmtp({ greetingTrustMs: 0 });
    servers.push(s);
    const first = await RawClient.connect(s.smtp, { localAddress: '127.0.0.12' });
    await first.expect(/^220 /);
    expect(await first.command('QUIT')).toMatch(/^221 /);
    const again = await RawClient.connect(s.smtp, { localAddress: '127.0.0.12' });
    again.write('EHLO again.lab.test\r\n');
    expect(await again.expect(/^\d{3} /)).toBe('421 mail.lab.test You talk too soon');
    await again.closed();
  });

  test('greetingDelayMs 0: greeted at once, nobody is tested', async () => {
    const s = await startSmtp({ greetingDelayMs: 0 });
    servers.push(s);
    const c = await RawClient.connect(s.smtp, { localAddress: '127.0.0.13' });
    c.write('EHLO quick.lab.test\r\n');
    expect(await c.expect(/^\d{3} /)).toMatch(/^220 /);
    expect(await c.expect(/^\d{3} /)).toMatch(/^250 /);
    c.destroy();
  });
});
