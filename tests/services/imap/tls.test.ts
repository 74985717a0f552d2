/**
 * IMAP and TLS: STARTTLS on the plain port (openssl s_client -starttls imap), TLS from
 * the first byte on the IMAPS port (curl imaps:// with --cacert, openssl s_client), and
 * the rule that a password never travels in clear unless the lab says so: LOGINDISABLED
 * and [PRIVACYREQUIRED] before TLS, AUTH=PLAIN after it.
 */
import { RawSocket } from '../../helpers/socket';
import { curl, ImapWire, imaplib, message, pw, sClient, startImap, useCertificate, type RunningImap } from './clients';

const testCertificate = useCertificate();

let imap: RunningImap;
afterEach(async () => {
  await imap?.stop();
});

test('before TLS: STARTTLS and LOGINDISABLED are offered, LOGIN and AUTHENTICATE get NO [PRIVACYREQUIRED]', async () => {
  imap = await startImap({ tls: testCertificate().tls });
  const { wire, greeting } = await ImapWire.open(imap.port);
  expect(greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED .*\] wirelab IMAP server for lab\.test ready$/);
  expect(greeting).not.toContain('AUTH=PLAIN');
  expect(await wire.command('a1', `LOGIN alice ${pw('alice')}`)).toEqual(['a1 NO [PRIVACYREQUIRED] login in plain text is not allowed: use STARTTLS first (or port 993)']);
  expect(await wire.command('a2', 'AUTHENTICATE PLAIN AGFsaWNlAHg=')).toEqual(['a2 NO [PRIVACYREQUIRED] login in plain text is not allowed: use STARTTLS first (or port 993)']);
  expect(await wire.command('a3', 'SELECT INBOX')).toEqual([expect.stringMatching(/^a3 BAD SELECT needs a login first/)]);
  wire.destroy();
  // Refusing a password sent in clear is not a failed login: nothing was guessed.
  await imap.logged(/ info command .*verb=LOGIN .*reply="NO \[PRIVACYREQUIRED\]/);
  expect(imap.logs.matching(/login failed/)).toEqual([]);
});

test('openssl s_client -starttls imap: LOGIN inside TLS, after a CAPABILITY that now offers AUTH=PLAIN', async () => {
  imap = await startImap({ tls: testCertificate().tls });
  await imap.deliver('alice', message('over TLS'));
  const result = await sClient(imap.port, `a CAPABILITY\nb LOGIN alice ${pw('alice')}\nc SELECT INBOX\nd FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\ne LOGOUT\n`, { starttls: true, caFile: testCertificate().certFile });
  expect(result.stderr).not.toMatch(/verify error/i);
  expect(result.stdout).toMatch(/^\* CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN /m);
  expect(result.stdout).not.toMatch(/^\* CAPABILITY .*STARTTLS/m);
  expect(result.stdout).toContain('b OK [CAPABILITY');
  expect(result.stdout).toContain('Subject: over TLS\r\n');
  expect(result.stdout).toContain('e OK LOGOUT completed');
  await imap.logged(/ info tls started .*version=TLSv1\.3/);
});

/** What a man in the middle would do: put commands after STARTTLS in the same packet (RFC 3501 6.2.1, RFC 9051 6.2.1). */
test('commands pipelined after STARTTLS in clear are thrown away, not run inside TLS', async () => {
  imap = await startImap({ tls: testCertificate().tls });
  await imap.deliver('alice', message('kept'));
  const plain = await RawSocket.connect(imap.port);
  // The injection: a LOGIN and a destructive command in the same packet as STARTTLS.
  plain.write(`a STARTTLS\r\nb LOGIN alice ${pw('alice')}\r\nc SELECT INBOX\r\nd STORE 1 +FLAGS (\\Deleted)\r\ne EXPUNGE\r\n`);
  expect(await plain.readUntil('a OK begin TLS negotiation now\r\n')).toMatch(/^\* OK \[CAPABILITY [^\r]*\] wirelab IMAP server for lab\.test ready\r\na OK begin TLS negotiation now\r\n$/);
  expect(plain.unread).toBe('');
  const secure = await plain.startTls({ ca: testCertificate().cert, servername: 'localhost' });
  secure.write('f SELECT INBOX\r\ng STARTTLS\r\nh LOGOUT\r\n');
  // Not logged in: the injected LOGIN never ran (nor did the commands after it), and a second STARTTLS is refused.
  expect(await secure.rest()).toBe(
    'f BAD SELECT needs a login first: LOGIN user password (after STARTTLS), or AUTHENTICATE PLAIN\r\ng BAD this connection is already encrypted\r\n* BYE wirelab IMAP server logging out\r\nh OK LOGOUT completed\r\n',
  );
  await imap.logged(/ warn discarded input sent before the TLS handshake .*commands=4/);
  expect(await imap.maildir('alice').list()).toHaveLength(1);
});

test('IMAPS (993): curl imaps:// with --cacert lists and fetches; openssl s_client without -starttls', async () => {
  imap = await startImap({ tls: testCertificate().tls });
  await imap.deliver('alice', message('implicit', 'Encrypted from the first byte.'));
  const url = `imaps://127.0.0.1:${imap.tlsPort}`;
  const list = await curl('--cacert', testCertificate().certFile, '--user', `alice:${pw('alice')}`, `${url}/`);
  expect(list.stderr).toBe('');
  expect(list.stdout).toContain('* LIST (\\HasNoChildren \\Sent) "." Sent\r\n');
  const fetched = await curl('--cacert', testCertificate().certFile, '--user', `alice:${pw('alice')}`, `${url}/INBOX;UID=1`);
  expect(fetched.stdout).toContain('Subject: implicit\r\n');
  expect(fetched.stdout).toContain('Encrypted from the first byte.');
  const untrusted = await curl('--user', `alice:${pw('alice')}`, `${url}/`);
  expect(untrusted.code).toBe(60); // curl: the certificate is not trusted without --cacert
  const s = await sClient(imap.tlsPort!, 'a CAPABILITY\nb LOGOUT\n', { starttls: false, caFile: testCertificate().certFile });
  expect(s.stdout).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN /m);
  expect(s.stdout).toContain('b OK LOGOUT completed');
});

test('curl imap:// with --ssl-reqd upgrades with STARTTLS; without TLS and without the option, it cannot log in', async () => {
  imap = await startImap({ tls: testCertificate().tls });
  await imap.deliver('alice', message('starttls'));
  const url = `imap://127.0.0.1:${imap.port}/INBOX;UID=1`;
  const upgraded = await curl('--ssl-reqd', '--cacert', testCertificate().certFile, '--user', `alice:${pw('alice')}`, url);
  expect(upgraded.stdout).toContain('Subject: starttls\r\n');
  const clear = await curl('--user', `alice:${pw('alice')}`, url);
  expect(clear.code).not.toBe(0);
  expect(clear.stdout).not.toContain('Subject: starttls');
});

test('allowPlaintextLogin: the plain-text lesson; LOGIN in clear works, and LOGINDISABLED is gone', async () => {
  imap = await startImap({ tls: testCertificate().tls, allowPlaintextLogin: true });
  const results = await imaplib(imap.port, `M = imaplib.IMAP4('127.0.0.1', port)\nout('caps', M.capabilities)\nout('login', M.login('alice', '${pw('alice')}'))`);
  expect(results[0]![1]).toEqual(expect.arrayContaining(['STARTTLS', 'AUTH=PLAIN']));
  expect(results[0]![1]).not.toContain('LOGINDISABLED');
  expect(results[1]![1]).toEqual(['OK', [expect.stringMatching(/logged in$/)]]);
});

test('imaplib over IMAPS and with starttls()', async () => {
  imap = await startImap({ tls: testCertificate().tls });
  const ca = testCertificate().certFile;
  const results = await imaplib(
    imap.tlsPort!,
    `ctx = ssl.create_default_context(cafile='${ca}')
M = imaplib.IMAP4_SSL('localhost', port, ssl_context=ctx)
out('login', M.login('alice', '${pw('alice')}'))
out('logout', M.logout())
P = imaplib.IMAP4('127.0.0.1', ${imap.port})
out('before', 'LOGINDISABLED' in P.capabilities)
out('starttls', P.starttls(ssl_context=ssl.create_default_context(cafile='${ca}')))
out('after', 'AUTH=PLAIN' in P.capabilities)
out('login2', P.login('alice', '${pw('alice')}'))`,
  );
  const r = Object.fromEntries(results);
  expect(r.login).toEqual(['OK', [expect.stringMatching(/logged in$/)]]);
  expect(r.before).toBe(true);
  expect(r.starttls).toEqual(['OK', [null]]);
  expect(r.after).toBe(true);
  expect(r.login2).toEqual(['OK', [expect.stringMatching(/logged in$/)]]);
});
