/**
 * SMTP inside TLS, with the lab's own CA: STARTTLS on 25 and 587 (RFC 3207), SMTPS on
 * 465 (RFC 8314), driven by the clients a student uses: swaks, Python's smtplib,
 * openssl s_client and curl. Then the rules: no password before TLS unless the lesson
 * allows it (530), the session forgotten after the upgrade, a second STARTTLS refused,
 * bytes pipelined behind STARTTLS thrown away, old TLS versions refused with the reason
 * in the log, and the certificate lessons (faults) switched without a restart.
 */
import { readFile, rm } from 'node:fs/promises';
import { setFault } from '../../../services/common/tlsFaults';
import { cipherBits } from '../../../services/smtp/headers';
import { SmtpServer } from '../../../services/smtp/server';
import { run } from '../../helpers/tls';
import { inbox, RawClient, startSmtpWithTls, swaks, python, tempDir, type RunningSmtp } from './harness';

type TlsSmtp = Awaited<ReturnType<typeof startSmtpWithTls>>;

const started: RunningSmtp[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  }
});

async function start(options: Parameters<typeof startSmtpWithTls>[0] = {}): Promise<TlsSmtp> {
  const s = await startSmtpWithTls(options);
  started.push(s);
  return s;
}

/** A raw client on `port`, past the greeting and EHLO; `text` holds the EHLO reply. */
async function afterEhlo(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.expect(/^220 /);
  await c.command('EHLO raw.lab.test');
  return c;
}

const ALICE = ['--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'alice', '--from', 'alice@lab.test'];

/** The Received fields of a stored message, each unfolded onto one line. */
function receivedFields(message: string): string[] {
  return (message.match(/^Received: .*\r\n(?:\t.*\r\n)*/gm) ?? []).map((f) => f.replace(/\r\n\t/g, ' ').trim());
}

describe('the clients', () => {
  test('swaks --tls on 587: STARTTLS, the certificate checked against the lab CA, AUTH inside TLS; Received says ESMTPSA and the cipher', async () => {
    const s = await start();
    const result = await swaks(s.submission, '--tls', '--tls-verify', '--tls-ca-path', s.caFile, ...ALICE, '--to', 'bob@lab.test', '--header', 'Subject: inside TLS');
    expect(result.stdout).toMatch(/=== TLS started with cipher TLSv1\.3:TLS_AES_256_GCM_SHA384:256/);
    expect(result.stdout).toMatch(/=== TLS peer DN="\/CN=mail\.lab\.test\/O=wirelab \(lab use only\)"/);
    expect(result.stdout).toMatch(/<~ {2}235 /);
    expect(result.stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: delivered as/);
    const [message] = await inbox(s.dataDir, 'lab.test', 'bob');
    // RFC 3848: ESMTPSA is ESMTP inside TLS (S) after AUTH (A); the comment as Postfix writes it.
    expect(receivedFields(message!)[0]).toMatch(
      /^Received: from client\.lab\.test \(\[127\.0\.0\.1\]\) \(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256\/256 bits\)\) by mail\.lab\.test \(wirelab\) with ESMTPSA id [0-9A-F]{10};/,
    );
    await s.logs.waitFor(/ smtp info tls started .*version=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384/);
  });

  test('swaks --tls-on-connect on 465 (SMTPS): TLS from the first byte, then the greeting', async () => {
    const s = await start();
    const result = await swaks(s.smtps, '--tls-on-connect', '--tls-verify', '--tls-ca-path', s.caFile, ...ALICE, '--to', 'bob@lab.test');
    expect(result.stdout).toMatch(/=== TLS started with cipher TLSv1\.3/);
    expect(result.stdout).toMatch(/<~ {2}220 mail\.lab\.test ESMTP/); // the greeting came inside TLS
    expect(result.stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: delivered as/);
    const [message] = await inbox(s.dataDir, 'lab.test', 'bob');
    expect(receivedFields(message!)[0]).toMatch(/\(using TLSv1\.3 with cipher \S+ \(256\/256 bits\)\) by mail\.lab\.test \(wirelab\) with ESMTPSA id /);
  });

  test('swaks --tls on 25: mail from anyone, inside TLS, says ESMTPS', async () => {
    const s = await start();
    const result = await swaks(s.smtp, '--tls', '--from', 'carol@example.test', '--to', 'bob@lab.test');
    expect(result.stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: delivered as/);
    const [message] = await inbox(s.dataDir, 'lab.test', 'bob');
    expect(receivedFields(message!)[0]).toMatch(/ with ESMTPS id /);
  });

  test("Python's smtplib: starttls() then login() on 587, and SMTP_SSL on 465, trusting the lab CA", async () => {
    const s = await start();
    const script = String.raw`
import json, smtplib, ssl, sys
sub, smtps, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
out = {}
with smtplib.SMTP('127.0.0.1', sub, local_hostname='py.lab.test', timeout=10) as s:
    s.ehlo()
    out['before'] = sorted(s.esmtp_features)
    s.starttls(context=ctx)
    s.ehlo()
    out['after'] = sorted(s.esmtp_features)
    out['version'] = s.sock.version()
    s.login('alice', 'alice')
    s.sendmail('alice@lab.test', ['bob@lab.test'], 'Subject: smtplib starttls\r\n\r\nhello\r\n')
with smtplib.SMTP_SSL('127.0.0.1', smtps, local_hostname='py.lab.test', context=ctx, timeout=10) as s:
    s.login('alice', 'alice')
    s.sendmail('alice@lab.test', ['bob@lab.test'], 'Subject: smtplib smtps\r\n\r\nhello\r\n')
print(json.dumps(out))
`;
    const result = await python(script, String(s.submission), String(s.smtps), s.caFile);
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { before: string[]; after: string[]; version: string };
    // In clear: STARTTLS, and no AUTH (a client must not send a password where it is not offered).
    expect(out.before).toContain('starttls');
    expect(out.before).not.toContain('auth');
    expect(out.after).toContain('auth');
    expect(out.after).not.toContain('starttls');
    expect(out.version).toBe('TLSv1.3');
    const subjects = (await inbox(s.dataDir, 'lab.test', 'bob')).map((m) => /^Subject: (.*)$/m.exec(m)?.[1]?.trim());
    expect(subjects).toEqual(['smtplib starttls', 'smtplib smtps']);
  });

  test('openssl s_client -starttls smtp -verify_return_error: the chain checks out for mail.lab.test', async () => {
    const s = await start();
    const { output } = await run(
      'openssl',
      ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${s.submission}`, '-servername', 'mail.lab.test', '-CAfile', s.caFile, '-verify_return_error', '-verify_hostname', 'mail.lab.test', '-brief', '-ign_eof'],
      { input: 'EHLO openssl.lab.test\r\nQUIT\r\n' }, // -ign_eof: read on until the server closes, after its 221

    );
    expect(output).toContain('Verification: OK');
    expect(output).toContain('Verified peername: mail.lab.test');
    expect(output).toMatch(/250-AUTH PLAIN LOGIN/); // inside TLS
    expect(output).toMatch(/221 /);
  });

  test('curl: smtps:// on 465, and smtp:// with --ssl-reqd (STARTTLS) on 587', async () => {
    const s = await start();
    const mail = (url: string, ...extra: string[]) =>
      run('curl', ['-sS', '--cacert', s.caFile, '--mail-from', 'alice@lab.test', '--mail-rcpt', 'bob@lab.test', '-u', 'alice:alice', '-T', '-', ...extra, url], {
        input: 'Subject: from curl\r\n\r\nhello\r\n',
      });
    expect((await mail(`smtps://localhost:${s.smtps}`)).code).toBe(0);
    expect((await mail(`smtp://localhost:${s.submission}`, '--ssl-reqd')).code).toBe(0);
    expect(await inbox(s.dataDir, 'lab.test', 'bob')).toHaveLength(2);
  });
});

describe('the rules of STARTTLS (RFC 3207)', () => {
  test('before TLS, AUTH gets 530 5.7.0 Must issue a STARTTLS command first, and EHLO does not offer it', async () => {
    const s = await start();
    const c = await afterEhlo(s.submission);
    expect(c.text).toContain('250-STARTTLS');
    expect(c.text).not.toMatch(/250[- ]AUTH/);
    expect(await c.command('AUTH PLAIN AGFsaWNlAGFsaWNl')).toBe('530 5.7.0 Must issue a STARTTLS command first');
    await s.logs.waitFor(/ info refused .*code=530 reply="530 5\.7\.0 Must issue a STARTTLS command first"/);
    c.destroy();
  });

  test('allowPlaintextLogin (the lab\'s lesson): AUTH in clear is taken, and STARTTLS is still offered', async () => {
    const s = await start({ allowPlaintextLogin: true });
    const c = await afterEhlo(s.submission);
    expect(c.text).toContain('250-STARTTLS');
    expect(c.text).toContain('250-AUTH PLAIN LOGIN');
    expect(await c.command('AUTH PLAIN AGFsaWNlAGFsaWNl')).toMatch(/^235 /);
    c.destroy();
  });

  test('after the upgrade the session starts again: MAIL before EHLO gets 503, the login made in clear is gone', async () => {
    const s = await start({ allowPlaintextLogin: true });
    const c = await afterEhlo(s.submission);
    expect(await c.command('AUTH PLAIN AGFsaWNlAGFsaWNl')).toMatch(/^235 /);
    expect(await c.command('STARTTLS')).toMatch(/^220 /);
    const secure = await c.startTls({ ca: await readFile(s.caFile), servername: 'mail.lab.test' });
    expect(await secure.command('MAIL FROM:<alice@lab.test>')).toMatch(/^503 .*HELO\/EHLO first/);
    await secure.command('EHLO raw.lab.test');
    expect(secure.text).toContain('250-AUTH PLAIN LOGIN'); // offered again: nobody is logged in
    expect(secure.text).not.toContain('STARTTLS');
    // Not logged in any more: 587 wants AUTH before MAIL.
    expect(await secure.command('MAIL FROM:<alice@lab.test>')).toMatch(/^530 /);
    secure.destroy();
  });

  test('a second STARTTLS inside TLS is refused (503), on 587 and on 465; STARTTLS with an argument is a syntax error', async () => {
    const s = await start();
    const ca = await readFile(s.caFile);
    const c = await afterEhlo(s.submission);
    expect(await c.command('STARTTLS now')).toMatch(/^501 /);
    expect(await c.command('STARTTLS')).toMatch(/^220 /);
    const secure = await c.startTls({ ca, servername: 'mail.lab.test' });
    await secure.command('EHLO raw.lab.test');
    expect(await secure.command('STARTTLS')).toMatch(/^503 .*TLS already active/);
    expect(await secure.command('NOOP')).toMatch(/^250 /); // and the session goes on
    secure.destroy();

    const implicit = await (await RawClient.connect(s.smtps)).startTls({ ca, servername: 'mail.lab.test' });
    await implicit.expect(/^220 /);
    await implicit.command('EHLO raw.lab.test');
    expect(await implicit.command('STARTTLS')).toMatch(/^503 .*TLS already active/);
    implicit.destroy();
  });

  test('commands pipelined behind STARTTLS in the same packet are thrown away, never run inside TLS', async () => {
    const s = await start({ allowPlaintextLogin: true });
    const c = await afterEhlo(s.submission);
    // An attacker on the path appends these to the client's STARTTLS (CVE-2011-0411):
    // run inside the TLS session they would log in, and start a transaction, as the client.
    c.write('STARTTLS\r\nEHLO injected.lab.test\r\nAUTH PLAIN AGFsaWNlAGFsaWNl\r\nMAIL FROM:<alice@lab.test>\r\n');
    await c.expect(/^220 /);
    const secure = await c.startTls({ ca: await readFile(s.caFile), servername: 'mail.lab.test' });
    // The first reply inside TLS is to our own command, and says nobody said EHLO.
    expect(await secure.command('MAIL FROM:<alice@lab.test>')).toMatch(/^503 .*HELO\/EHLO first/);
    expect(secure.text).not.toMatch(/^(235|250)/m);
    expect(s.logs.lines.join('\n')).not.toContain('injected.lab.test');
    await secure.command('QUIT');
    secure.destroy();
  });
});

describe('versions, and the certificate lessons', () => {
  test('TLS 1.0 is refused on 465 and after STARTTLS, and the log says why', async () => {
    const s = await start();
    const old = ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0', '-CAfile', s.caFile];
    const implicit = await run('openssl', ['s_client', '-connect', `127.0.0.1:${s.smtps}`, ...old], { input: '' });
    expect(implicit.code).not.toBe(0);
    await s.logs.waitFor(/ warn tls handshake failed .*listener=smtps.*reason="unsupported protocol".*why="the client offered only TLS versions this server refuses/);
    const starttls = await run('openssl', ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${s.submission}`, ...old], { input: '' });
    expect(starttls.code).not.toBe(0);
    await s.logs.waitFor(/ warn tls handshake failed .*listener=submission.*reason="unsupported protocol"/);
    // Still serving.
    expect((await swaks(s.smtps, '--tls-on-connect', ...ALICE, '--to', 'bob@lab.test')).stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: delivered as/);
  });

  test('a fault switches the certificate at the next connection, with SNI and without, and back', async () => {
    const s = await start();
    const verify = (port: number, starttls: boolean, sni: boolean) =>
      run('openssl', [
        's_client',
        ...(starttls ? ['-starttls', 'smtp'] : []),
        '-connect',
        `127.0.0.1:${port}`,
        ...(sni ? ['-servername', 'mail.lab.test'] : ['-noservername']),
        '-CAfile',
        s.caFile,
        '-verify_return_error',
        '-verify_hostname',
        'mail.lab.test',
        '-brief',
      ]);
    await setFault(s.dataDir, 'smtp', 'expired');
    for (const [port, starttls] of [[s.submission, true], [s.smtps, false]] as const) {
      for (const sni of [true, false]) {
        const r = await verify(port, starttls, sni);
        expect([port, sni, r.output]).toEqual([port, sni, expect.stringMatching(/certificate has expired/)]);
      }
    }
    await s.logs.waitFor(/ info tls fault on fault=expired/);
    await setFault(s.dataDir, 'smtp', 'wrong-name');
    expect((await verify(s.submission, true, false)).output).toMatch(/hostname mismatch/);
    await setFault(s.dataDir, 'smtp', undefined);
    for (const [port, starttls] of [[s.submission, true], [s.smtps, false]] as const) {
      expect((await verify(port, starttls, true)).output).toContain('Verification: OK');
    }
  });

  test('a client that never finishes its handshake on 465 is dropped after idleTimeoutMs, and logged', async () => {
    const s = await start({ idleTimeoutMs: 300 });
    const c = await RawClient.connect(s.smtps);
    await c.closed();
    await s.logs.waitFor(/ warn tls handshake failed .*code=ERR_TLS_HANDSHAKE_TIMEOUT.*why="the client did not finish its handshake in time"/);
  });
});

test('465 needs the tls option: listen() says so instead of opening a port that cannot speak', async () => {
  const dataDir = await tempDir();
  try {
    const server = new SmtpServer({ dataDir });
    await expect(server.listen({ smtps: 0 })).rejects.toThrow('smtp: the smtps port (465) needs the tls option (the lab CA)');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('cipherBits: the key size from the cipher suite name, as Postfix writes it', () => {
  expect(cipherBits('TLS_AES_256_GCM_SHA384')).toBe('256/256 bits');
  expect(cipherBits('TLS_CHACHA20_POLY1305_SHA256')).toBe('256/256 bits');
  expect(cipherBits('ECDHE-ECDSA-AES128-GCM-SHA256')).toBe('128/128 bits');
  expect(cipherBits('NULL-MD5')).toBe('unknown bits');
});
