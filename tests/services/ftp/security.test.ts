/**
 * Bad input, part 1: paths that leave the home (`../`, absolute paths, symlinks that lead
 * out), anonymous FTP's bounds, the FTP bounce (PORT/EPRT to a third host), a passive data
 * connection from a stranger, and commands before login. Each case asserts the reply, that
 * nothing outside the home was read or written, and that the server serves the next client.
 *
 * The "third host" is 127.0.0.2: Linux routes all of 127/8 to loopback, so a socket bound
 * to 127.0.0.2 is, to the server, another machine.
 */
import { readdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { LAB_DIR } from '../../helpers/paths';
import { RawSocket } from '../../helpers/socket';
import { curl, listener, portArgument, SECRET, startFtp, stillServes, UNTOUCHED, Wire, type RunningFtp } from './clients';

const OUTSIDE = '550 Permission denied: that path is outside your home folder.';
const OUTSIDE_NAME = '553 Permission denied: that path is outside your home folder.';

let ftp: RunningFtp;
let aliceBefore: string[];
beforeAll(async () => {
  ftp = await startFtp();
  aliceBefore = (await readdir(ftp.home('alice'))).sort();
});
afterAll(async () => {
  await ftp.stop();
});
afterEach(async () => {
  // Nothing outside the home was written: the outside folder, bob's home and the data
  // directory's top level are as they were; and the server still serves.
  expect(await ftp.outsideState()).toEqual(UNTOUCHED);
  expect(await readdir(ftp.home('bob'))).toEqual(['todo.txt']);
  expect((await readdir(ftp.dataDir)).sort()).toEqual(['homes', 'outside']);
  expect((await readdir(path.join(ftp.dataDir, 'homes'))).sort()).toEqual(['alice', 'bob', 'carol', 'web']);
  await stillServes(ftp);
});

describe('paths that leave the home', () => {
  test('../ and absolute paths: every command refuses, with 550 (553 for a name to write), and logs it', async () => {
    const wire = await Wire.login(ftp.port);
    const cases: [string, string][] = [
      ['RETR /../../etc/passwd', OUTSIDE],
      ['RETR ../../outside/secret.txt', OUTSIDE],
      ['RETR ../bob/todo.txt', OUTSIDE],
      ['SIZE ../bob/todo.txt', OUTSIDE],
      ['MDTM /../bob/todo.txt', OUTSIDE],
      ['CWD ../..', OUTSIDE],
      ['CWD /..', OUTSIDE],
      ['CWD ../bob', OUTSIDE],
      ['MLST ..', OUTSIDE],
      ['STOR ../escape.txt', OUTSIDE_NAME],
      ['APPE ../bob/todo.txt', OUTSIDE_NAME],
      ['MKD ../newdir', OUTSIDE],
      ['DELE ../bob/todo.txt', OUTSIDE],
      ['RMD ../bob', OUTSIDE],
      ['RNFR ../bob/todo.txt', OUTSIDE],
      ['RETR ..\\..\\outside\\secret.txt', OUTSIDE], // backslashes are refused outright
    ];
    for (const [command, expected] of cases) {
      expect([command, await wire.command(command)]).toEqual([command, expected]);
    }
    // The current directory did not move.
    expect(await wire.command('PWD')).toBe('257 "/" is the current directory.');
    // RNTO to a path outside: 553, and the file stays where it was.
    expect(await wire.command('RNFR notes.txt')).toBe('350 Ready for RNTO.');
    expect(await wire.command('RNTO ../../stolen.txt')).toBe(OUTSIDE_NAME);
    // A listing of somewhere else is refused before any data moves.
    const list = await wire.passive('LIST ../bob');
    expect(list.replies).toEqual([OUTSIDE]);
    expect(ftp.logs.matching(/ warn path refused .*verb=RETR path=\/\.\.\/\.\.\/etc\/passwd reason="leaves the root" user=alice/)).toHaveLength(1);
    expect(ftp.logs.matching(/ warn path refused /).length).toBeGreaterThanOrEqual(cases.length + 2);
    await wire.command('QUIT');
    expect((await readdir(ftp.home('alice'))).sort()).toEqual(aliceBefore);
  });

  test('curl with ../ in the URL: refused, nothing read', async () => {
    const r = await curl('--path-as-is', `ftp://alice:alice@127.0.0.1:${ftp.port}/../bob/todo.txt`);
    expect(r.code).not.toBe(0);
    expect(r.stdout.length).toBe(0);
  });

  test('a long-but-legal path gets a proper error, not a crash', async () => {
    const wire = await Wire.login(ftp.port);
    const name = 'n'.repeat(300); // one name over NAME_MAX (255)
    expect(await wire.command(`RETR ${name}`)).toBe('550 File name too long.');
    expect(await wire.command(`STOR ${name}`)).toBe('553 File name too long.');
    expect(await wire.command(`MKD ${name}`)).toBe('550 File name too long.');
    const deep = Array.from({ length: 100 }, () => 'dir').join('/'); // 399 octets: fits the line
    expect(await wire.command(`CWD ${deep}`)).toBe('550 No such file or folder.');
    await wire.command('QUIT');
  });
});

describe('symlinks inside the home that lead out of it', () => {
  test('RETR, CWD, LIST, SIZE through them are refused; STOR, APPE, MKD through them too', async () => {
    const wire = await Wire.login(ftp.port);
    expect(await wire.command('RETR secret-link')).toBe(OUTSIDE);
    expect(await wire.command('SIZE secret-link')).toBe(OUTSIDE);
    expect(await wire.command('CWD escape')).toBe(OUTSIDE);
    expect(await wire.command('RETR escape/secret.txt')).toBe(OUTSIDE);
    expect(await wire.command('MLST escape')).toBe(OUTSIDE);
    expect((await wire.passive('LIST escape')).replies).toEqual([OUTSIDE]);
    expect((await wire.passive('MLSD escape')).replies).toEqual([OUTSIDE]);
    // Writing through them: a new file in the linked folder, or into the linked file.
    expect(await wire.command('STOR escape/new.txt')).toBe(OUTSIDE_NAME);
    expect(await wire.command('APPE secret-link')).toBe(OUTSIDE_NAME);
    expect(await wire.command('STOR secret-link')).toBe(OUTSIDE_NAME);
    expect(await wire.command('MKD escape/sub')).toBe(OUTSIDE);
    expect(await wire.command('RNFR notes.txt')).toBe('350 Ready for RNTO.');
    expect(await wire.command('RNTO escape/notes.txt')).toBe(OUTSIDE_NAME);
    expect(ftp.logs.matching(/ warn path refused .*path=secret-link reason="a link leads out of the root"/).length).toBeGreaterThan(0);
    await wire.command('QUIT');
  });

  test('with curl and the ftplib-style clients: nothing of the secret comes back', async () => {
    const url = `ftp://alice:alice@127.0.0.1:${ftp.port}`;
    for (const target of ['secret-link', 'escape/secret.txt']) {
      const r = await curl(`${url}/${target}`);
      expect([target, r.code === 0, r.stdout.toString().includes(SECRET)]).toEqual([target, false, false]);
    }
    // The links themselves are shown (they are alice's), not followed.
    const list = (await curl(`${url}/`)).stdout.toString();
    expect(list).toMatch(/^l.* secret-link -> /m);
    expect(list).not.toContain(SECRET);
  });

  test('a link that stays inside the home works', async () => {
    await symlink('notes.txt', path.join(ftp.home('alice'), 'notes-link'));
    try {
      const r = await curl(`ftp://alice:alice@127.0.0.1:${ftp.port}/notes-link`);
      expect(r.stdout.equals(await readFile(path.join(LAB_DIR, 'homes/alice/notes.txt')))).toBe(true);
    } finally {
      await import('node:fs/promises').then((fs) => fs.unlink(path.join(ftp.home('alice'), 'notes-link')));
    }
  });
});

describe('anonymous FTP', () => {
  test('its root is lab/ftp: users.yaml, the homes and lab/ itself are out of reach; nothing can be written', async () => {
    const wire = await Wire.login(ftp.port, 'anonymous', 'student@lab.test');
    expect(await wire.command('RETR ../users.yaml')).toBe(OUTSIDE);
    expect(await wire.command('RETR /../homes/alice/notes.txt')).toBe(OUTSIDE);
    expect(await wire.command('CDUP')).toBe('550 Already at the top: "/" is your home folder.');
    expect(await wire.command('CWD pub')).toBe('250 Directory successfully changed to "/pub".');
    expect(await wire.command('CWD ../..')).toBe(OUTSIDE);
    for (const command of ['STOR x.txt', 'APPE README.txt', 'DELE README.txt', 'MKD x', 'RMD /pub', 'RNFR README.txt']) {
      expect([command, await wire.command(command)]).toEqual([command, '550 Permission denied: anonymous users may only read.']);
    }
    const mlsd = await wire.passive('MLSD');
    expect(mlsd.data.toString()).toMatch(/^type=file;size=\d+;modify=\d{14};perm=r;unique=\S+; README\.txt\r$/m);
    await wire.command('QUIT');
    expect((await readdir(path.join(LAB_DIR, 'ftp'))).sort()).toEqual(['pub']);
    expect((await readdir(path.join(LAB_DIR, 'ftp/pub'))).sort()).toEqual(['README.txt', 'rfc959-summary.txt']);
  });

  test('without a lab directory (or anonymous: false) there is no anonymous login', async () => {
    const closed = await startFtp({ anonymous: false });
    try {
      const { wire } = await Wire.open(closed.port);
      expect(await wire.command('USER anonymous')).toBe('331 Please specify the password.');
      expect(await wire.command('PASS guest')).toBe('530 Login incorrect.');
      await wire.command('QUIT');
    } finally {
      await closed.stop();
    }
  });
});

describe('the FTP bounce: PORT and EPRT only to the client itself', () => {
  test('PORT and EPRT to a third host (127.0.0.2) get 500 and a log line; nothing connects there', async () => {
    const third = await listener('127.0.0.2');
    try {
      const wire = await Wire.login(ftp.port);
      expect(await wire.command(`PORT ${portArgument('127.0.0.2', third.port)}`)).toBe(
        '500 Illegal PORT command: the data connection can only go back to your own address (127.0.0.1).',
      );
      expect(await wire.command(`EPRT |1|127.0.0.2|${third.port}|`)).toBe(
        '500 Illegal EPRT command: the data connection can only go back to your own address (127.0.0.1).',
      );
      // The transfer that would have gone there has no data connection.
      expect(await wire.command('RETR notes.txt')).toBe('425 Use PASV, EPSV, PORT or EPRT first.');
      expect(await wire.command('STOR bounced.txt')).toBe('425 Use PASV, EPSV, PORT or EPRT first.');
      await wire.command('QUIT');
      expect(ftp.logs.matching(new RegExp(` warn illegal PORT .*to=127\\.0\\.0\\.2:${third.port} expected=127\\.0\\.0\\.1 user=alice`))).toHaveLength(1);
      expect(ftp.logs.matching(new RegExp(` warn illegal EPRT .*to=127\\.0\\.0\\.2:${third.port}`))).toHaveLength(1);
      expect(third.connections).toHaveLength(0);
      expect(await readdir(ftp.home('alice'))).not.toContain('bounced.txt');
    } finally {
      await third.close();
    }
  });

  test('curl -P 127.0.0.2 (active mode, data to another address) fails; the server stays put', async () => {
    const r = await curl('-P', '127.0.0.2', `ftp://alice:alice@127.0.0.1:${ftp.port}/notes.txt`);
    expect(r.code).not.toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(ftp.logs.matching(/ warn illegal (EPRT|PORT) .*to=127\.0\.0\.2:/).length).toBeGreaterThanOrEqual(2);
  });

  test('activeToOtherHosts: true (vsftpd port_promiscuous) lets it through: the option does what it says', async () => {
    const promiscuous = await startFtp({ activeToOtherHosts: true });
    const third = await listener('127.0.0.2');
    try {
      const wire = await Wire.login(promiscuous.port);
      await wire.command('TYPE I');
      expect(await wire.command(`PORT ${portArgument('127.0.0.2', third.port)}`)).toMatch(/^200 /);
      expect(await wire.command('RETR notes.txt')).toMatch(/^150 /);
      expect((await third.received()).toString()).toContain("alice's home");
      expect(await wire.reply()).toBe('226 Transfer complete.');
      await wire.command('QUIT');
    } finally {
      await third.close();
      await promiscuous.stop();
    }
  });
});

describe('a passive data connection from another address', () => {
  test('is closed and logged; the transfer waits for the real client, which gets its data', async () => {
    const wire = await Wire.login(ftp.port);
    await wire.command('TYPE I');
    const port = await wire.epsv();
    // A stranger races to the passive port first...
    const stranger = await RawSocket.connect(port, { localAddress: '127.0.0.2' });
    expect((await stranger.restBytes()).length).toBe(0);
    await ftp.logs.waitFor(new RegExp(` warn data connection refused .*from=127\\.0\\.0\\.2 port=${port} expected=127\\.0\\.0\\.1`));
    // ...the real client connects and downloads.
    const data = await RawSocket.connect(port);
    expect(await wire.command('RETR notes.txt')).toMatch(/^125 /);
    expect((await data.restBytes()).equals(await readFile(path.join(LAB_DIR, 'homes/alice/notes.txt')))).toBe(true);
    expect(await wire.reply()).toBe('226 Transfer complete.');
    await wire.command('QUIT');
  });

  test('also for an upload: the stranger\'s bytes never reach the file', async () => {
    const wire = await Wire.login(ftp.port);
    const port = await wire.epsv();
    wire.write('STOR waited.txt\r\n');
    const stranger = await RawSocket.connect(port, { localAddress: '127.0.0.2' });
    stranger.socket.write('forged content');
    await stranger.restBytes();
    const data = await RawSocket.connect(port);
    expect(await wire.reply()).toMatch(/^1(25|50) /); // 150 if the server was already waiting, 125 if the client was quicker
    data.socket.end('real content');
    expect(await wire.reply()).toBe('226 Transfer complete.');
    expect(await readFile(path.join(ftp.home('alice'), 'waited.txt'), 'utf8')).toBe('real content');
    expect(await wire.command('DELE waited.txt')).toMatch(/^250 /);
    await wire.command('QUIT');
  });

  test('passiveFromOtherHosts: true (vsftpd pasv_promiscuous) accepts it', async () => {
    const promiscuous = await startFtp({ passiveFromOtherHosts: true });
    try {
      const wire = await Wire.login(promiscuous.port);
      const other = await RawSocket.connect(await wire.epsv(), { localAddress: '127.0.0.2' });
      expect(await wire.command('NLST')).toMatch(/^125 /);
      expect((await other.restBytes()).toString()).toContain('notes.txt\r\n');
      expect(await wire.reply()).toBe('226 Transfer complete.');
      await wire.command('QUIT');
    } finally {
      await promiscuous.stop();
    }
  });
});

describe('before login', () => {
  test('every command but USER, PASS, QUIT, FEAT, SYST, OPTS, NOOP, HELP gets 530', async () => {
    const { wire } = await Wire.open(ftp.port);
    const refused = ['LIST', 'NLST', 'MLSD', 'RETR notes.txt', 'STOR x.txt', 'APPE x.txt', 'DELE notes.txt', 'MKD x', 'RMD x', 'RNFR notes.txt', 'RNTO x', 'CWD /', 'CDUP', 'PWD', 'SIZE notes.txt', 'MDTM notes.txt', 'MLST', 'TYPE I', 'MODE S', 'STRU F', 'PASV', 'EPSV', `PORT ${portArgument('127.0.0.1', 5000)}`, 'EPRT |1|127.0.0.1|5000|', 'REST 0', 'ABOR', 'STAT', 'ALLO 1', 'SITE HELP', 'XYZZY'];
    for (const command of refused) {
      expect([command, await wire.command(command)]).toEqual([command, '530 Please log in with USER and PASS first.']);
    }
    expect(await wire.command('NOOP')).toBe('200 NOOP ok.');
    expect(await wire.command('SYST')).toBe('215 UNIX Type: L8');
    expect(await wire.command('FEAT')).toMatch(/^211-Features:/);
    expect(await wire.command('HELP')).toMatch(/^214-/);
    expect(await wire.command('OPTS UTF8 ON')).toBe('200 Always in UTF8 mode.');
    expect(await wire.command('QUIT')).toBe('221 Goodbye.');
    expect((await readdir(ftp.home('alice'))).sort()).toEqual(aliceBefore);
  });
});
