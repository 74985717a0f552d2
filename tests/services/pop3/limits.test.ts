/**
 * Limits and bad input: failed logins (delayed, counted, closed), overlong lines, the
 * idle timeout, too many connections, option checks, a broken maildrop, close().
 * After each bad case the server still serves the next client.
 */
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PortInUseError } from '../../../services/common/listen';
import { createLogger, silentSink } from '../../../services/common/logger';
import { POP3_SERVER_DEFAULTS, Pop3Server } from '../../../services/pop3/server';
import { listenTcp } from '../../helpers/socket';
import { message, outcomes, poplib, pw, rawLogin, startPop3, stillServes, Wire, type RunningPop3 } from './clients';

describe('failed logins', () => {
  let server: RunningPop3;
  beforeAll(async () => {
    server = await startPop3(); // the default delay: 1000 ms
  });
  afterAll(async () => {
    await server.stop();
  });

  test('a failed login is delayed (1 s by default): another client is served in the meantime', async () => {
    const a = await Wire.open(server.port);
    await a.wire.command('USER alice');
    a.wire.write('PASS wrong\r\n');
    // The server has seen the wrong password and started the delay...
    await server.logs.waitFor(/ warn login failed .*user=alice address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+$/);
    // ...and a whole other session runs while A waits.
    const b = await Wire.open(server.port);
    expect(await b.wire.command('USER bob')).toMatch(/^\+OK/);
    expect(await b.wire.command(`PASS ${pw('bob')}`)).toMatch(/^\+OK bob@lab\.test/);
    expect(await b.wire.command('QUIT')).toMatch(/^\+OK goodbye/);
    expect(a.wire.unread).toBe(''); // A's answer is still held back
    expect(await a.wire.readLine()).toBe('-ERR [AUTH] wrong user name or password');
    // The log tells the same order: B's PASS and QUIT, then A's PASS.
    const commands = server.logs.matching(/ command .*verb=(PASS|QUIT)/).map((l) => /user=(\w+)|verb=QUIT/.exec(l)![0]);
    expect(commands.slice(-3)).toEqual(['user=bob', 'verb=QUIT', 'user=alice']);
    expect(await a.wire.command('QUIT')).toBe('+OK goodbye');
  });

  test('maxAuthFailures (default 3): the third failure gets the last -ERR and the connection is closed', async () => {
    const fast = await startPop3({ authFailureDelayMs: 1 });
    try {
      const results = await poplib(fast.port, [
        ['user', 'alice'], ['pass_', 'guess1'],
        ['user', 'alice'], ['pass_', 'guess2'],
        ['user', 'alice'], ['pass_', 'guess3'],
        ['user', 'alice'],
      ]);
      expect(outcomes(results).slice(1).map(([op, r]) => `${op} ${String(r)}`)).toEqual([
        'user +OK now PASS with the password for alice',
        'pass_ -ERR [AUTH] wrong user name or password',
        'user +OK now PASS with the password for alice',
        'pass_ -ERR [AUTH] wrong user name or password',
        'user +OK now PASS with the password for alice',
        'pass_ -ERR [AUTH] wrong user name or password; 3 failed logins, closing the connection',
        'user -ERR EOF',
      ]);
      expect(fast.logs.matching(/ warn login failed .*user=alice address=127\.0\.0\.1 failures=\d fromAddress=\d+ delayMs=\d+$/).map((l) => /failures=(\d)/.exec(l)![1])).toEqual(['1', '2', '3']);
      await fast.logs.waitFor(/ closed .*reason="too many failed logins" state=AUTHORIZATION$/);
      await stillServes(fast.port, 'alice'); // the count is per connection
    } finally {
      await fast.stop();
    }
  });

  test('maxAuthFailures: 1; commands pipelined after the last failure are not answered', async () => {
    const strict = await startPop3({ maxAuthFailures: 1, authFailureDelayMs: 1 });
    try {
      const { wire } = await Wire.open(strict.port);
      wire.write(`USER bob\r\nPASS nope\r\nUSER bob\r\nPASS ${pw('bob')}\r\nSTAT\r\n`);
      expect(await wire.rest()).toBe(
        '+OK now PASS with the password for bob\r\n-ERR [AUTH] wrong user name or password; 1 failed logins, closing the connection\r\n',
      );
      await stillServes(strict.port, 'bob');
    } finally {
      await strict.stop();
    }
  });
});

describe('line length', () => {
  let server: RunningPop3;
  beforeAll(async () => {
    server = await startPop3({ authFailureDelayMs: 1 }); // maxLineLength: the default 255
  });
  afterAll(async () => {
    await server.stop();
  });

  const TOO_LONG = '-ERR line too long: a command line has at most 255 octets with its CRLF';

  test('255 octets with the CRLF is fine; 256 gets -ERR and the connection is closed', async () => {
    const { wire } = await Wire.open(server.port);
    const name = 'a'.repeat(255 - 'USER '.length - 2);
    expect(await wire.command(`USER ${name}`)).toBe(`+OK now PASS with the password for ${name}`);
    wire.write(`USER ${name}b\r\n`);
    expect(await wire.rest()).toBe(`${TOO_LONG}\r\n`);
    expect(await server.closedLine(wire.localPort)).toMatch(/reason="line too long"/);
    await stillServes(server.port);
  });

  test('a long line without an end: answered at once, without waiting for the CRLF', async () => {
    const { wire } = await Wire.open(server.port);
    wire.write('NOOP ' + 'x'.repeat(300)); // and nothing more
    expect(await wire.rest()).toBe(`${TOO_LONG}\r\n`);
    await stillServes(server.port);
  });

  test('the lines before the long one, in the same write, are answered first; marked messages stay', async () => {
    await server.deliver('dan', message('stays'));
    const { wire } = await rawLogin(server.port, 'dan');
    wire.write(`DELE 1\r\nSTAT\r\nLIST ${'9'.repeat(400)}\r\nQUIT\r\n`);
    expect(await wire.rest()).toBe(`+OK message 1 deleted\r\n+OK 0 0\r\n${TOO_LONG}\r\n`);
    await server.logs.waitFor(/ closed .*reason="line too long" state=TRANSACTION user=dan unlocked=true kept=1$/);
    expect(await server.maildir('dan').list()).toHaveLength(1);
    await stillServes(server.port, 'dan');
  });

  test('maxLineLength: 32', async () => {
    const short = await startPop3({ maxLineLength: 32 });
    try {
      const { wire } = await Wire.open(short.port);
      expect(await wire.command('USER ' + 'u'.repeat(25))).toMatch(/^\+OK/); // 5 + 25 + 2 = 32
      wire.write('USER ' + 'u'.repeat(26) + '\n'); // a bare LF counts as CRLF: 33
      expect(await wire.rest()).toBe('-ERR line too long: a command line has at most 32 octets with its CRLF\r\n');
      await stillServes(short.port);
    } finally {
      await short.stop();
    }
  });
});

describe('idle timeout', () => {
  test('a silent connection is closed without a reply (RFC 1939 3), before and after login', async () => {
    const server = await startPop3({ idleTimeoutMs: 300 });
    try {
      const { wire } = await Wire.open(server.port);
      expect(await wire.rest()).toBe(''); // nothing after the greeting: just the close
      expect(await server.closedLine(wire.localPort)).toMatch(/reason="idle timeout \(autologout\)" state=AUTHORIZATION$/);

      await server.deliver('alice', message('idle'));
      const { wire: loggedIn } = await rawLogin(server.port, 'alice');
      expect(await loggedIn.command('DELE 1')).toBe('+OK message 1 deleted');
      expect(await loggedIn.rest()).toBe('');
      expect(await server.closedLine(loggedIn.localPort)).toMatch(/reason="idle timeout \(autologout\)" state=TRANSACTION user=alice unlocked=true kept=1$/);
      expect(await server.maildir('alice').list()).toHaveLength(1);
      await stillServes(server.port, 'alice');
    } finally {
      await server.stop();
    }
  });
});

describe('maxConnections', () => {
  test('one connection over the limit gets -ERR [SYS/TEMP] instead of a greeting; a freed slot is usable again', async () => {
    const server = await startPop3({ maxConnections: 2 });
    try {
      const a = await Wire.open(server.port);
      const b = await Wire.open(server.port);
      expect([a.greeting, b.greeting]).toEqual(['+OK wirelab POP3 server for lab.test ready', '+OK wirelab POP3 server for lab.test ready']);
      const c = await Wire.connect(server.port);
      expect(await c.rest()).toBe('-ERR [SYS/TEMP] too many connections (2); try again later\r\n');
      expect(server.logs.matching(/ warn connection refused .*reason="too many connections" limit=2$/)).toHaveLength(1);
      const refused = await poplib(server.port, [['capa']]);
      expect(refused).toEqual([{ op: 'welcome', error: '-ERR [SYS/TEMP] too many connections (2); try again later' }]);

      expect(await a.wire.command('QUIT')).toBe('+OK goodbye');
      await server.closedLine(a.wire.localPort);
      await stillServes(server.port);
      b.wire.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe('options', () => {
  test('the documented defaults', () => {
    expect(POP3_SERVER_DEFAULTS).toEqual({
      maxLineLength: 255,
      idleTimeoutMs: 600_000,
      loginTimeoutMs: 60_000,
      maxConnections: 100,
      maxConnectionsPerAddress: 10,
      maxUnknownCommands: 10,
      maxAuthFailures: 3,
      authFailureDelayMs: 1000,
      maxAuthFailuresPerAddress: 10,
      authCooldownMs: 60000,
      closeGraceMs: 10000,
    });
  });

  test.each([
    [{ maxLineLength: 5 }, 'maxLineLength must be a whole number, at least 16; got 5'],
    [{ idleTimeoutMs: 0 }, 'idleTimeoutMs must be a whole number, at least 1; got 0'],
    [{ maxConnections: 1.5 }, 'maxConnections must be a whole number, at least 1; got 1.5'],
    [{ maxAuthFailures: 0 }, 'maxAuthFailures must be a whole number, at least 1; got 0'],
    [{ authFailureDelayMs: -1 }, 'authFailureDelayMs must be a whole number, at least 0; got -1'],
  ])('%j is refused', (options, text) => {
    expect(() => new Pop3Server(options)).toThrow(new RangeError(`pop3: ${text}`));
  });

  test('a port in use: PortInUseError naming pop3 and the port', async () => {
    const holder = await listenTcp();
    const port = holder.port;
    const server = new Pop3Server({ users: [], log: createLogger('pop3', { sink: silentSink }) });
    try {
      const error = await server.listen(port, '127.0.0.1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as PortInUseError).message).toContain(`pop3: port ${port}/tcp on 127.0.0.1 is already in use`);
    } finally {
      await server.close();
      await holder.close();
    }
  });
});

describe('trouble on the server side', () => {
  test('a message file removed behind the server (an IMAP expunge): -ERR that says so; one that cannot be read: -ERR [SYS/TEMP], logged; the session goes on', async () => {
    const server = await startPop3();
    try {
      await server.deliver('bob', message('one'));
      await server.deliver('bob', message('two'));
      await server.deliver('bob', message('three'));
      const { wire } = await rawLogin(server.port, 'bob');
      const [first, second] = await server.maildir('bob').list();
      await unlink(path.join(server.maildir('bob').dir, first!.file));
      expect(await wire.command('RETR 1')).toBe('-ERR message 1 is gone: another program (an IMAP client) deleted it since you logged in');
      // A directory where the file was: the disk fails in a way nobody meant.
      await unlink(path.join(server.maildir('bob').dir, second!.file));
      await mkdir(path.join(server.maildir('bob').dir, second!.file));
      expect(await wire.command('RETR 2')).toBe('-ERR [SYS/TEMP] the server could not do that now; try again later');
      expect(server.logs.matching(/ error command failed .*verb=RETR .*EISDIR/)).toHaveLength(1);
      expect(await wire.command('RETR 3')).toMatch(/^\+OK \d+ octets$/);
      await wire.readUntil('\r\n.\r\n');
      // QUIT's UPDATE: removing a file that is already gone is what was wanted.
      expect(await wire.command('DELE 1')).toBe('+OK message 1 deleted');
      expect(await wire.command('QUIT')).toBe('+OK goodbye: 1 messages deleted, 2 left');
      await stillServes(server.port, 'bob');
    } finally {
      await server.stop();
    }
  });

  test('close() does not wait for a failed-login delay to run out', async () => {
    const server = await startPop3({ authFailureDelayMs: 60_000 });
    const { wire } = await Wire.open(server.port);
    await wire.command('USER alice');
    wire.write('PASS wrong\r\n');
    await server.logs.waitFor(/ warn login failed /);
    await server.stop(); // would take a minute if the delay were not cancelled
    // The command in progress is answered, then the server says why the connection ends.
    expect(await wire.rest()).toBe('-ERR [AUTH] wrong user name or password\r\n-ERR [SYS/TEMP] server shutting down\r\n');
    expect(server.logs.matching(/ closed .*reason="server shutting down" state=AUTHORIZATION$/)).toHaveLength(1);
  });
});
