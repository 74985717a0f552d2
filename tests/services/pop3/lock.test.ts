/**
 * The maildrop lock (RFC 1939 8): one session per maildrop, -ERR [IN-USE] for a second
 * one, released however a session ends, held across server instances by the lock file,
 * and stale lock files cleared when a server starts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LOCK_FILE } from '../../../services/pop3/lock';
import { message, poplib, pw, rawLogin, session, startPop3, stillServes, tempDir, Wire, type RunningPop3 } from './clients';

const IN_USE = '-ERR [IN-USE] your maildrop is locked by another session; QUIT that one first';

let lab: RunningPop3;

beforeAll(async () => {
  lab = await startPop3({ authFailureDelayMs: 1 });
});

afterAll(async () => {
  await lab.stop();
});

const lockFile = (server: RunningPop3, user: string): string => path.join(server.maildir(user).dir, LOCK_FILE);
const passReply = async (port: number, user: string): Promise<string> => {
  const results = await poplib(port, [['user', user], ['pass_', pw(user)], ['quit']]);
  const pass = results.find((r) => r.op === 'pass_')!;
  return pass.error ?? String(pass.ok);
};

test('a second session gets -ERR [IN-USE]; after QUIT the maildrop is free again', async () => {
  await lab.deliver('alice', message('locked'));
  const { wire, reply } = await rawLogin(lab.port, 'alice');
  expect(reply).toMatch(/^\+OK alice@lab\.test has 1 messages/);

  // While the session holds it, the lock file says who: this process, this host, the connection.
  const info = JSON.parse(await readFile(lockFile(lab, 'alice'), 'utf8')) as Record<string, unknown>;
  expect(info).toEqual({ pid: process.pid, host: os.hostname(), since: expect.any(String), conn: expect.stringMatching(/^c\d+$/) });

  expect(await passReply(lab.port, 'alice')).toBe(IN_USE);
  expect(lab.logs.matching(/ command .*verb=PASS .*reply="-ERR \[IN-USE\].* user=alice locked=true$/)).toHaveLength(1);
  // The holder is not disturbed; other users are not locked out.
  expect(await wire.command('STAT')).toMatch(/^\+OK 1 /);
  expect(await passReply(lab.port, 'bob')).toMatch(/^\+OK bob@lab\.test/);

  expect(await wire.command('QUIT')).toMatch(/^\+OK goodbye/);
  expect(existsSync(lockFile(lab, 'alice'))).toBe(false); // released before the +OK
  expect(await passReply(lab.port, 'alice')).toMatch(/^\+OK alice@lab\.test has 1 messages/);
});

test('released when the connection drops without QUIT', async () => {
  const { wire } = await rawLogin(lab.port, 'bob');
  expect(await passReply(lab.port, 'bob')).toBe(IN_USE);
  const port = wire.localPort;
  wire.destroy();
  expect(await lab.closedLine(port)).toMatch(/reason="client closed the connection" state=TRANSACTION user=bob unlocked=true$/);
  expect(existsSync(lockFile(lab, 'bob'))).toBe(false);
  expect(await passReply(lab.port, 'bob')).toMatch(/^\+OK bob@lab\.test/);
});

test('released by the idle timeout (autologout)', async () => {
  const server = await startPop3({ idleTimeoutMs: 300 });
  try {
    await server.deliver('web', message('idle'));
    const { wire } = await rawLogin(server.port, 'web');
    expect(await wire.command('DELE 1')).toBe('+OK message 1 deleted');
    await wire.closed(); // the server hangs up: no QUIT, so no UPDATE
    expect(await server.closedLine(wire.localPort)).toMatch(/reason="idle timeout \(autologout\)" state=TRANSACTION user=web unlocked=true kept=1$/);
    expect(existsSync(lockFile(server, 'web'))).toBe(false);
    expect(await server.maildir('web').list()).toHaveLength(1);
    await stillServes(server.port, 'web');
  } finally {
    await server.stop();
  }
});

test('released when the server closes; the session gets -ERR [SYS/TEMP] and nothing is deleted', async () => {
  const server = await startPop3();
  await server.deliver('dan', message('kept'));
  const { wire } = await rawLogin(server.port, 'dan');
  expect(await wire.command('DELE 1')).toBe('+OK message 1 deleted');
  await server.stop(); // keeps nothing running; the data directory is removed after, so look now:
  expect(await wire.rest()).toBe('-ERR [SYS/TEMP] server shutting down\r\n');
  expect(server.logs.matching(/ closed .*reason="server shutting down" state=TRANSACTION user=dan unlocked=true kept=1$/)).toHaveLength(1);
});

test('the lock holds across two server instances on the same data directory (the lock file)', async () => {
  const other = await startPop3({ dataDir: lab.dataDir });
  try {
    const { wire } = await rawLogin(lab.port, 'erin');
    expect(await passReply(other.port, 'erin')).toBe(IN_USE);
    // Starting yet another server does not clear a lock a live session holds.
    const third = await startPop3({ dataDir: lab.dataDir });
    expect(await passReply(third.port, 'erin')).toBe(IN_USE);
    await third.stop();
    await wire.command('QUIT');
    expect(await passReply(other.port, 'erin')).toMatch(/^\+OK erin@lab\.test/);
  } finally {
    await other.stop();
  }
});

test("a lock file of another live process is respected, at login and at start; removing it frees the maildrop", async () => {
  const dataDir = await tempDir();
  const first = await startPop3({ dataDir });
  try {
    await first.maildir('frank').create();
    const live = { pid: process.ppid, host: os.hostname(), since: new Date().toISOString(), conn: 'elsewhere' };
    await writeFile(lockFile(first, 'frank'), JSON.stringify(live));
    expect(await passReply(first.port, 'frank')).toBe(IN_USE);
    const restarted = await startPop3({ dataDir });
    try {
      expect(restarted.logs.matching(/stale lock removed/)).toEqual([]);
      expect(await passReply(restarted.port, 'frank')).toBe(IN_USE);
      await rm(lockFile(first, 'frank'));
      expect(await passReply(restarted.port, 'frank')).toMatch(/^\+OK frank@lab\.test/);
    } finally {
      await restarted.stop();
    }
  } finally {
    await first.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('stale lock files (a dead process, another host, unreadable) are cleared when the server starts', async () => {
  const dataDir = await tempDir();
  const before = await startPop3({ dataDir });
  const dead = spawnSync('true').pid!; // a process that has ended
  const since = new Date().toISOString();
  for (const user of ['grace', 'heidi', 'dan']) await before.maildir(user).create();
  await writeFile(lockFile(before, 'grace'), JSON.stringify({ pid: dead, host: os.hostname(), since }));
  await writeFile(lockFile(before, 'heidi'), JSON.stringify({ pid: 1, host: 'an-old-container', since }));
  await writeFile(lockFile(before, 'dan'), 'half writ');
  // A running server respects what it cannot prove stale (another host, unreadable)...
  expect(await passReply(before.port, 'heidi')).toBe(IN_USE);
  expect(await passReply(before.port, 'dan')).toBe(IN_USE);
  await before.stop();

  // ...and a server that starts clears all three: in the lab, one POP3 server serves a domain.
  const after = await startPop3({ dataDir });
  try {
    const removed = after.logs.matching(/ warn stale lock removed /);
    expect(removed).toHaveLength(3);
    expect(removed.join('\n')).toContain(`user=grace holder="pid ${dead} on ${os.hostname()} since ${since}"`);
    expect(removed.join('\n')).toContain(`user=heidi holder="pid 1 on an-old-container since ${since}"`);
    expect(removed.join('\n')).toContain('user=dan holder=unreadable');
    for (const user of ['grace', 'heidi', 'dan']) expect(await passReply(after.port, user)).toMatch(new RegExp(`^\\+OK ${user}@lab\\.test`));
  } finally {
    await after.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a lock left by a process of this host that has ended does not lock anyone out, even before a restart', async () => {
  await lab.maildir('heidi').create();
  await writeFile(lockFile(lab, 'heidi'), JSON.stringify({ pid: spawnSync('true').pid, host: os.hostname(), since: new Date().toISOString() }));
  const { wire, reply } = await rawLogin(lab.port, 'heidi');
  expect(reply).toMatch(/^\+OK heidi@lab\.test/);
  expect(JSON.parse(await readFile(lockFile(lab, 'heidi'), 'utf8'))).toMatchObject({ pid: process.pid });
  await wire.command('QUIT');
});

test('delivery does not wait for the lock: mail arrives during a session and shows in the next', async () => {
  const { wire } = await rawLogin(lab.port, 'grace');
  await lab.deliver('grace', message('while locked'));
  expect(await wire.command('STAT')).toBe('+OK 0 0');
  await wire.command('QUIT');
  const results = await session(lab.port, 'grace', [['stat']]);
  expect(results.find((r) => r.op === 'stat')!.ok).toEqual([1, expect.any(Number)]);
});

test('a raw session that logs in twice on one connection: the second USER is refused, the lock is still one', async () => {
  const { wire } = await rawLogin(lab.port, 'web');
  expect(await wire.command('USER web')).toBe('-ERR USER is for before login, and you are logged in');
  expect(await wire.command(`PASS ${pw('web')}`)).toBe('-ERR PASS is for before login, and you are logged in');
  expect(await wire.command('QUIT')).toMatch(/^\+OK/);
  await stillServes(lab.port);
});

test('a Wire that never logs in holds no lock', async () => {
  const { wire } = await Wire.open(lab.port);
  await wire.command('USER alice');
  expect(await passReply(lab.port, 'alice')).toMatch(/^\+OK alice@lab\.test/);
  wire.destroy();
});
