/**
 * The SMTP service as a process (dist/services/smtp/main.js, as the container runs it):
 * mail answered with 250 is in the Maildir even when the process is killed with
 * SIGKILL the moment that reply arrives; SIGTERM closes it cleanly; bad settings stop
 * it with a message.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { maildirPath } from '../../../services/common/maildir';
import { spawnMain, startMain } from '../../helpers/process';
import { inbox, RawClient, tempDir } from './harness';

/** No submission port, no SMTPS port, and a lab DNS that is not there (nothing here relays). */
const ENV = { SUBMISSION_PORT: '', SMTPS_PORT: '', LAB_DNS: '127.0.0.1:9' };

test('SIGKILL the moment the 250 after DATA arrives: every message answered 250 is in new/, whole', async () => {
  const dataDir = await tempDir();
  // Port 0: the process picks a free port and says which in its listening line (no race
  // with another test for a port that was free a moment ago).
  const { child, port } = await startMain('smtp', { ...ENV, WIRELAB_DATA: dataDir }, { ready: /^smtp mail\.lab\.test for @lab\.test listening on 127\.0\.0\.1:(\d+) \(smtp\)$/ });
  try {
    const c = await RawClient.connect(port);
    await c.expect(/^220 /);
    await c.command('EHLO raw.lab.test');
    const body = Array.from({ length: 4000 }, (_, i) => `line ${i}: some text to make the message big enough to take a moment`).join('\r\n');
    for (let n = 1; n <= 3; n++) {
      expect(await c.command('MAIL FROM:<raw@example.test>')).toBe('250 2.1.0 Accepted');
      expect(await c.command('RCPT TO:<bob@lab.test>')).toBe('250 2.1.5 Accepted');
      expect(await c.command('RCPT TO:<alice@lab.test>')).toBe('250 2.1.5 Accepted');
      expect(await c.command('DATA')).toMatch(/^354 /);
      c.write(`Subject: number ${n}\r\n\r\n${body}\r\nend of ${n}\r\n.\r\n`);
      const reply = await c.expect(/^\d{3} /);
      if (n === 3) child.process.kill('SIGKILL'); // at once, before anything else can run
      expect(reply).toMatch(/^250 2\.0\.0 Ok: delivered as/);
    }
    expect(await child.exit()).toEqual({ code: null, signal: 'SIGKILL' });
    c.destroy();
    for (const user of ['bob', 'alice']) {
      const messages = await inbox(dataDir, 'lab.test', user);
      expect(messages).toHaveLength(3);
      messages.forEach((m, i) => {
        expect(m).toContain(`Subject: number ${i + 1}\r\n`);
        expect(m.endsWith(`${body}\r\nend of ${i + 1}\r\n`)).toBe(true);
      });
      expect(await readdir(path.join(maildirPath(dataDir, 'lab.test', user), 'tmp'))).toEqual([]);
    }
  } finally {
    await child.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('SIGTERM: the server closes and the process exits 0', async () => {
  const dataDir = await tempDir();
  const env = { ...ENV, WIRELAB_DATA: dataDir, SUBMISSION_PORT: '0', MAIL_DOMAIN: 'example.test', MAIL_HOSTNAME: 'mx.example.test' };
  const { child } = await startMain('smtp', env, { ready: / listening on 127\.0\.0\.1:(\d+) \(smtp\)/ });
  try {
    expect(child.stdout).toMatch(/^smtp mx\.example\.test for @example\.test listening on 127\.0\.0\.1:\d+ \(smtp\), 127\.0\.0\.1:\d+ \(submission\)\n$/);
    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(child.stderr).toMatch(/ smtp info shutting down signal=SIGTERM/);
  } finally {
    await child.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.each([
  [{ SMTP_PORT: 'twenty-five' }, /^smtp: SMTP_PORT must be a port number \(0-65535\) or empty, got "twenty-five"\n$/],
  [{ LAB_DNS: 'ns.lab.test' }, /^smtp: LAB_DNS must be host:port, got "ns\.lab\.test"\n$/],
])('bad settings %j: exit 1 with a message', async (env, message) => {
  const dataDir = await tempDir();
  const child = spawnMain('smtp', { ...ENV, WIRELAB_DATA: dataDir, ...env });
  try {
    expect(await child.exit()).toEqual({ code: 1, signal: null });
    expect(child.stderr).toMatch(message);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
