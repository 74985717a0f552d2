/**
 * Limits and bad input: each limit is a named option with a test, and bad input gets BAD
 * or NO with a response code and a log line while the server keeps serving. Raw sockets
 * send what well-behaved clients never would; imaplib checks the server still serves.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { RawSocket } from '../../helpers/socket';
import path from 'node:path';
import { createLogger, silentSink } from '../../../services/common/logger';
import { ImapServer, IMAP_SERVER_DEFAULTS } from '../../../services/imap/server';
import { ImapWire, imaplib, message, pw, startImap, type RunningImap } from './clients';

let imap: RunningImap;
afterEach(async () => {
  await imap?.stop();
});

/** After a bad case: a whole imaplib session still works. */
async function stillServes(port: number): Promise<void> {
  const results = await imaplib(port, `M = imaplib.IMAP4('127.0.0.1', port)\nout('login', M.login('bob', '${pw('bob')}'))\nout('select', M.select())\nout('logout', M.logout())`);
  expect(results.map(([name, value]) => [name, (value as [string])[0]])).toEqual([
    ['login', 'OK'],
    ['select', 'OK'],
    ['logout', 'BYE'],
  ]);
}

describe('bad input', () => {
  test('a command before login gets BAD, and the session goes on', async () => {
    imap = await startImap();
    const { wire } = await ImapWire.open(imap.port);
    expect(await wire.command('a1', 'FETCH 1 FLAGS')).toEqual(['a1 BAD FETCH needs a login first: LOGIN user password (after STARTTLS), or AUTHENTICATE PLAIN']);
    expect(await wire.command('a2', `LOGIN alice ${pw('alice')}`)).toEqual([expect.stringMatching(/^a2 OK /)]);
    expect(await wire.command('a3', 'LOGIN alice again')).toEqual(['a3 BAD LOGIN is for before login, and you are logged in']);
    expect(await wire.command('a4', 'ENABLE IMAP4rev2')).toEqual(['* ENABLED IMAP4rev2', 'a4 OK ENABLE completed']);
    expect(await wire.command('a5', 'FETCH 1 FLAGS')).toEqual(['a5 BAD FETCH needs a selected mailbox first: SELECT INBOX']);
    wire.destroy();
  });

  test('a tag with spaces: the first word is the tag; a quoted one is no tag at all (untagged BAD)', async () => {
    imap = await startImap();
    const { wire } = await ImapWire.open(imap.port);
    wire.write('my tag NOOP\r\n');
    expect(await wire.untilTagged('my')).toEqual(['my BAD [CLIENTBUG] unknown command TAG']);
    wire.write('"my tag" NOOP\r\n');
    expect(await wire.response()).toMatch(/^\* BAD \[CLIENTBUG\] invalid tag/);
    wire.write('+plus NOOP\r\n');
    expect(await wire.response()).toMatch(/^\* BAD \[CLIENTBUG\] invalid tag/);
    expect(await wire.command('ok', 'NOOP')).toEqual(['ok OK NOOP completed']);
    wire.destroy();
    await imap.logged(/ info command .*tag=\* reply="BAD \[CLIENTBUG\] invalid tag/);
  });

  test('malformed arguments get BAD [CLIENTBUG] naming the problem', async () => {
    imap = await startImap();
    await imap.deliver('alice', message('one'));
    const wire = await ImapWire.login(imap.port);
    await wire.command('s', 'SELECT INBOX');
    expect(await wire.command('b1', 'FETCH 1 (FLAGS')).toEqual(['b1 BAD [CLIENTBUG] a list is not closed: expected ")"']);
    expect(await wire.command('b2', 'FETCH 1 BODY[NOSUCH]')).toEqual(['b2 BAD [CLIENTBUG] unknown section NOSUCH']);
    expect(await wire.command('b3', 'FETCH 9 FLAGS')).toEqual(['b3 BAD [CLIENTBUG] no message 9: the mailbox has 1 messages']);
    expect(await wire.command('b4', 'STORE 1 +FLAGS (\\Shiny)')).toEqual([expect.stringMatching(/^b4 BAD \[CLIENTBUG\] \\Shiny is not a flag/)]);
    expect(await wire.command('b5', 'SEARCH SINCE 31-Foo-2026')).toEqual([expect.stringMatching(/^b5 BAD \[CLIENTBUG\] expected a date/)]);
    expect(await wire.command('b6', 'SELECT "unterminated')).toEqual(['b6 BAD [CLIENTBUG] unterminated quoted string']);
    expect(await wire.command('b7', 'CREATE "a..b"')).toEqual([expect.stringMatching(/^b7 NO \[CANNOT\] "\." separates levels/)]);
    expect(await wire.command('b8', 'CREATE "../../etc"')).toEqual([expect.stringMatching(/^b8 NO \[CANNOT\]/)]);
    expect(await wire.command('b9', 'UID BOGUS 1')).toEqual([expect.stringMatching(/^b9 BAD \[CLIENTBUG\] UID BOGUS: only FETCH/)]);
    expect(await wire.command('c1', 'NOOP')).toEqual(['c1 OK NOOP completed']);
    wire.destroy();
    await stillServes(imap.port);
  });

  test('mailbox names cannot leave the Maildir: every command refuses them, and nothing outside is touched', async () => {
    imap = await startImap();
    // A Maildir next to alice's, as another user's is: `.` + `../../../../other` would land in it.
    const outside = path.join(imap.dataDir, 'mail', 'lab.test', 'other');
    await mkdir(path.join(outside, 'cur'), { recursive: true });
    const wire = await ImapWire.login(imap.port);
    for (const command of ['SELECT "../../../../other"', 'STATUS "../../../../other" (MESSAGES)', 'DELETE "../../../../other"', 'RENAME "../../../../other" x', 'CREATE "../evil"', 'APPEND {3+}\r\nx\\y {1+}\r\nx']) {
      expect((await wire.command('t', command)).pop()).toMatch(/^t NO \[CANNOT\] /);
    }
    expect(await readdir(outside)).toEqual(['cur']);
    wire.destroy();
  });

  test('an unterminated literal: the server waits for the octets (the login deadline ends it), and serves others meanwhile', async () => {
    imap = await startImap({ loginTimeoutMs: 300 });
    const { wire } = await ImapWire.open(imap.port);
    wire.write('a1 LOGIN alice {10}\r\n');
    expect(await wire.response()).toBe('+ Ready for 10 octets');
    wire.write('abc'); // ...and never the rest
    await stillServes(imap.port);
    expect(await wire.rest()).toBe('* BYE not logged in after 300 ms; closing\r\n');
    await imap.logged(/ warn login timeout .*limitMs=300/);
  });

  test('an HTTP request on the IMAP port gets a BYE that says so', async () => {
    imap = await startImap();
    const { wire } = await ImapWire.open(imap.port);
    wire.write('GET / HTTP/1.1\r\nHost: mail.lab.test\r\n\r\n');
    expect(await wire.rest()).toBe('* BYE this is an IMAP server, not a web server: use a mail client, or openssl s_client -starttls imap (see the lab guide)\r\n');
  });

  test('AUTHENTICATE: "*" cancels with BAD, a non-base64 answer is BAD, the session goes on', async () => {
    imap = await startImap();
    const { wire } = await ImapWire.open(imap.port);
    wire.write('a1 AUTHENTICATE PLAIN\r\n');
    expect(await wire.response()).toBe('+ ');
    wire.write('*\r\n');
    expect(await wire.untilTagged('a1')).toEqual(['a1 BAD AUTHENTICATE cancelled']);
    wire.write('a2 AUTHENTICATE PLAIN\r\n');
    expect(await wire.response()).toBe('+ ');
    wire.write('not base64!\r\n');
    expect(await wire.untilTagged('a2')).toEqual(['a2 BAD the answer to AUTHENTICATE must be base64']);
    const plain = Buffer.from(`\0alice\0${pw('alice')}`).toString('base64');
    wire.write('a3 AUTHENTICATE PLAIN\r\n');
    expect(await wire.response()).toBe('+ ');
    wire.write(`${plain}\r\n`);
    expect(await wire.untilTagged('a3')).toEqual([expect.stringMatching(/^a3 OK \[CAPABILITY .*\] alice@lab\.test logged in$/)]);
    expect(await wire.command('a4', 'AUTHENTICATE CRAM-MD5')).toEqual(['a4 BAD AUTHENTICATE is for before login, and you are logged in']);
    wire.destroy();
  });

  test('DONE and the next commands in one packet: IDLE ends, and the commands run', async () => {
    imap = await startImap();
    const wire = await ImapWire.login(imap.port);
    wire.write('i1 IDLE\r\n');
    expect(await wire.response()).toBe('+ idling');
    wire.write('DONE\r\nn1 NOOP\r\nn2 NOOP\r\n');
    expect(await wire.untilTagged('n2')).toEqual(['i1 OK IDLE terminated', 'n1 OK NOOP completed', 'n2 OK NOOP completed']);
    wire.destroy();
  });

  test('IDLE ended by something other than DONE gets BAD', async () => {
    imap = await startImap();
    const wire = await ImapWire.login(imap.port);
    wire.write('i1 IDLE\r\n');
    expect(await wire.response()).toBe('+ idling');
    wire.write('x1 NOOP\r\n');
    expect(await wire.untilTagged('i1')).toEqual(['i1 BAD expected DONE to end IDLE']);
    expect(await wire.command('x2', 'NOOP')).toEqual(['x2 OK NOOP completed']);
    wire.destroy();
  });
});

describe('limits', () => {
  test('maxUnknownCommands: the last one is answered by BYE, and the connection closes', async () => {
    imap = await startImap({ maxUnknownCommands: 3 });
    const { wire } = await ImapWire.open(imap.port);
    expect(await wire.command('a', 'FOO')).toEqual(['a BAD [CLIENTBUG] unknown command FOO']);
    expect(await wire.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
    expect(await wire.command('c', 'LOGIN (')).toEqual([expect.stringMatching(/^c BAD \[CLIENTBUG\]/)]); // a malformed command counts too
    wire.write('d BAR\r\ne NOOP\r\n');
    expect(await wire.rest()).toBe('* BYE too many unknown or invalid commands (3); closing\r\n');
    await imap.logged(/ warn too many unknown commands .*count=3 limit=3/);
    await stillServes(imap.port);
  });

  test('maxLiteralSize: a synchronizing literal over the limit is refused before it is sent (NO [TOOBIG], no "+")', async () => {
    imap = await startImap({ maxLiteralSize: 1000 });
    const wire = await ImapWire.login(imap.port);
    const caps = await wire.command('c', 'CAPABILITY');
    expect(caps[0]).toContain(' APPENDLIMIT=1000');
    expect(await wire.command('a1', 'APPEND INBOX {1001}')).toEqual(['a1 NO [TOOBIG] literal of 1001 octets is over the limit (APPENDLIMIT=1000)']);
    // One that fits goes through: the "+" first, then the octets.
    const text = message('fits');
    wire.write(`a2 APPEND INBOX {${text.length}}\r\n`);
    expect(await wire.response()).toBe(`+ Ready for ${text.length} octets`);
    wire.write(`${text}\r\n`);
    expect(await wire.untilTagged('a2')).toEqual([expect.stringMatching(/^a2 OK \[APPENDUID \d+ 1\] APPEND completed$/)]);
    await imap.logged(/ warn command refused .*tag=a1 why=literal-too-big size=1001 limit=1000/);
    wire.destroy();
  });

  test('maxLiteralSize: a non-synchronizing literal over the limit is read and dropped (BAD [TOOBIG]); the next command works', async () => {
    imap = await startImap({ maxLiteralSize: 1000 });
    const wire = await ImapWire.login(imap.port);
    // LITERAL+ (RFC 7888): the client sends at once. The 1500 octets hold lines that look like commands: none may run.
    const junk = 'x1 CREATE Injected\r\n'.repeat(75);
    wire.write(`a1 APPEND INBOX {${junk.length}+}\r\n${junk}\r\n`);
    expect(await wire.untilTagged('a1')).toEqual([`a1 BAD [TOOBIG] literal of ${junk.length} octets is over the limit (APPENDLIMIT=1000)`]);
    expect(await wire.command('a2', 'LIST "" Injected')).toEqual(['a2 OK LIST completed']);
    wire.destroy();
  });

  test('before login a literal is at most maxLineLength octets: a name or a password', async () => {
    imap = await startImap({ maxLineLength: 1024 });
    const { wire } = await ImapWire.open(imap.port);
    expect(await wire.command('a1', 'LOGIN alice {5000}')).toEqual(['a1 NO [TOOBIG] a literal before login is at most 1024 octets']);
    wire.write(`a2 LOGIN alice {${pw('alice').length}+}\r\n${pw('alice')}\r\n`);
    expect(await wire.untilTagged('a2')).toEqual([expect.stringMatching(/^a2 OK /)]);
    wire.destroy();
  });

  test('maxLineLength: a longer command gets BAD [TOOBIG] with its tag; the rest of it is skipped', async () => {
    imap = await startImap({ maxLineLength: 1024 });
    const { wire } = await ImapWire.open(imap.port);
    expect(await wire.command('a1', `NOOP ${'x'.repeat(2000)}`)).toEqual(['a1 BAD [TOOBIG] command too long: at most 1024 octets besides its literals']);
    expect(await wire.command('a2', 'NOOP')).toEqual(['a2 OK NOOP completed']);
    wire.destroy();
    await imap.logged(/ warn command refused .*tag=a1 why=line-too-long/);
  });

  test('loginTimeoutMs: a client that keeps busy but never logs in gets BYE', async () => {
    imap = await startImap({ loginTimeoutMs: 300 });
    const { wire } = await ImapWire.open(imap.port);
    const ticker = setInterval(() => wire.write('t NOOP\r\n'), 20);
    const rest = await wire.rest();
    clearInterval(ticker);
    expect(rest).toMatch(/\* BYE not logged in after 300 ms; closing\r\n$/);
  });

  test('idleTimeoutMs (autologout): a silent logged-in client gets BYE', async () => {
    imap = await startImap({ idleTimeoutMs: 300 });
    const wire = await ImapWire.login(imap.port);
    expect(await wire.rest()).toBe('* BYE autologout: no command for 300 ms\r\n');
    await imap.logged(/ info closed .*reason="idle timeout \(autologout\)" state=authenticated user=alice/);
  });

  test('maxConnectionsPerAddress: one more from the same address gets BYE [UNAVAILABLE]; another address is served', async () => {
    imap = await startImap({ maxConnectionsPerAddress: 2 });
    const held = [await ImapWire.open(imap.port), await ImapWire.open(imap.port)];
    const { wire, greeting } = await ImapWire.open(imap.port);
    expect(greeting).toBe('* BYE [UNAVAILABLE] too many connections from your address (2); try again later');
    await wire.closed();
    const other = await ImapWire.open(imap.port, { from: '127.0.0.2' });
    expect(other.greeting).toMatch(/^\* OK /);
    for (const h of [...held, other]) h.wire.destroy();
  });

  test('maxConnections: one more than the limit gets BYE [UNAVAILABLE], from any address', async () => {
    imap = await startImap({ maxConnections: 1 });
    const held = await ImapWire.open(imap.port);
    const { wire, greeting } = await ImapWire.open(imap.port, { from: '127.0.0.2' });
    expect(greeting).toBe('* BYE [UNAVAILABLE] too many connections (1); try again later');
    await wire.closed();
    held.wire.destroy();
    await imap.logged(/ warn connection refused .*reason="too many connections" limit=1/);
  });

  test('failed logins: each waits authFailureDelayMs (others are served meanwhile); the last one closes', async () => {
    imap = await startImap({ authFailureDelayMs: 1000, maxAuthFailures: 2 });
    const { wire } = await ImapWire.open(imap.port);
    wire.write('a1 LOGIN alice wrong\r\n');
    await imap.logged(/ warn login failed .*user=alice address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+/);
    // A whole other session while a1 waits (a raw socket: milliseconds, well inside the second).
    const bob = await ImapWire.login(imap.port, 'bob');
    expect((await bob.command('b', 'LOGOUT')).pop()).toBe('b OK LOGOUT completed');
    expect(await wire.untilTagged('a1')).toEqual(['a1 NO [AUTHENTICATIONFAILED] wrong user name or password']);
    expect(await wire.command('a2', 'LOGIN alice wrong-again')).toEqual(['a2 NO [AUTHENTICATIONFAILED] wrong user name or password; 2 failed logins, closing the connection']);
    expect(await wire.rest()).toBe('* BYE too many failed logins; closing\r\n');
    // The order in the log: a1's wait began before bob's session, and ended after it.
    const lines = imap.logs.lines.filter((l) => / command .*verb=(LOGIN|LOGOUT)/.test(l)).map((l) => /user=(\w+)/.exec(l)![1]);
    expect(lines.slice(0, 3)).toEqual(['bob', 'bob', 'alice']);
  });

  test('close() says BYE to open sessions, even one in IDLE', async () => {
    imap = await startImap();
    const wire = await ImapWire.login(imap.port);
    await wire.command('s', 'SELECT INBOX');
    wire.write('i IDLE\r\n');
    expect(await wire.response()).toBe('+ idling');
    const closing = imap.server.close();
    expect(await wire.rest()).toBe('* BYE [UNAVAILABLE] server shutting down\r\n');
    await closing;
  });
});

describe('options', () => {
  test('the documented defaults', () => {
    expect(IMAP_SERVER_DEFAULTS).toEqual({
      maxLineLength: 8192,
      maxLiteralSize: 10 * 1024 * 1024,
      idleTimeoutMs: 30 * 60 * 1000,
      loginTimeoutMs: 60_000,
      maxConnections: 100,
      maxConnectionsPerAddress: 10,
      maxUnknownCommands: 10,
      maxAuthFailures: 3,
      authFailureDelayMs: 1000,
      maxAuthFailuresPerAddress: 10,
      authCooldownMs: 60000,
      closeGraceMs: 10000,
      idlePollMs: 500,
    });
  });

  test.each([
    [{ maxLineLength: 100 }, 'maxLineLength must be a whole number, at least 1024; got 100'],
    [{ maxLiteralSize: 0 }, 'maxLiteralSize must be a whole number, at least 1; got 0'],
    [{ idleTimeoutMs: 0 }, 'idleTimeoutMs must be a whole number, at least 1; got 0'],
    [{ idlePollMs: 1 }, 'idlePollMs must be a whole number, at least 10; got 1'],
    [{ authFailureDelayMs: -1 }, 'authFailureDelayMs must be a whole number, at least 0; got -1'],
  ])('%j is refused', (options, text) => {
    expect(() => new ImapServer(options)).toThrow(new RangeError(`imap: ${text}`));
  });

  test('listenTls without a certificate is an error that says so', async () => {
    const server = new ImapServer({ users: [], log: createLogger('imap', { sink: silentSink }) });
    await expect(server.listenTls(0)).rejects.toThrow('imap: listenTls needs the tls option');
    await server.close();
  });

  test('the server stays up when a client vanishes in the middle of a literal', async () => {
    imap = await startImap();
    const socket = await RawSocket.connect(imap.port);
    await socket.readLine(); // the greeting
    socket.end(`a1 LOGIN alice {20}\r\nonly part`);
    await imap.logged(/ info closed .*reason="client closed the connection"/);
    await stillServes(imap.port);
  });
});
