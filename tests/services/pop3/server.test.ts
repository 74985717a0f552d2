/**
 * The POP3 service on a real port, driven by real clients: Python's poplib, and a raw
 * socket for the exact bytes. Mail is put in with Maildir.deliver, the delivery code
 * the SMTP service uses.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Pop3Server } from '../../../services/pop3/server';
import { CAPABILITIES } from '../../../services/pop3/verbs';
import { message, outcomes, poplib, pw, rawLogin, session, startPop3, stillServes, Wire, type RunningPop3 } from './clients';

let lab: RunningPop3;

beforeAll(async () => {
  // Failed logins here wait 20 ms, not the default second; limits.test.ts tests the delay.
  lab = await startPop3({ authFailureDelayMs: 20 });
});

afterAll(async () => {
  await lab.stop();
});

const okOf = (results: { op: string; ok?: unknown; error?: string }[], op: string, index = 0): unknown => {
  const found = results.filter((r) => r.op === op)[index];
  if (!found || found.error !== undefined) throw new Error(`${op} failed: ${JSON.stringify(results)}`);
  return found.ok;
};

describe('greeting and CAPA', () => {
  test('poplib: the greeting, and CAPA lists what the server supports (RFC 2449)', async () => {
    const results = await poplib(lab.port, [['capa'], ['quit']]);
    expect(okOf(results, 'welcome')).toBe('+OK wirelab POP3 server for lab.test ready');
    expect(okOf(results, 'capa')).toEqual({
      USER: [],
      TOP: [],
      UIDL: [],
      'RESP-CODES': [],
      'AUTH-RESP-CODE': [],
      PIPELINING: [],
      IMPLEMENTATION: ['wirelab'],
    });
  });

  test('raw: CAPA bytes, before and after login (USER only before: it is for logging in, as in Dovecot)', async () => {
    const list = (caps: readonly string[]): string => `+OK Capability list follows\r\n${caps.map((c) => c + '\r\n').join('')}.\r\n`;
    const { wire } = await Wire.open(lab.port);
    expect(await wire.multi('CAPA')).toBe(list(['USER', ...CAPABILITIES]));
    await wire.command('USER web');
    expect(await wire.command(`PASS ${pw('web')}`)).toMatch(/^\+OK web@lab\.test has \d+ messages/);
    expect(await wire.multi('capa')).toBe(list(CAPABILITIES)); // keywords are case-insensitive
    expect(await wire.command('QUIT')).toMatch(/^\+OK goodbye/);
    expect(await wire.rest()).toBe('');
  });
});

describe('logging in', () => {
  test('USER/PASS right: +OK with the maildrop size; wrong: -ERR [AUTH]', async () => {
    await lab.deliver('dan', message('one', 'hello'));
    const results = await poplib(lab.port, [
      ['user', 'dan'],
      ['pass_', 'wrong'],
      ['user', 'dan'],
      ['pass_', pw('dan')],
      ['quit'],
    ]);
    expect(outcomes(results).slice(1)).toEqual([
      ['user', '+OK now PASS with the password for dan'],
      ['pass_', '-ERR [AUTH] wrong user name or password'],
      ['user', '+OK now PASS with the password for dan'],
      ['pass_', expect.stringMatching(/^\+OK dan@lab\.test has 1 messages \(\d+ octets\)$/)],
      ['quit', '+OK goodbye: 0 messages deleted, 1 left'],
    ]);
  });

  test('an unknown user gets +OK at USER (no hint which names exist) and -ERR [AUTH] at PASS', async () => {
    const results = await poplib(lab.port, [['user', 'mallory'], ['pass_', 'x'], ['quit']]);
    expect(outcomes(results).slice(1)).toEqual([
      ['user', '+OK now PASS with the password for mallory'],
      ['pass_', '-ERR [AUTH] wrong user name or password'],
      ['quit', '+OK goodbye'],
    ]);
  });

  test('the whole address works as the user name; another domain does not', async () => {
    const good = await poplib(lab.port, [['user', 'erin@LAB.test'], ['pass_', pw('erin')], ['quit']]);
    expect(okOf(good, 'pass_')).toMatch(/^\+OK erin@lab\.test has 0 messages \(0 octets\)$/);
    const bad = await poplib(lab.port, [['user', 'erin@example.test'], ['pass_', pw('erin')], ['quit']]);
    expect(bad.find((r) => r.op === 'pass_')!.error).toBe('-ERR [AUTH] wrong user name or password');
  });

  test('PASS without USER, or not right after it: -ERR, and the connection goes on', async () => {
    const { wire } = await Wire.open(lab.port);
    expect(await wire.command(`PASS ${pw('web')}`)).toBe('-ERR PASS comes right after USER: USER name, then PASS password');
    await wire.command('USER web');
    expect(await wire.command('CAPA')).toBe('+OK Capability list follows');
    await wire.readUntil('\r\n.\r\n');
    expect(await wire.command(`PASS ${pw('web')}`)).toBe('-ERR PASS comes right after USER: USER name, then PASS password');
    expect(await wire.command('USER')).toBe('-ERR USER needs a name: USER alice');
    await wire.command('USER web');
    expect(await wire.command(`PASS ${pw('web')}`)).toMatch(/^\+OK web@lab\.test/);
    expect(await wire.command('USER web')).toBe('-ERR USER is for before login, and you are logged in');
    expect(await wire.command('QUIT')).toMatch(/^\+OK/);
  });

  test('a password with spaces is one argument (RFC 1939 7)', async () => {
    const server = await startPop3({ users: [{ name: 'sp', password: 'two words ', domain: 'lab.test' }] });
    try {
      const results = await poplib(server.port, [['user', 'sp'], ['pass_', 'two words '], ['quit']]);
      expect(okOf(results, 'pass_')).toMatch(/^\+OK sp@lab\.test/);
    } finally {
      await server.stop();
    }
  });

  test('the log has a line per command with the connection id, and never the password', async () => {
    await poplib(lab.port, [['user', 'frank'], ['pass_', 'not-it-Guess42'], ['user', 'frank'], ['pass_', pw('frank')], ['stat'], ['quit']]);
    const lines = await lab.logs.waitFor(/ closed .*user=frank/);
    expect(lab.logs.lines.join('\n')).not.toContain(pw('frank'));
    expect(lab.logs.lines.join('\n')).not.toContain('not-it-Guess42');
    const pass = lab.logs.matching(/ command .*verb=PASS .*user=frank/);
    expect(pass).toHaveLength(2);
    expect(pass[0]).toMatch(/ conn=c\d+ client=127\.0\.0\.1:\d+ verb=PASS reply="-ERR \[AUTH\] wrong user name or password" state=AUTHORIZATION user=frank address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+$/);
    expect(pass[1]).toMatch(/verb=PASS reply="\+OK frank@lab\.test has 0 messages \(0 octets\)" state=TRANSACTION user=frank messages=0 octets=0$/);
    const conn = /conn=(c\d+)/.exec(lines[0]!)![1];
    expect(lab.logs.matching(new RegExp(`conn=${conn} .*verb=STAT`))).toHaveLength(1);
  });
});

describe('commands before login', () => {
  test('every TRANSACTION command gets -ERR, unknown commands too; then login still works', async () => {
    const { wire } = await Wire.open(lab.port);
    for (const line of ['STAT', 'LIST', 'LIST 1', 'RETR 1', 'TOP 1 0', 'UIDL', 'DELE 1', 'RSET', 'NOOP']) {
      const verb = line.split(' ')[0];
      expect(await wire.command(line)).toBe(`-ERR ${verb} needs a login first: USER name, then PASS password`);
    }
    expect(await wire.command('HELO there')).toBe('-ERR unknown command HELO');
    expect(await wire.command('APOP web 0123456789abcdef')).toBe('-ERR unknown command APOP');
    expect(await wire.command('')).toBe('-ERR empty command line');
    expect(await wire.command('mysecretpassword')).toBe('-ERR unknown command (not a POP3 keyword)');
    await wire.command('USER web');
    expect(await wire.command(`PASS ${pw('web')}`)).toMatch(/^\+OK/);
    expect(await wire.command('XYZ')).toBe('-ERR unknown command XYZ');
    expect(await wire.command('QUIT')).toMatch(/^\+OK/);
    expect(lab.logs.lines.join('\n')).not.toContain('mysecretpassword');
  });
});

describe('reading mail', () => {
  const first = message('first', 'Hello Bob,', '', 'see you.');
  const second = message('second', 'a second message', 'with three', 'lines');

  test('STAT, LIST, UIDL, RETR, TOP through poplib', async () => {
    const uid1 = await lab.deliver('bob', first);
    const uid2 = await lab.deliver('bob', second);
    const results = await session(lab.port, 'bob', [['stat'], ['list'], ['list', 2], ['uidl'], ['uidl', 1], ['retr', 1], ['top', 2, 0], ['top', 2, 1], ['top', 1, 99], ['noop']]);
    const size1 = Buffer.byteLength(first);
    const size2 = Buffer.byteLength(second);
    expect(okOf(results, 'pass_')).toBe(`+OK bob@lab.test has 2 messages (${size1 + size2} octets)`);
    expect(okOf(results, 'stat')).toEqual([2, size1 + size2]);
    expect(okOf(results, 'list', 0)).toEqual([`+OK 2 messages (${size1 + size2} octets)`, [`1 ${size1}`, `2 ${size2}`], expect.any(Number)]);
    expect(okOf(results, 'list', 1)).toBe(`+OK 2 ${size2}`);
    expect(okOf(results, 'uidl', 0)).toEqual(['+OK unique-id listing follows', [`1 ${uid1}`, `2 ${uid2}`], expect.any(Number)]);
    expect(okOf(results, 'uidl', 1)).toBe(`+OK 1 ${uid1}`);
    // poplib's third value counts the octets it received, dot-stuffing removed: the size LIST gave.
    expect(okOf(results, 'retr')).toEqual([`+OK ${size1} octets`, first.split('\r\n').slice(0, -1), size1]);
    const head = ['From: alice@lab.test', 'To: bob@lab.test', 'Subject: second', ''];
    expect((okOf(results, 'top', 0) as unknown[])[1]).toEqual(head);
    expect((okOf(results, 'top', 1) as unknown[])[1]).toEqual([...head, 'a second message']);
    expect((okOf(results, 'top', 2) as unknown[])[1]).toEqual(first.split('\r\n').slice(0, -1));
    expect(okOf(results, 'noop')).toBe('+OK');
    // Read, not deleted: POP3 removes only what DELE marked.
    expect((await lab.maildir('bob').list()).map((m) => m.uid)).toEqual([uid1, uid2]);
  });

  test('bad message numbers and arguments: -ERR, the session goes on', async () => {
    await lab.deliver('grace', message('only one'));
    const { wire } = await rawLogin(lab.port, 'grace');
    expect(await wire.command('RETR 2')).toBe('-ERR no such message, only 1 messages in maildrop');
    expect(await wire.command('RETR 0')).toBe('-ERR no such message, only 1 messages in maildrop');
    expect(await wire.command('RETR')).toBe('-ERR needs one message number, such as 1');
    expect(await wire.command('RETR one')).toBe('-ERR needs one message number, such as 1');
    expect(await wire.command('RETR -1')).toBe('-ERR needs one message number, such as 1');
    expect(await wire.command('LIST 1 2')).toBe('-ERR needs one message number, such as 1');
    expect(await wire.command('TOP 1')).toBe('-ERR TOP needs a message number and a number of lines: TOP 1 10');
    expect(await wire.command('TOP 1 -1')).toBe('-ERR TOP needs a message number and a number of lines: TOP 1 10');
    expect(await wire.command('TOP 9 1')).toBe('-ERR no such message, only 1 messages in maildrop');
    expect(await wire.command('STAT')).toMatch(/^\+OK 1 \d+$/);
    expect(await wire.command('QUIT')).toBe('+OK goodbye: 0 messages deleted, 1 left');
  });

  test('dot-stuffing: ".hidden" travels as "..hidden" and poplib gives back ".hidden"', async () => {
    const body = ['.hidden', '..two dots', '.', 'end.', ' .not at the start'];
    await lab.deliver('heidi', message('dots', ...body));
    const { wire } = await rawLogin(lab.port, 'heidi');
    const size = Buffer.byteLength(message('dots', ...body));
    expect(await wire.multi('RETR 1')).toBe(
      `+OK ${size} octets\r\nFrom: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: dots\r\n\r\n` +
        '..hidden\r\n...two dots\r\n..\r\nend.\r\n .not at the start\r\n.\r\n',
    );
    expect(await wire.multi('TOP 1 1')).toBe('+OK top of message follows\r\nFrom: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: dots\r\n\r\n..hidden\r\n.\r\n');
    expect(await wire.command('QUIT')).toMatch(/^\+OK/);
    const results = await session(lab.port, 'heidi', [['retr', 1]]);
    const [, lines, octets] = okOf(results, 'retr') as [string, string[], number];
    expect(lines.slice(4)).toEqual(body);
    expect(octets).toBe(size);
  });

  test('bare LF in the stored file goes out as CRLF, and the sizes count the CR', async () => {
    const server = await startPop3();
    try {
      const stored = 'Subject: bare\nFrom: x@lab.test\n\nline one\r\nline two\nno newline at the end';
      await server.deliver('alice', stored);
      const wireText = 'Subject: bare\r\nFrom: x@lab.test\r\n\r\nline one\r\nline two\r\nno newline at the end\r\n';
      const { wire } = await rawLogin(server.port, 'alice');
      expect(await wire.command('STAT')).toBe(`+OK 1 ${wireText.length}`);
      expect(await wire.multi('LIST')).toBe(`+OK 1 messages (${wireText.length} octets)\r\n1 ${wireText.length}\r\n.\r\n`);
      expect(await wire.multi('RETR 1')).toBe(`+OK ${wireText.length} octets\r\n${wireText}.\r\n`);
      expect(await wire.command('QUIT')).toMatch(/^\+OK/);
      const results = await session(server.port, 'alice', [['retr', 1]]);
      expect((okOf(results, 'retr') as unknown[])[2]).toBe(wireText.length);
    } finally {
      await server.stop();
    }
  });

  test('an empty maildrop, and an empty message', async () => {
    const server = await startPop3();
    try {
      const { wire } = await rawLogin(server.port, 'bob');
      expect(await wire.command('STAT')).toBe('+OK 0 0');
      expect(await wire.multi('LIST')).toBe('+OK 0 messages (0 octets)\r\n.\r\n');
      expect(await wire.multi('UIDL')).toBe('+OK unique-id listing follows\r\n.\r\n');
      await wire.command('QUIT');
      await server.deliver('bob', '');
      const again = await rawLogin(server.port, 'bob');
      expect(await again.wire.multi('RETR 1')).toBe('+OK 0 octets\r\n.\r\n');
      await again.wire.command('QUIT');
    } finally {
      await server.stop();
    }
  });

  test('the list is fixed at login: mail that arrives during a session shows in the next one', async () => {
    const server = await startPop3();
    try {
      await server.deliver('alice', message('before'));
      const { wire, reply } = await rawLogin(server.port, 'alice');
      expect(reply).toMatch(/has 1 messages/);
      await server.deliver('alice', message('during'));
      expect(await wire.command('STAT')).toMatch(/^\+OK 1 /);
      expect(await wire.command('RETR 2')).toBe('-ERR no such message, only 1 messages in maildrop');
      expect(await wire.command('QUIT')).toBe('+OK goodbye: 0 messages deleted, 1 left');
      const results = await session(server.port, 'alice', [['stat']]);
      expect((okOf(results, 'stat') as number[])[0]).toBe(2);
    } finally {
      await server.stop();
    }
  });

  test('PIPELINING: commands sent in one write are answered in order', async () => {
    const server = await startPop3();
    try {
      await server.deliver('bob', message('p'));
      const { wire } = await Wire.open(server.port);
      wire.write(`USER bob\r\nPASS ${pw('bob')}\r\nSTAT\r\nLIST\r\nDELE 1\r\nSTAT\r\nRSET\r\nQUIT\r\n`);
      const rest = await wire.rest();
      const size = Buffer.byteLength(message('p'));
      expect(rest.split('\r\n')).toEqual([
        '+OK now PASS with the password for bob',
        `+OK bob@lab.test has 1 messages (${size} octets)`,
        `+OK 1 ${size}`,
        `+OK 1 messages (${size} octets)`,
        `1 ${size}`,
        '.',
        '+OK message 1 deleted',
        '+OK 0 0',
        `+OK maildrop has 1 messages (${size} octets)`,
        '+OK goodbye: 0 messages deleted, 1 left',
        '',
      ]);
    } finally {
      await server.stop();
    }
  });

  test('a client that closes its sending side after its commands (nc -N) still gets every reply', async () => {
    const server = await startPop3();
    try {
      const wire = await Wire.connect(server.port);
      wire.socket.end(`USER bob\nPASS ${pw('bob')}\nSTAT\nQUIT\n`); // bare LF, as from nc without -C
      expect((await wire.rest()).split('\r\n')).toEqual([
        '+OK wirelab POP3 server for lab.test ready',
        '+OK now PASS with the password for bob',
        '+OK bob@lab.test has 0 messages (0 octets)',
        '+OK 0 0',
        '+OK goodbye: 0 messages deleted, 0 left',
        '',
      ]);
    } finally {
      await server.stop();
    }
  });
});

describe('DELE, RSET, QUIT and the UPDATE state', () => {
  test('DELE then QUIT removes the message from the Maildir', async () => {
    const server = await startPop3();
    try {
      const keep = await server.deliver('alice', message('keep'));
      await server.deliver('alice', message('remove'));
      const results = await session(server.port, 'alice', [['dele', 2]]);
      expect(outcomes(results).slice(3)).toEqual([
        ['dele', '+OK message 2 deleted'],
        ['quit', '+OK goodbye: 1 messages deleted, 1 left'],
      ]);
      // QUIT answered +OK only after the removal: the file is gone now.
      expect((await server.maildir('alice').list()).map((m) => m.uid)).toEqual([keep]);
    } finally {
      await server.stop();
    }
  });

  test('a marked message is invisible: -ERR message n already deleted, and not counted', async () => {
    const server = await startPop3();
    try {
      const one = Buffer.byteLength(message('one'));
      const two = Buffer.byteLength(message('two'));
      await server.deliver('bob', message('one'));
      await server.deliver('bob', message('two'));
      const { wire } = await rawLogin(server.port, 'bob');
      expect(await wire.command('DELE 1')).toBe('+OK message 1 deleted');
      for (const line of ['DELE 1', 'RETR 1', 'LIST 1', 'TOP 1 0', 'UIDL 1']) {
        expect(await wire.command(line)).toBe('-ERR message 1 already deleted');
      }
      expect(await wire.command('STAT')).toBe(`+OK 1 ${two}`);
      expect(await wire.multi('LIST')).toBe(`+OK 1 messages (${two} octets)\r\n2 ${two}\r\n.\r\n`);
      expect(await wire.command('RETR 2')).toBe(`+OK ${two} octets`);
      await wire.readUntil('\r\n.\r\n');
      expect(await wire.command('RSET')).toBe(`+OK maildrop has 2 messages (${one + two} octets)`);
      expect(await wire.command('LIST 1')).toBe(`+OK 1 ${one}`);
      expect(await wire.command('QUIT')).toBe('+OK goodbye: 0 messages deleted, 2 left');
      expect(await server.maildir('bob').list()).toHaveLength(2);
    } finally {
      await server.stop();
    }
  });

  test('DELE then a dropped connection (no QUIT) removes nothing', async () => {
    const server = await startPop3();
    try {
      await server.deliver('alice', message('one'));
      await server.deliver('alice', message('two'));
      const { wire } = await rawLogin(server.port, 'alice');
      expect(await wire.command('DELE 1')).toBe('+OK message 1 deleted');
      expect(await wire.command('DELE 2')).toBe('+OK message 2 deleted');
      const port = wire.localPort;
      wire.destroy();
      expect(await server.closedLine(port)).toMatch(/ closed .*reason="client closed the connection" state=TRANSACTION user=alice unlocked=true kept=2$/);
      expect(await server.maildir('alice').list()).toHaveLength(2);
      // poplib without QUIT: the same.
      const results = await session(server.port, 'alice', [['dele', 1]], { drop: true });
      expect(okOf(results, 'dele')).toBe('+OK message 1 deleted');
      await server.logs.waitFor(/ closed .*user=alice/, { count: 2 });
      expect(await server.maildir('alice').list()).toHaveLength(2);
      await stillServes(server.port, 'alice');
    } finally {
      await server.stop();
    }
  });

  test('RSET takes the DELEs back: QUIT then removes nothing', async () => {
    const server = await startPop3();
    try {
      await server.deliver('bob', message('one'));
      const results = await session(server.port, 'bob', [['dele', 1], ['stat'], ['rset'], ['stat']]);
      const size = Buffer.byteLength(message('one'));
      expect(outcomes(results).slice(3)).toEqual([
        ['dele', '+OK message 1 deleted'],
        ['stat', [0, 0]],
        ['rset', `+OK maildrop has 1 messages (${size} octets)`],
        ['stat', [1, size]],
        ['quit', '+OK goodbye: 0 messages deleted, 1 left'],
      ]);
      expect(await server.maildir('bob').list()).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });

  test('QUIT before login: goodbye, nothing changes', async () => {
    const { wire } = await Wire.open(lab.port);
    expect(await wire.command('QUIT')).toBe('+OK goodbye');
    expect(await wire.rest()).toBe('');
  });
});

describe('UIDL', () => {
  test('stable across sessions, and after another message is deleted (numbers change, ids do not)', async () => {
    const server = await startPop3();
    try {
      const uids = [];
      for (const subject of ['a', 'b', 'c']) uids.push(await server.deliver('alice', message(subject)));
      const first = await session(server.port, 'alice', [['uidl']]);
      expect((okOf(first, 'uidl') as unknown[])[1]).toEqual([`1 ${uids[0]}`, `2 ${uids[1]}`, `3 ${uids[2]}`]);
      const second = await session(server.port, 'alice', [['uidl'], ['dele', 2]]);
      expect((okOf(second, 'uidl') as unknown[])[1]).toEqual([`1 ${uids[0]}`, `2 ${uids[1]}`, `3 ${uids[2]}`]);
      const third = await session(server.port, 'alice', [['uidl'], ['uidl', 2], ['retr', 2]]);
      expect((okOf(third, 'uidl', 0) as unknown[])[1]).toEqual([`1 ${uids[0]}`, `2 ${uids[2]}`]);
      expect(okOf(third, 'uidl', 1)).toBe(`+OK 2 ${uids[2]}`);
      expect((okOf(third, 'retr') as [string, string[]])[1]).toContain('Subject: c');
      // The ids are what RFC 1939 allows: 1 to 70 characters 0x21..0x7E.
      for (const uid of uids) expect(uid).toMatch(/^[\x21-\x7e]{1,70}$/);
    } finally {
      await server.stop();
    }
  });
});

describe('options', () => {
  test('domain: one server per mail domain; carol reads example.test mail, alice cannot log in there (fromLab)', async () => {
    const example = await startPop3({ fromLab: true, domain: 'example.test', authFailureDelayMs: 1 });
    const labTest = await startPop3({ fromLab: true, domain: 'lab.test', dataDir: example.dataDir, authFailureDelayMs: 1 });
    try {
      await example.deliver('carol', message('for carol'));
      const carol = await poplib(example.port, [['user', 'carol'], ['pass_', 'carol'], ['stat'], ['quit']]);
      expect(okOf(carol, 'welcome')).toBe('+OK wirelab POP3 server for example.test ready');
      expect((okOf(carol, 'stat') as number[])[0]).toBe(1);
      const alice = await poplib(example.port, [['user', 'alice'], ['pass_', 'alice'], ['quit']]);
      expect(alice.find((r) => r.op === 'pass_')!.error).toBe('-ERR [AUTH] wrong user name or password');
      // ...and the other way round: carol is not a lab.test user.
      const onLab = await poplib(labTest.port, [['user', 'carol'], ['pass_', 'carol'], ['user', 'alice'], ['pass_', 'alice'], ['quit']]);
      expect(outcomes(onLab).map(([op, r]) => `${op} ${String(r).slice(0, 7)}`)).toEqual([
        'welcome +OK wir', 'user +OK now', 'pass_ -ERR [A', 'user +OK now', 'pass_ +OK ali', 'quit +OK goo',
      ]);
      // The Maildir is <dataDir>/mail/<domain>/<user>/Maildir.
      expect(await readdir(path.join(example.dataDir, 'mail', 'example.test', 'carol', 'Maildir', 'new'))).toHaveLength(1);
    } finally {
      await labTest.stop();
      await example.stop();
    }
  });

  test('users: the default is nobody', async () => {
    const bare = await startPop3({ users: undefined, authFailureDelayMs: 1 });
    try {
      const results = await poplib(bare.port, [['user', 'alice'], ['pass_', 'alice'], ['quit']]);
      expect(results.find((r) => r.op === 'pass_')!.error).toBe('-ERR [AUTH] wrong user name or password');
      expect(bare.logs.matching(/ warn no users for this domain: nobody can log in domain=lab.test$/)).toHaveLength(1);
    } finally {
      await bare.stop();
    }
  });

  test('greeting: the text after +OK; a CR or LF in it cannot make a second line', async () => {
    const server = await startPop3({ greeting: 'Welcome to the lab\r\n+OK fake' });
    try {
      const { wire, greeting } = await Wire.open(server.port);
      expect(greeting).toBe('+OK Welcome to the lab  +OK fake');
      expect(await wire.command('QUIT')).toBe('+OK goodbye');
    } finally {
      await server.stop();
    }
  });

  test('fromLab refuses a data directory inside the lab folder', async () => {
    await expect(Pop3Server.fromLab('/tmp/lab-x', '/tmp/lab-x/data')).rejects.toThrow(/inside the lab directory/);
  });
});

test('after all of the above, the shared server still serves', async () => {
  await stillServes(lab.port);
});
