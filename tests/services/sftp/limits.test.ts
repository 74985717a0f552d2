/**
 * Limits and status codes, driven with ssh2's Client (it reports the exact SFTP status
 * code, and can send what OpenSSH never would): auth attempts and their delay, a forged
 * signature, login grace, connections, sessions per connection, open handles, the READ
 * cap, the idle timeout, a client vanishing mid-transfer, and the status of each failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { utils, type ParsedKey } from 'ssh2';
import { createLogger, silentSink } from '../../../services/common/logger';
import { PortInUseError } from '../../../services/common/listen';
import { SFTP_SERVER_DEFAULTS, SftpServer } from '../../../services/sftp/server';
import { LAB_DIR } from '../../helpers/paths';
import { RawSocket } from '../../helpers/socket';
import { call, clientClosed, closeClient, connect, openSftp, sftpBatch, sftpSession, startSftp, STATUS, statusOf, stillServes, type RunningSftp } from './clients';

test('the documented defaults', () => {
  expect(SFTP_SERVER_DEFAULTS).toEqual({
    maxAuthAttempts: 6,
    authFailureDelayMs: 500,
    loginGraceMs: 30000,
    maxOpenHandles: 64,
    maxSessionsPerConnection: 2,
    maxConnections: 50,
    maxConnectionsPerAddress: 10,
    maxAuthFailuresPerAddress: 10,
    authCooldownMs: 60000,
    maxReadBytes: 261120,
    idleTimeoutMs: 1800000,
    closeGraceMs: 10000,
  });
});

test('options are checked', () => {
  const log = createLogger('sftp', { sink: silentSink });
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  expect(() => new SftpServer({ log, hostKey, maxOpenHandles: 0 })).toThrow(/sftp: maxOpenHandles must be a whole number, at least 1; got 0/);
  expect(() => new SftpServer({ log, hostKey, maxReadBytes: 1024 * 1024 })).toThrow(/maxReadBytes must be a whole number from 1 to 261120/);
  expect(() => new SftpServer({ log, hostKey, loginGraceMs: 1.5 })).toThrow(RangeError);
  expect(() => new SftpServer({ log, hostKey: 'not a key' })).toThrow(/cannot read the SSH host key/);
  expect(() => new SftpServer({ log, hostKey, authorizedKeys: { alice: 'ssh-ed25519 garbage' } })).toThrow(/public keys of alice:1: not an SSH public key/);
});

test('fromLab refuses a data directory inside lab/', async () => {
  await expect(SftpServer.fromLab(LAB_DIR, path.join(LAB_DIR, 'data'))).rejects.toThrow(/inside the lab directory/);
});

describe('authentication', () => {
  let lab: RunningSftp;
  beforeAll(async () => {
    lab = await startSftp({ authFailureDelayMs: 1 });
  });
  afterAll(async () => {
    await lab.stop();
  });

  test('maxAuthAttempts (default 6): the sixth failure is answered with a disconnect', async () => {
    let attempts = 0;
    const error = await connect(lab.port, {
      user: 'alice',
      authHandler: (_methods, _partial, next) => next({ type: 'password', username: 'alice', password: `guess-${++attempts}` }),
    }).then(() => undefined, (e: Error) => e);
    expect(error).toBeDefined();
    await lab.logs.waitFor(/ closed .*reason="too many authentication failures" authFailures=6$/);
    const failures = lab.logs.matching(/ warn auth failed .*method=password user=alice .*failures=\d/).map((l) => Number(/failures=(\d+)/.exec(l)![1]));
    expect(failures).toEqual([1, 2, 3, 4, 5, 6]);
    // each one delayed before its answer: the 1 ms this server is set to, times the failures of the address
    expect(lab.logs.matching(/ warn auth failed .*method=password user=alice .*failures=\d/).map((l) => /fromAddress=(\d+) delayMs=(\d+)$/.exec(l)?.slice(1).join('x'))).toEqual(['1x1', '2x2', '3x3', '4x4', '5x5', '6x6']); // the delay grows with the address's failures
    expect(attempts).toBe(6); // no USERAUTH_FAILURE for the sixth, so no seventh try: the disconnect came instead
    expect(lab.logs.lines.some((l) => l.includes('guess-'))).toBe(false); // never a password in the log
    await stillServes(lab); // the count is per connection
  });

  test('a forged signature with the right public key is refused (the signature is verified)', async () => {
    const key = utils.parseKey(readFileSync(path.join(LAB_DIR, 'keys', 'alice'))) as ParsedKey;
    key.sign = () => Buffer.alloc(64, 7); // what a client without the private key could send
    let tries = 0;
    const error = await connect(lab.port, {
      user: 'alice',
      authHandler: (_m, _p, next) => next(tries++ === 0 ? { type: 'publickey', username: 'alice', key } : (false as never)),
    }).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/authentication methods failed/);
    // The probe was answered "key ok" (PK_OK), then the signed request failed.
    await lab.logs.waitFor(/ info auth .*method=publickey user=alice key=SHA256:\S+ result="key accepted, waiting for the signature"/);
    await lab.logs.waitFor(/ warn auth failed .*method=publickey user=alice key=SHA256:\S+ reason="the signature does not verify" address=127\.0\.0\.1 failures=1 /);
  });

  test('an unknown user, and a method not offered (keyboard-interactive), fail like a wrong password', async () => {
    const unknown = await connect(lab.port, { user: 'mallory', password: 'mallory' }).then(() => undefined, (e: Error) => e);
    expect(unknown?.message).toMatch(/authentication methods failed/);
    await lab.logs.waitFor(/ warn auth failed .*method=password user=mallory reason="wrong user name or password"/);
    let tries = 0;
    const keyboard = await connect(lab.port, {
      user: 'alice',
      authHandler: (_m, _p, next) => next(tries++ === 0 ? { type: 'keyboard-interactive', username: 'alice', prompt: () => {} } : (false as never)),
    }).then(() => undefined, (e: Error) => e);
    expect(keyboard).toBeDefined();
    await lab.logs.waitFor(/ warn auth failed .*method=keyboard-interactive user=alice reason="method not offered" address=127\.0\.0\.1 failures=1 delayMs=0/);
  });
});

test('authFailureDelayMs: a wrong password is answered late, and other clients are served meanwhile', async () => {
  const lab = await startSftp({ authFailureDelayMs: 60_000 }); // longer than the test: the order is what counts
  try {
    let answered = false;
    const slow = connect(lab.port, { user: 'alice', password: 'wrong' }).then(
      () => 'logged in',
      (e: Error) => ((answered = true), e.message),
    );
    await lab.logs.waitFor(/ warn auth failed .*user=alice .*failures=1 fromAddress=1 delayMs=60000$/);
    // While that answer waits, a whole session runs on another connection.
    const { client, sftp } = await sftpSession(lab.port, { key: 'bob' });
    expect((await call<{ filename: string }[]>((cb) => sftp.readdir('/', cb))).map((e) => e.filename)).toContain('todo.txt');
    await closeClient(client);
    await lab.logs.waitFor(/ closed .*user=bob$/);
    expect(answered).toBe(false);
    // The log tells the same order: alice failed first, bob logged in and finished, alice still waits.
    const order = lab.logs.lines.map((l) => (/auth failed .*user=alice/.test(l) ? 'alice failed' : /auth .*user=bob .*logged in/.test(l) ? 'bob in' : /closed .*user=bob/.test(l) ? 'bob closed' : '')).filter(Boolean);
    expect(order).toEqual(['alice failed', 'bob in', 'bob closed']);
    // The waiting client gives up: its connection closes and the pending answer is dropped.
    const logLines = lab.logs.lines.length;
    await lab.server.close();
    expect(await slow).not.toBe('logged in');
    expect(lab.logs.lines.slice(logLines).some((l) => / closed .*reason="server shutting down" authFailures=1$/.test(l))).toBe(true);
  } finally {
    await lab.stop();
  }
});

test('loginGraceMs: a connection that never logs in is closed', async () => {
  const lab = await startSftp({ loginGraceMs: 150 });
  try {
    const socket = await RawSocket.connect(lab.port);
    expect(await socket.rest()).toMatch(/^SSH-2\.0-wirelab\r\n/); // the server's version line, then nothing but the close
    await lab.logs.waitFor(/ warn login grace time over .*limitMs=150$/);
    await lab.logs.waitFor(/ closed .*reason="not logged in in time"$/);
    // One that logs in in time is not cut: a session after the grace time would have passed.
    const { client, sftp } = await sftpSession(lab.port);
    const stats = await call<{ size: number }>((cb) => sftp.stat('/notes.txt', cb));
    expect(stats.size).toBeGreaterThan(0);
    await closeClient(client);
  } finally {
    await lab.stop();
  }
});

test('maxConnections: one more is told so and closed before the handshake', async () => {
  const lab = await startSftp({ maxConnections: 2 });
  const held: RawSocket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const socket = await RawSocket.connect(lab.port);
      await socket.readLine(); // the server's version line: it has taken the connection
      held.push(socket);
    }
    await lab.logs.waitFor(/ info connected /, { count: 2 });
    const extra = await RawSocket.connect(lab.port);
    expect(await extra.rest()).toBe('wirelab sftp: too many connections (2); try again later\r\n');
    await lab.logs.waitFor(/ warn connection refused .*reason="too many connections" limit=2$/);
    // A place frees up: the next client is served.
    held.pop()!.destroy();
    await lab.logs.waitFor(/ closed .*reason="client closed the connection"$/);
    await stillServes(lab);
  } finally {
    for (const socket of held) socket.destroy();
    await lab.stop();
  }
});

describe('one logged-in connection', () => {
  let lab: RunningSftp;
  beforeAll(async () => {
    lab = await startSftp({ maxOpenHandles: 3, maxReadBytes: 1000 });
    await writeFile(path.join(lab.home('alice'), 'five-k.bin'), Buffer.alloc(5000, 0x41));
  });
  afterAll(async () => {
    await lab.stop();
  });

  test('maxSessionsPerConnection (default 2): a third SFTP channel is refused; after one closes there is room', async () => {
    const client = await connect(lab.port);
    try {
      const first = await openSftp(client);
      await openSftp(client);
      await expect(openSftp(client)).rejects.toThrow(/Channel open failure/);
      await lab.logs.waitFor(/ warn session refused .*reason="too many sessions" limit=2$/);
      first.end();
      await lab.logs.waitFor(/ sftp session closed /);
      const again = await openSftp(client);
      expect(await call<string>((cb) => again.realpath('.', cb))).toBe('/');
    } finally {
      await closeClient(client);
    }
  });

  test('maxOpenHandles: one more OPEN or OPENDIR gets FAILURE and creates nothing; CLOSE frees a place', async () => {
    const { client, sftp } = await sftpSession(lab.port);
    try {
      const handles: Buffer[] = [];
      for (const name of ['a.txt', 'b.txt', 'c.txt']) handles.push(await call<Buffer>((cb) => sftp.open(name, 'w', cb)));
      const refused = call<Buffer>((cb) => sftp.open('d.txt', 'w', cb));
      await expect(refused).rejects.toMatchObject({ code: STATUS.FAILURE, message: expect.stringMatching(/too many open handles \(at most 3\)/) });
      expect(existsSync(path.join(lab.home('alice'), 'd.txt'))).toBe(false);
      expect(await statusOf(call((cb) => sftp.opendir('/', cb)))).toBe(STATUS.FAILURE);
      await call((cb) => sftp.close(handles.pop()!, cb));
      handles.push(await call<Buffer>((cb) => sftp.open('d.txt', 'w', cb)));
      for (const h of handles) await call((cb) => sftp.close(h, cb));
    } finally {
      await closeClient(client);
    }
  });

  test('maxReadBytes: a bigger READ gets a short read of at most the cap', async () => {
    const { client, sftp } = await sftpSession(lab.port);
    try {
      const handle = await call<Buffer>((cb) => sftp.open('five-k.bin', 'r', cb));
      const buffer = Buffer.alloc(5000);
      const bytesRead = await call<number>((cb) => sftp.read(handle, buffer, 0, 5000, 0, (err, n) => cb(err, n)));
      expect(bytesRead).toBe(1000);
      await call((cb) => sftp.close(handle, cb));
      // The whole file still arrives, in more requests.
      const whole = await call<Buffer>((cb) => sftp.readFile('five-k.bin', cb));
      expect(whole.equals(Buffer.alloc(5000, 0x41))).toBe(true);
    } finally {
      await closeClient(client);
    }
  });

  test('status codes: NO_SUCH_FILE, PERMISSION_DENIED, FAILURE, OP_UNSUPPORTED, EOF', async () => {
    const { client, sftp } = await sftpSession(lab.port);
    const s = (fn: Parameters<typeof call>[0]): Promise<number> => statusOf(call(fn));
    try {
      expect(await s((cb) => sftp.stat('/missing.txt', cb))).toBe(STATUS.NO_SUCH_FILE);
      expect(await s((cb) => sftp.open('/missing/x.txt', 'r', cb))).toBe(STATUS.NO_SUCH_FILE);
      expect(await s((cb) => sftp.opendir('/notes.txt', cb))).toBe(STATUS.NO_SUCH_FILE); // not a folder
      expect(await s((cb) => sftp.mkdir('/notes.txt', cb))).toBe(STATUS.FAILURE); // exists
      expect(await s((cb) => sftp.mkdir('/no/such/parent', cb))).toBe(STATUS.NO_SUCH_FILE);
      await call((cb) => sftp.mkdir('/full', cb));
      await call((cb) => sftp.writeFile('/full/x.txt', 'x', cb));
      expect(await s((cb) => sftp.rmdir('/full', cb))).toBe(STATUS.FAILURE); // not empty
      expect(await s((cb) => sftp.unlink('/full', cb))).toBe(STATUS.FAILURE); // a folder
      expect(await s((cb) => sftp.rmdir('/', cb))).toBe(STATUS.PERMISSION_DENIED); // the home itself
      expect(await s((cb) => sftp.unlink('/', cb))).toBe(STATUS.PERMISSION_DENIED);
      expect(await s((cb) => sftp.rename('/', '/elsewhere', cb))).toBe(STATUS.PERMISSION_DENIED);
      expect(await s((cb) => sftp.rename('/full/x.txt', '/notes.txt', cb))).toBe(STATUS.FAILURE); // the target exists
      expect(await s((cb) => sftp.open('/full', 'r', cb))).toBe(STATUS.FAILURE); // a folder is not a file
      expect(await s((cb) => sftp.readlink('/notes.txt', cb))).toBe(STATUS.FAILURE); // not a link
      expect(await s((cb) => sftp.setstat('/notes.txt', { uid: 0, gid: 0 }, cb))).toBe(STATUS.OP_UNSUPPORTED); // chown
      const writeOnly = await call<Buffer>((cb) => sftp.open('/full/x.txt', 'a', cb));
      expect(await s((cb) => sftp.read(writeOnly, Buffer.alloc(10), 0, 10, 0, cb))).toBe(STATUS.PERMISSION_DENIED);
      await call((cb) => sftp.close(writeOnly, cb));
      expect(await s((cb) => sftp.close(writeOnly, cb))).toBe(STATUS.FAILURE); // closed already
      expect(await s((cb) => sftp.read(Buffer.from('bogus-handle'), Buffer.alloc(10), 0, 10, 0, cb))).toBe(STATUS.FAILURE);
      // EOF: ssh2 turns it into a read of 0 bytes.
      const handle = await call<Buffer>((cb) => sftp.open('/full/x.txt', 'r', cb));
      const n = await call<number>((cb) => sftp.read(handle, Buffer.alloc(10), 0, 10, 100, (err, got) => cb(err, got)));
      expect(n).toBe(0);
      await lab.logs.waitFor(/ request .*op=READ path=\/full\/x\.txt offset=100 .*status=EOF$/);
      await call((cb) => sftp.close(handle, cb));
      // SETSTAT: mode and times.
      await call((cb) => sftp.setstat('/full/x.txt', { mode: 0o4755, mtime: 1_000_000_000, atime: 1_000_000_000 }, cb));
      const stats = await call<{ mode: number; mtime: number }>((cb) => sftp.stat('/full/x.txt', cb));
      expect(stats.mode & 0o7777).toBe(0o755); // no setuid bit on the lab's disk
      expect(stats.mtime).toBe(1_000_000_000);
      expect(await call<string>((cb) => sftp.realpath('/../../full/./x.txt', cb))).toBe('/full/x.txt');
    } finally {
      await closeClient(client);
    }
  });

  test('a client that vanishes mid-upload: its open files are closed', async () => {
    const { client, sftp } = await sftpSession(lab.port);
    const handle = await call<Buffer>((cb) => sftp.open('/partial.bin', 'w', cb));
    await call((cb) => sftp.write(handle, Buffer.alloc(1000, 1), 0, 1000, 0, cb));
    const reading = await call<Buffer>((cb) => sftp.open('/five-k.bin', 'r', cb));
    expect(reading.length).toBe(4);
    client.destroy(); // no CLOSE, no channel close, no disconnect: the TCP connection just drops
    await lab.logs.waitFor(/ sftp session closed .*closedHandles=2$/);
    // No descriptor of this process still points at those files.
    const fds = await readdir('/proc/self/fd');
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    expect(targets.filter((t) => t.endsWith('partial.bin') || t.endsWith('five-k.bin'))).toEqual([]);
    await stillServes(lab);
  });
});

test('idleTimeoutMs: a logged-in connection with no requests is closed', async () => {
  const lab = await startSftp({ idleTimeoutMs: 200 });
  try {
    const { client } = await sftpSession(lab.port);
    await clientClosed(client);
    await lab.logs.waitFor(/ info idle timeout .*limitMs=200$/);
    await lab.logs.waitFor(/ closed .*reason="idle timeout" user=alice$/);
  } finally {
    await lab.stop();
  }
});

test('a port in use is explained', async () => {
  const lab = await startSftp();
  try {
    const second = new SftpServer({ log: createLogger('sftp', { sink: silentSink }), dataDir: lab.dataDir });
    await expect(second.listen(lab.port)).rejects.toThrow(PortInUseError);
  } finally {
    await lab.stop();
  }
});

describe('compression only after login (zlib@openssh.com, as OpenSSH offers it)', () => {
  let lab: RunningSftp;
  beforeAll(async () => {
    lab = await startSftp();
  });
  afterAll(async () => {
    await lab?.stop();
  });

  test('a client that offers only plain zlib (compression before authentication) is refused at the key exchange', async () => {
    await expect(connect(lab.port, { key: 'alice', algorithms: { compress: ['zlib'] } })).rejects.toThrow(/compression/i);
    await stillServes(lab);
  });

  test('zlib@openssh.com is taken, and a file goes through compressed after login', async () => {
    const { client, sftp } = await sftpSession(lab.port, { key: 'alice', algorithms: { compress: ['zlib@openssh.com'] } });
    try {
      const text = 'compressed after login\n'.repeat(200);
      await call<void>((cb) => sftp.writeFile('zlib.txt', text, cb));
      expect(await call<Buffer>((cb) => sftp.readFile('zlib.txt', cb))).toEqual(Buffer.from(text));
    } finally {
      await closeClient(client);
    }
  });

  test('compressed connections that go away, cleanly or cut, do not take the server down', async () => {
    // ssh2's compressor throws when a channel is closed after its connection (session.ts catches it).
    for (let i = 0; i < 20; i++) {
      const { client, sftp } = await sftpSession(lab.port, { key: 'alice', algorithms: { compress: ['zlib@openssh.com'] } });
      await call<void>((cb) => sftp.writeFile(`z${i}.txt`, 'x'.repeat(5000), cb));
      if (i % 2) client.destroy();
      else await closeClient(client);
    }
    await stillServes(lab);
  });

  test('OpenSSH with Compression=yes negotiates zlib@openssh.com', async () => {
    const result = await sftpBatch(lab, ['pwd'], { options: ['-o', 'LogLevel=DEBUG1', '-o', 'Compression=yes'] });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/compression: zlib@openssh\.com/);
  });
});
