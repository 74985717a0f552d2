/**
 * The SMTP service as a process (dist/services/smtp/main.js, as the container runs it):
 * mail answered with 250 is in the Maildir even when the process is killed with
 * SIGKILL the moment that reply arrives; SIGTERM closes it cleanly; bad settings stop
 * it with a message.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { maildirPath } from '../../services/common/maildir';
import { inbox, LAB, RawClient, REPO, tempDir, within } from './smtp-harness';

const MAIN = path.join(REPO, 'dist', 'services', 'smtp', 'main.js');

beforeAll(async () => {
  // `npm test` builds first, but a plain `npx jest` may find dist/ missing or older than
  // the sources. The build is incremental: when dist/ is current it writes nothing.
  const output = await new Promise<string>((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO }, (_err, stdout, stderr) => resolve(stdout + stderr));
  });
  // tsc writes its output even when some file has a type error (the type check is npm test's job).
  if (!existsSync(MAIN)) throw new Error(`could not build ${MAIN}:\n${output}`);
}, 120_000);

interface Started {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', WIRELAB_LAB: LAB, SMTP_HOST: '127.0.0.1', SUBMISSION_PORT: '', SMTPS_PORT: '', LAB_DNS: '127.0.0.1:9', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const started: Started = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout!.on('data', (chunk: Buffer) => (started.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (started.stderr += chunk.toString()));
  return started;
}

/** Resolves when the process has printed its listening line. */
function listening(p: Started): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      const look = (): void => {
        if (/ listening on /.test(p.stdout)) resolve();
      };
      p.child.stdout!.on('data', look);
      void p.exited.then(() => reject(new Error(`exited before listening: ${p.stderr}`)));
      look();
    }),
    15000,
    `the listening line (stderr so far: ${p.stderr})`,
  );
}

test('SIGKILL the moment the 250 after DATA arrives: every message answered 250 is in new/, whole', async () => {
  const dataDir = await tempDir();
  // Port 0: the process picks a free port and says which in its listening line (no race
  // with another test for a port that was free a moment ago).
  const p = start({ WIRELAB_DATA: dataDir, SMTP_PORT: '0' });
  try {
    await listening(p);
    const port = Number(/^smtp mail\.lab\.test for @lab\.test listening on 127\.0\.0\.1:(\d+) \(smtp\)\n$/.exec(p.stdout)?.[1]);
    expect(port).toBeGreaterThan(0);
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
      if (n === 3) p.child.kill('SIGKILL'); // at once, before anything else can run
      expect(reply).toMatch(/^250 2\.0\.0 Ok: delivered as/);
    }
    expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
    c.close();
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
    p.child.kill('SIGKILL');
    await p.exited;
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('SIGTERM: the server closes and the process exits 0', async () => {
  const dataDir = await tempDir();
  const p = start({ WIRELAB_DATA: dataDir, SMTP_PORT: '0', SUBMISSION_PORT: '0', MAIL_DOMAIN: 'example.test', MAIL_HOSTNAME: 'mx.example.test' });
  try {
    await listening(p);
    expect(p.stdout).toMatch(/^smtp mx\.example\.test for @example\.test listening on 127\.0\.0\.1:\d+ \(smtp\), 127\.0\.0\.1:\d+ \(submission\)\n$/);
    p.child.kill('SIGTERM');
    expect(await within(p.exited, 10000, 'the process to exit')).toEqual({ code: 0, signal: null });
    expect(p.stderr).toMatch(/ smtp info shutting down signal=SIGTERM/);
  } finally {
    p.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.each([
  [{ SMTP_PORT: 'twenty-five' }, /^smtp: SMTP_PORT must be a port number \(0-65535\) or empty, got "twenty-five"\n$/],
  [{ LAB_DNS: 'ns.lab.test' }, /^smtp: LAB_DNS must be host:port, got "ns\.lab\.test"\n$/],
])('bad settings %j: exit 1 with a message', async (env, message) => {
  const dataDir = await tempDir();
  const p = start({ WIRELAB_DATA: dataDir, SMTP_PORT: '0', ...env });
  try {
    expect(await within(p.exited, 10000, 'the process to exit')).toEqual({ code: 1, signal: null });
    expect(p.stderr).toMatch(message);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
