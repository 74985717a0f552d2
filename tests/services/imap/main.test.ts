/**
 * IMAP as its container runs it (dist/services/imap/main.js): the lab CA's certificate
 * for mail.lab.test on both ports (STARTTLS on IMAP_PORT, TLS from the first byte on
 * IMAPS_PORT), the plain-text lesson on by default and off with IMAP_PLAINTEXT_LOGIN=no,
 * its certificate lesson switched by `main.js tls-fault imap ...` (as `lab: tls-fault`
 * does in Docker), and SIGTERM closing it cleanly.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { caCertificateFile } from '../../../services/common/tlsFaults';
import { built } from '../../helpers/paths';
import { spawnMain, type Child } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { run } from '../../helpers/tls';

/** The listening line: the plain port, then the IMAPS port. */
const LISTENING = /^imap for lab\.test listening on 127\.0\.0\.1:(\d+) and 127\.0\.0\.1:(\d+) \(IMAPS\), users from .*users\.yaml$/;

let dataDir: string;
let child: Child | undefined;
beforeEach(async () => (dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-imap-main-'))));
afterEach(async () => {
  await child?.stop('SIGKILL');
  child = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<{ imap: number; imaps: number; ca: string }> {
  child = spawnMain('imap', { WIRELAB_DATA: dataDir, WIRELAB_LOG_LEVEL: 'info', IMAPS_PORT: '0', ...env });
  const [, imap, imaps] = await child.waitFor(LISTENING, { ms: 30_000 }); // the first start makes the lab CA
  return { imap: Number(imap), imaps: Number(imaps), ca: caCertificateFile(dataDir) };
}

/** openssl s_client, checking the certificate as a mail client would: the lab CA, the name mail.lab.test. */
function sClient(port: number, ca: string, input: string, starttls: boolean): ReturnType<typeof run> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'mail.lab.test', '-CAfile', ca, '-verify_return_error', '-verify_hostname', 'mail.lab.test', '-crlf', '-quiet', '-ign_eof'];
  return run('openssl', starttls ? [...args, '-starttls', 'imap'] : args, { input });
}

test('both ports present the lab CA\'s certificate for mail.lab.test; LOGIN in clear on the plain port (the lesson); SIGTERM exits 0', async () => {
  const { imap, imaps, ca } = await start();
  const upgraded = await sClient(imap, ca, 'a LOGIN bob bob\nb LOGOUT\n', true);
  expect(upgraded.stderr).not.toMatch(/verify error/);
  expect(upgraded.stdout).toContain('a OK [CAPABILITY');
  const implicit = await sClient(imaps, ca, 'a LOGIN bob bob\nb LOGOUT\n', false);
  expect(implicit.stdout).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN /m);
  expect(implicit.stdout).toContain('a OK [CAPABILITY');
  const clear = await run('curl', ['-sS', '-u', 'bob:bob', `imap://127.0.0.1:${imap}/`]);
  expect(clear.stdout).toContain('INBOX');
  expect(await child!.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  expect(child!.stderr).toMatch(/ imap info listening .*starttls=true plaintextLogin=true/);
  expect(child!.stderr).toMatch(/ imap info listening .*tls=implicit/);
});

test('IMAP_PLAINTEXT_LOGIN=no: LOGINDISABLED and NO [PRIVACYREQUIRED] before STARTTLS', async () => {
  const { imap } = await start({ IMAP_PLAINTEXT_LOGIN: 'no' });
  const client = await RawSocket.connect(imap);
  client.write('a LOGIN bob bob\r\nb LOGOUT\r\n');
  const stdout = await client.rest();
  expect(stdout).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED /);
  expect(stdout).toContain('a NO [PRIVACYREQUIRED] login in plain text is not allowed: use STARTTLS first (or port 993)\r\n');
});

test('main.js tls-fault imap expired: the next connection gets the expired certificate; none puts it right', async () => {
  const { imaps, ca } = await start();
  const fault = (word: string) => run('node', [built('services/main.js'), 'tls-fault', 'imap', word], { env: { ...process.env, WIRELAB_DATA: dataDir } });
  expect((await fault('expired')).stdout).toBe('imap: tls fault expired\n');
  const expired = await run('curl', ['-sS', '--cacert', ca, '-u', 'bob:bob', `imaps://localhost:${imaps}/`]);
  expect(expired.code).toBe(60);
  expect(expired.stderr).toMatch(/certificate has expired/);
  await child!.waitFor(/ imap info tls fault on fault=expired/);
  expect((await fault('none')).stdout).toBe('imap: tls fault none\n');
  expect((await run('curl', ['-sS', '--cacert', ca, '-u', 'bob:bob', `imaps://localhost:${imaps}/`])).code).toBe(0);
});
