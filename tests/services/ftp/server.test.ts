/**
 * The FTP service with real clients: curl (passive with EPSV and PASV, active with EPRT
 * and PORT, uploads, listings, -Q commands), lftp (both modes, mirror, put/get/mkdir/mv/rm)
 * and Python's ftplib (binary and ASCII, REST, MLSD, SIZE, MDTM, rename, rmd); then the
 * exact replies of a raw session.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PortInUseError } from '../../../services/common/listen';
import { createLogger, silentSink } from '../../../services/common/logger';
import { FTP_SERVER_DEFAULTS, FtpServer } from '../../../services/ftp/server';
import { LAB_DIR } from '../../helpers/paths';
import { RawSocket } from '../../helpers/socket';
import { curl, ftplib, lftp, listener, outcomes, portArgument, startFtp, UNTOUCHED, Wire, type RunningFtp } from './clients';

let ftp: RunningFtp;
let url: string;
let notes: Buffer;
let scratch: string;
beforeAll(async () => {
  ftp = await startFtp();
  url = `ftp://alice:alice@127.0.0.1:${ftp.port}`;
  notes = await readFile(path.join(LAB_DIR, 'homes/alice/notes.txt'));
  scratch = await mkdtemp(path.join(os.tmpdir(), 'wirelab-ftp-client-'));
});
afterAll(async () => {
  await ftp.stop();
  await rm(scratch, { recursive: true, force: true });
});
afterEach(async () => {
  expect(await ftp.outsideState()).toEqual(UNTOUCHED);
});

/** Some bytes that TYPE A would damage: every byte value, CR LF and bare LF included. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('line\nline\r\nend\r')]);

describe('curl', () => {
  test('download: EPSV first (the default), the content identical', async () => {
    const r = await curl(`${url}/notes.txt`);
    expect(r.stderr).toBe('');
    expect(r.stdout.equals(notes)).toBe(true);
    const lines = ftp.logs.matching(/verb=(EPSV|PASV|RETR)/).slice(-2);
    expect(lines[0]).toMatch(/verb=EPSV reply="229 Entering Extended Passive Mode \(\|\|\|\d+\|\)"/);
    expect(lines[1]).toMatch(/verb=RETR arg=notes.txt reply="226 Transfer complete." user=alice size=\d+ bytes=\d+/);
  });

  test('--ftp-pasv uses EPSV, --disable-epsv uses PASV (227 with the control connection\'s address)', async () => {
    expect((await curl('--ftp-pasv', `${url}/notes.txt`)).stdout.equals(notes)).toBe(true);
    expect(ftp.logs.matching(/verb=(EPSV|PASV)/).at(-1)).toMatch(/verb=EPSV/);
    expect((await curl('--disable-epsv', `${url}/notes.txt`)).stdout.equals(notes)).toBe(true);
    expect(ftp.logs.matching(/verb=(EPSV|PASV)/).at(-1)).toMatch(/verb=PASV reply="227 Entering Passive Mode \(127,0,0,1,\d+,\d+\)\."/);
  });

  test('active mode with -P 127.0.0.1: EPRT, and PORT with --disable-eprt', async () => {
    expect((await curl('-P', '127.0.0.1', `${url}/notes.txt`)).stdout.equals(notes)).toBe(true);
    expect(ftp.logs.matching(/verb=(EPRT|PORT)/).at(-1)).toMatch(/verb=EPRT arg=\|1\|127\.0\.0\.1\|\d+\| reply="200 EPRT command successful/);
    expect((await curl('-P', '127.0.0.1', '--disable-eprt', `${url}/notes.txt`)).stdout.equals(notes)).toBe(true);
    expect(ftp.logs.matching(/verb=(EPRT|PORT)/).at(-1)).toMatch(/verb=PORT arg=127,0,0,1,\d+,\d+ reply="200 PORT command successful/);
  });

  test('upload with -T, binary, passive and active; the file arrives byte for byte', async () => {
    const local = path.join(scratch, 'binary.bin');
    await writeFile(local, BINARY);
    expect((await curl('-T', local, `${url}/up-passive.bin`)).code).toBe(0);
    expect((await curl('-T', local, '-P', '127.0.0.1', `${url}/up-active.bin`)).code).toBe(0);
    expect((await readFile(path.join(ftp.home('alice'), 'up-passive.bin'))).equals(BINARY)).toBe(true);
    expect((await readFile(path.join(ftp.home('alice'), 'up-active.bin'))).equals(BINARY)).toBe(true);
    // ...and back again.
    expect((await curl(`${url}/up-active.bin`)).stdout.equals(BINARY)).toBe(true);
    // No temporary upload file stays behind.
    expect((await readdir(ftp.home('alice'))).filter((n) => n.includes('.upload-'))).toEqual([]);
  });

  test('--ftp-create-dirs and --ftp-method: multicwd, singlecwd, nocwd reach the same nested file', async () => {
    const local = path.join(scratch, 'nested.txt');
    await writeFile(local, 'deep\n');
    expect((await curl('--ftp-create-dirs', '-T', local, `${url}/a/b/nested.txt`)).code).toBe(0);
    for (const method of ['multicwd', 'singlecwd', 'nocwd']) {
      const r = await curl('--ftp-method', method, `${url}/a/b/nested.txt`);
      expect([method, r.stdout.toString()]).toEqual([method, 'deep\n']);
    }
  });

  // (curl reads listings in TYPE A and turns their CR LF into LF.)
  test('listing: LIST in ls -l form, NLST with -l, hidden upload temp files never shown', async () => {
    await writeFile(path.join(ftp.home('alice'), '.notes.txt.upload-0123456789ab'), 'half');
    // The mode the listing shows is the file's own: set here, not taken from however the checkout was cloned.
    await chmod(path.join(ftp.home('alice'), 'notes.txt'), 0o644);
    const list = (await curl(`${url}/`)).stdout.toString();
    expect(list).toMatch(/^-rw-r--r-- +1 alice +alice +\d+ \w{3} [ \d]\d \d\d:\d\d notes\.txt$/m);
    expect(list).toMatch(/^lrwxrwxrwx .* escape -> /m);
    expect(list).not.toContain('.upload-');
    const names = (await curl('-l', `${url}/`)).stdout.toString().split('\n');
    expect(names).toContain('notes.txt');
    expect(names).not.toContain('.notes.txt.upload-0123456789ab');
    await rm(path.join(ftp.home('alice'), '.notes.txt.upload-0123456789ab'));
  });

  test('-Q sends commands before the transfer: MKD, RNFR/RNTO, DELE', async () => {
    await writeFile(path.join(ftp.home('alice'), 'q.txt'), 'q');
    const r = await curl('-Q', 'MKD qdir', '-Q', 'RNFR q.txt', '-Q', 'RNTO qdir/q2.txt', `${url}/qdir/`);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/ q2\.txt\n$/);
    expect((await curl('-Q', 'DELE qdir/q2.txt', '-Q', 'RMD qdir', `${url}/`)).code).toBe(0);
    expect((await readdir(ftp.home('alice'))).filter((n) => n.startsWith('q'))).toEqual([]);
    // A refused -Q command fails the whole curl: 550 for a file that is not there.
    const bad = await curl('-Q', 'DELE no-such-file', `${url}/`);
    expect(bad.code).toBe(21); // CURLE_QUOTE_ERROR
  });

  test('anonymous: pub/ can be read, an upload is refused with 550 and lab/ftp stays as it was', async () => {
    const readme = await readFile(path.join(LAB_DIR, 'ftp/pub/README.txt'));
    expect((await curl(`ftp://127.0.0.1:${ftp.port}/pub/README.txt`)).stdout.equals(readme)).toBe(true);
    expect((await curl(`ftp://127.0.0.1:${ftp.port}/`)).stdout.toString()).toMatch(/^d.* pub\n$/);
    const before = await readdir(path.join(LAB_DIR, 'ftp/pub'));
    const local = path.join(scratch, 'anon.txt');
    await writeFile(local, 'anonymous upload');
    const r = await curl('-T', local, `ftp://127.0.0.1:${ftp.port}/pub/anon.txt`);
    expect(r.code).toBe(25); // CURLE_UPLOAD_FAILED
    expect(r.stderr).toContain('550');
    expect(ftp.logs.matching(/verb=STOR arg=anon.txt reply="550 Permission denied: anonymous users may only read\." user=anonymous/)).toHaveLength(1);
    expect(await readdir(path.join(LAB_DIR, 'ftp/pub'))).toEqual(before);
    // `ftp` is anonymous too; a password is not checked.
    expect((await curl(`ftp://ftp:me%40example.test@127.0.0.1:${ftp.port}/pub/README.txt`)).stdout.equals(readme)).toBe(true);
  });
});

describe('lftp', () => {
  test('passive mode: put, get, mkdir, mv, ls, rm, rmdir', async () => {
    const local = path.join(scratch, 'lftp-put.bin');
    const back = path.join(scratch, 'lftp-get.bin');
    await writeFile(local, BINARY);
    const r = await lftp(ftp.port, 'alice', 'alice', `set ftp:passive-mode on; mkdir lf; put ${local} -o lf/a.bin; mv lf/a.bin lf/b.bin; ls lf; get lf/b.bin -o ${back}; rm lf/b.bin; rmdir lf`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/ b\.bin\r?\n/);
    expect((await readFile(back)).equals(BINARY)).toBe(true);
    expect(await readdir(ftp.home('alice'))).not.toContain('lf');
    expect(ftp.logs.matching(/verb=PASV reply="227/).length).toBeGreaterThan(0);
  });

  test('active mode: mirror a folder up (mirror -R) and down again, identical', async () => {
    const up = path.join(scratch, 'tree');
    await mkdir(path.join(up, 'sub'), { recursive: true });
    await writeFile(path.join(up, 'one.txt'), 'one\n');
    await writeFile(path.join(up, 'sub', 'two.bin'), BINARY);
    const down = path.join(scratch, 'tree-back');
    const portsBefore = ftp.logs.matching(/verb=(PORT|EPRT) .*reply="200/).length;
    const r = await lftp(ftp.port, 'alice', 'alice', `set ftp:passive-mode off; mirror -R ${up} tree; mirror tree ${down}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await readFile(path.join(down, 'one.txt'), 'utf8')).toBe('one\n');
    expect((await readFile(path.join(down, 'sub', 'two.bin'))).equals(BINARY)).toBe(true);
    expect((await readFile(path.join(ftp.home('alice'), 'tree', 'sub', 'two.bin'))).equals(BINARY)).toBe(true);
    expect(ftp.logs.matching(/verb=(PORT|EPRT) .*reply="200/).length).toBeGreaterThan(portsBefore);
  });

  test('a wrong password: lftp fails with 530', async () => {
    const r = await lftp(ftp.port, 'alice', 'wrong', 'ls');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('530');
  });
});

describe('ftplib', () => {
  test('binary and ASCII downloads, REST resume, SIZE by TYPE, MDTM', async () => {
    await writeFile(path.join(ftp.home('alice'), 'lines.txt'), 'one\ntwo\nthree\n');
    const results = await ftplib(ftp.port, [
      ['login', 'alice', 'alice'],
      ['get', 'lines.txt'],
      ['get', 'lines.txt', 4], // REST 4: resume from octet 4
      ['getlines', 'lines.txt'], // TYPE A: CR LF on the wire, lines to ftplib
      ['voidcmd', 'TYPE A'],
      ['size', 'lines.txt'], // 14 octets + 3 CRs in ASCII
      ['voidcmd', 'TYPE I'],
      ['size', 'lines.txt'],
      ['sendcmd', 'MDTM lines.txt'],
      ['quit'],
    ]);
    expect(outcomes(results).slice(1)).toEqual([
      ['login', '230 Login successful.'],
      ['get', 'one\ntwo\nthree\n'],
      ['get', 'two\nthree\n'],
      ['getlines', ['one', 'two', 'three']],
      ['voidcmd', '200 Switching to ASCII mode.'],
      ['size', 17],
      ['voidcmd', '200 Switching to Binary mode.'],
      ['size', 14],
      ['sendcmd', expect.stringMatching(/^213 \d{14}$/)],
      ['quit', '221 Goodbye.'],
    ]);
    expect(ftp.logs.matching(/verb=REST arg=4 reply="350 /)).toHaveLength(1);
  });

  test('ASCII upload stores LF line ends, binary upload stores the bytes; MLSD, rename, mkd, rmd, nlst', async () => {
    const results = await ftplib(ftp.port, [
      ['login', 'alice', 'alice'],
      ['mkd', 'py'],
      ['cwd', 'py'],
      ['putlines', 'text.txt', 'a\r\nb\r\n'],
      ['put', 'data.bin', BINARY.toString('latin1')],
      ['rename', 'text.txt', 'renamed.txt'],
      ['nlst'],
      ['mlsd'],
      ['pwd'],
      ['delete', 'renamed.txt'],
      ['delete', 'data.bin'],
      ['cwd', '..'],
      ['rmd', 'py'],
      ['quit'],
    ]);
    const o = Object.fromEntries(outcomes(results).map(([op, r], i) => [`${i} ${op}`, r]));
    expect(o['2 mkd']).toBe('/py');
    expect(o['4 putlines']).toBe('226 Transfer complete.');
    expect(o['6 rename']).toBe('250 Rename successful.');
    expect(o['7 nlst']).toEqual(['data.bin', 'renamed.txt']);
    const mlsd = o['8 mlsd'] as [string, Record<string, string>][];
    expect(mlsd.map(([name, facts]) => [name, facts.type, facts.size, facts.perm])).toEqual([
      ['data.bin', 'file', String(BINARY.length), 'adfrw'],
      ['renamed.txt', 'file', '4', 'adfrw'],
    ]);
    expect(mlsd[0]![1].modify).toMatch(/^\d{14}$/);
    expect(o['9 pwd']).toBe('/py');
    expect(o['13 rmd']).toBe('250 Remove directory operation successful.');
    // The ASCII upload: 6 octets on the wire ("a\r\nb\r\n"), 4 on the disk ("a\nb\n", MLSD's size above).
    expect(ftp.logs.matching(/verb=STOR arg=text\.txt reply="226 Transfer complete\." user=alice bytes=6/)).toHaveLength(1);
    expect(await readdir(ftp.home('alice'))).not.toContain('py');
  });

  test('anonymous with ftplib: login(), read-only for every writing command', async () => {
    const results = await ftplib(ftp.port, [
      ['login'], // ftplib's default: anonymous, password "anonymous@"
      ['nlst', 'pub'],
      ['mkd', 'x'],
      ['delete', 'pub/README.txt'],
      ['rename', 'pub/README.txt', 'pub/x.txt'],
      ['rmd', 'pub'],
      ['put', 'pub/x.txt', 'x'],
      ['quit'],
    ]);
    expect(outcomes(results).slice(1)).toEqual([
      ['login', '230 Login successful: anonymous, read-only.'],
      ['nlst', ['pub/README.txt', 'pub/rfc959-summary.txt']],
      ['mkd', '550 Permission denied: anonymous users may only read.'],
      ['delete', '550 Permission denied: anonymous users may only read.'],
      ['rename', '550 Permission denied: anonymous users may only read.'],
      ['rmd', '550 Permission denied: anonymous users may only read.'],
      ['put', '550 Permission denied: anonymous users may only read.'],
      ['quit', '221 Goodbye.'],
    ]);
  });
});

describe('a raw session: the exact replies', () => {
  test('greeting, FEAT, SYST, login, PWD, CWD, CDUP, TYPE, MODE, STRU, MLST, STAT, HELP, QUIT', async () => {
    const { wire, greeting } = await Wire.open(ftp.port);
    expect(greeting).toBe('220 wirelab FTP server ready');
    expect(await wire.command('FEAT')).toBe(
      ['211-Features:', ' EPRT', ' EPSV', ' MDTM', ' MLST type*;size*;modify*;perm*;unique*;', ' PASV', ' REST STREAM', ' SIZE', ' TVFS', ' UTF8', '211 End'].join('\n'),
    );
    expect(await wire.command('SYST')).toBe('215 UNIX Type: L8');
    expect(await wire.command('OPTS UTF8 ON')).toBe('200 Always in UTF8 mode.');
    expect(await wire.command('PASS alice')).toBe('503 Login with USER first.');
    expect(await wire.command('USER alice')).toBe('331 Please specify the password.');
    expect(await wire.command('PASS alice')).toBe('230 Login successful.');
    expect(await wire.command('PASS alice')).toBe('230 Already logged in.');
    expect(await wire.command('USER bob')).toMatch(/^530 Already logged in as alice/);
    expect(await wire.command('PWD')).toBe('257 "/" is the current directory.');
    expect(await wire.command('MKD "quoted" dir')).toBe('257 "/""quoted"" dir" created.');
    expect(await wire.command('CWD "quoted" dir')).toBe('250 Directory successfully changed to "/""quoted"" dir".');
    expect(await wire.command('CDUP')).toBe('250 Directory successfully changed to "/".');
    expect(await wire.command('CDUP')).toBe('550 Already at the top: "/" is your home folder.');
    expect(await wire.command('RMD "quoted" dir')).toBe('250 Remove directory operation successful.');
    expect(await wire.command('CWD notes.txt')).toBe('550 Not a folder.');
    expect(await wire.command('CWD nowhere')).toBe('550 No such file or folder.');
    expect(await wire.command('TYPE I')).toBe('200 Switching to Binary mode.');
    expect(await wire.command('TYPE L 8')).toBe('200 Switching to Binary mode.');
    expect(await wire.command('TYPE E')).toBe('504 TYPE E is not supported; use A or I.');
    expect(await wire.command('TYPE X')).toBe('501 TYPE needs A (ASCII) or I (binary).');
    expect(await wire.command('MODE S')).toBe('200 MODE set to S.');
    expect(await wire.command('MODE B')).toBe('504 MODE B is not supported; only MODE S.');
    expect(await wire.command('STRU F')).toBe('200 STRU set to F.');
    expect(await wire.command('ALLO 100')).toBe('202 ALLO is not needed here.');
    expect(await wire.command(`SIZE notes.txt`)).toBe(`213 ${notes.length}`);
    expect(await wire.command('SIZE /')).toBe('550 Not a plain file.');
    expect(await wire.command('MLST notes.txt')).toMatch(/^250-Listing \/notes\.txt\n type=file;size=\d+;modify=\d{14};perm=adfrw;unique=[0-9a-f]+\.[0-9a-f]+; \/notes\.txt\n250 End$/);
    expect(await wire.command('OPTS MLST type;size;')).toBe('200 MLST OPTS type;size;');
    expect(await wire.command('MLST notes.txt')).toBe(`250-Listing /notes.txt\n type=file;size=${notes.length}; /notes.txt\n250 End`);
    expect(await wire.command('STAT')).toMatch(/^211-FTP server status:\n Connected to 127\.0\.0\.1 from 127\.0\.0\.1\n Logged in as alice\n TYPE: BINARY.*\n Data connection: no data connection set up; PROT C \(clear\)\n Current directory: \/\n211 End of status$/);
    expect(await wire.command('HELP')).toMatch(/^214-The following commands are recognized:\n USER <name>\n[\s\S]* RETR <file>\n[\s\S]*214 Help OK\.$/);
    expect(await wire.command('SITE CHMOD 777 notes.txt')).toBe('502 SITE is not implemented here.');
    expect(await wire.command('XYZZY')).toBe('500 Unknown command.');
    expect(await wire.command('RNTO x')).toBe('503 RNFR required first.');
    expect(await wire.command('RNFR notes.txt')).toBe('350 Ready for RNTO.');
    expect(await wire.command('NOOP')).toBe('200 NOOP ok.');
    expect(await wire.command('RNTO x')).toBe('503 RNFR required first.'); // RNTO must come right after RNFR
    expect(await wire.command('REST abc')).toBe('501 REST needs a number of octets: REST 1000');
    expect(await wire.command('RETR notes.txt')).toBe('425 Use PASV, EPSV, PORT or EPRT first.');
    expect(await wire.command('QUIT')).toBe('221 Goodbye.');
    expect(await wire.rest()).toBe('');
  });

  test('pipelined commands, then the client closes its sending side: every command is still answered, in order', async () => {
    const { wire } = await Wire.open(ftp.port);
    wire.write('USER alice\r\nPASS alice\r\nPWD\nTYPE I\r\nSIZE notes.txt\r\n');
    wire.socket.end();
    expect(await wire.rest()).toBe(
      `331 Please specify the password.\r\n230 Login successful.\r\n257 "/" is the current directory.\r\n200 Switching to Binary mode.\r\n213 ${notes.length}\r\n`,
    );
  });

  test('TYPE A converts line ends on RETR and STOR; TYPE I does not; 125 when the data connection was there first', async () => {
    await writeFile(path.join(ftp.home('alice'), 'unix.txt'), 'a\nb\n');
    const wire = await Wire.login(ftp.port);
    expect(await wire.command('TYPE A')).toBe('200 Switching to ASCII mode.');
    const ascii = await wire.passive('RETR unix.txt');
    expect(ascii.replies).toEqual(['125 Data connection already open; ASCII mode transfer starting for unix.txt (4 bytes).', '226 Transfer complete.']);
    expect(ascii.data.toString()).toBe('a\r\nb\r\n');
    const stored = await wire.passive('STOR dos.txt', Buffer.from('x\r\ny\r\n'));
    expect(stored.replies[1]).toBe('226 Transfer complete.');
    expect(await readFile(path.join(ftp.home('alice'), 'dos.txt'), 'utf8')).toBe('x\ny\n');
    await wire.command('TYPE I');
    expect((await wire.passive('RETR unix.txt')).data.toString()).toBe('a\nb\n');
    // APPE adds to the end; REST before STOR keeps that many octets of the old file.
    expect((await wire.passive('APPE dos.txt', Buffer.from('z\n'))).replies[1]).toBe('226 Transfer complete.');
    expect(await readFile(path.join(ftp.home('alice'), 'dos.txt'), 'utf8')).toBe('x\ny\nz\n');
    expect(await wire.command('REST 2')).toBe('350 Restarting at 2. Send RETR (or STOR) to go on.');
    expect((await wire.passive('STOR dos.txt', Buffer.from('Y\n'))).replies[1]).toBe('226 Transfer complete.');
    expect(await readFile(path.join(ftp.home('alice'), 'dos.txt'), 'utf8')).toBe('x\nY\n');
    expect(await wire.command('REST 100')).toMatch(/^350/);
    expect((await wire.passive('RETR unix.txt')).replies).toEqual(['554 REST 100 is beyond the end of the file (4 octets).']);
    expect(await wire.command('QUIT')).toBe('221 Goodbye.');
  });

  test('active mode by hand: PORT to our own listener, 150 then the data, then 226', async () => {
    const wire = await Wire.login(ftp.port);
    const client = await listener('127.0.0.1');
    try {
      expect(await wire.command(`PORT ${portArgument('127.0.0.1', client.port)}`)).toBe('200 PORT command successful. Consider using EPSV.');
      expect(await wire.command('TYPE I')).toMatch(/^200/);
      expect(await wire.command('RETR notes.txt')).toBe(`150 Opening BINARY mode data connection for notes.txt (${notes.length} bytes).`);
      expect((await client.received()).equals(notes)).toBe(true);
      expect(await wire.reply()).toBe('226 Transfer complete.');
      expect(await wire.command('EPRT |2|::1|5000|')).toBe('500 Illegal EPRT command: the data connection can only go back to your own address (127.0.0.1).');
      expect(await wire.command('EPRT |9|x|5000|')).toBe('522 Network protocol not supported, use (1)');
      expect(await wire.command('EPSV 2')).toBe('522 Network protocol not supported, use (1)');
      expect(await wire.command('PORT 1,2,3')).toBe('501 Illegal PORT command: PORT h1,h2,h3,h4,p1,p2');
      // EPSV ALL (RFC 2428 4): from now on only EPSV.
      expect(await wire.command('EPSV ALL')).toBe('200 EPSV ALL ok: from now on only EPSV.');
      expect(await wire.command('PASV')).toMatch(/^503 /);
      expect(await wire.command(`PORT ${portArgument('127.0.0.1', client.port)}`)).toMatch(/^503 /);
      expect((await wire.passive('NLST')).data.toString()).toContain('notes.txt\r\n');
      await wire.command('QUIT');
    } finally {
      await client.close();
    }
  });

  test('ABOR during a download: 426 for the transfer, then 226 for ABOR; ABOR with nothing running: 226', async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 'x');
    await writeFile(path.join(ftp.home('alice'), 'big.bin'), big);
    const wire = await Wire.login(ftp.port);
    await wire.command('TYPE I');
    const data = await RawSocket.connect(await wire.epsv());
    data.socket.pause(); // read nothing: the server's writes back up, the transfer is still running
    expect(await wire.command('RETR big.bin')).toMatch(/^125 /);
    wire.write('\xff\xf4\xff\xf2ABOR\r\n'); // Telnet IP and Synch, then ABOR (RFC 959 4.1.3)
    expect(await wire.reply()).toBe('426 Transfer aborted by ABOR; data connection closed.');
    expect(await wire.reply()).toBe('226 ABOR successful: the transfer was stopped.');
    data.socket.resume();
    expect((await data.restBytes()).length).toBeLessThan(big.length);
    expect(await wire.command('ABOR')).toBe('226 No transfer to abort.');
    await wire.epsv();
    expect(await wire.command('ABOR')).toBe('226 No transfer in progress; data connection closed.');
    expect(await wire.command('NOOP')).toBe('200 NOOP ok.');
    await wire.command('QUIT');
    await rm(path.join(ftp.home('alice'), 'big.bin'));
  });
});

describe('the server object', () => {
  test('options are checked', () => {
    expect(() => new FtpServer({ maxLineLength: 10 })).toThrow(/maxLineLength must be a whole number, at least 64/);
    expect(() => new FtpServer({ passivePorts: { from: 30010, to: 30000 } })).toThrow(/passivePorts/);
    expect(() => new FtpServer({ pasvAddress: '::1' })).toThrow(/pasvAddress must be an IPv4 address/);
    expect(FTP_SERVER_DEFAULTS).toEqual({
      maxLineLength: 512,
      idleTimeoutMs: 300000,
      loginTimeoutMs: 60000,
      maxUnknownCommands: 10,
      dataTimeoutMs: 30000,
      maxConnections: 100,
      maxConnectionsPerAddress: 10,
      maxAuthFailures: 3,
      authFailureDelayMs: 1000,
      maxAuthFailuresPerAddress: 10,
      authCooldownMs: 60000,
      closeGraceMs: 10000,
    });
  });

  test('fromLab refuses a data directory inside lab/; a port in use is a PortInUseError', async () => {
    await expect(FtpServer.fromLab(LAB_DIR, path.join(LAB_DIR, 'data'))).rejects.toThrow(/inside the lab directory/);
    const other = new FtpServer({ dataDir: scratch, log: createLogger('ftp', { sink: silentSink }) });
    await expect(other.listen(ftp.port, '127.0.0.1')).rejects.toBeInstanceOf(PortInUseError);
    await other.close();
  });

  test('the constructor alone: users given, homes created empty under dataDir, no anonymous login without labDir', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-ftp-bare-'));
    const bare = new FtpServer({ users: [{ name: 'dan', password: 'pw-dan', domain: 'lab.test' }], dataDir, allowPlaintextLogin: true, log: createLogger('ftp', { sink: silentSink }) });
    try {
      const { port } = await bare.listen();
      expect(await readdir(path.join(dataDir, 'homes', 'dan'))).toEqual([]);
      const wire = await Wire.login(port, 'dan', 'pw-dan');
      expect((await wire.passive('STOR hello.txt', Buffer.from('hi'))).replies[1]).toBe('226 Transfer complete.');
      await wire.command('QUIT');
      expect(await readFile(path.join(dataDir, 'homes', 'dan', 'hello.txt'), 'utf8')).toBe('hi');
      const { wire: anon } = await Wire.open(port);
      await anon.command('USER anonymous');
      expect(await anon.command('PASS x')).toBe('530 Login incorrect.');
      await anon.command('QUIT');
    } finally {
      await bare.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('pasvAddress is what 227 advertises; EPSV advertises no address', async () => {
    const natted = await startFtp({ pasvAddress: '192.0.2.10' });
    try {
      const wire = await Wire.login(natted.port);
      expect(await wire.command('PASV')).toMatch(/^227 Entering Passive Mode \(192,0,2,10,\d+,\d+\)\.$/);
      expect(await wire.command('EPSV')).toMatch(/^229 Entering Extended Passive Mode \(\|\|\|\d+\|\)$/);
      await wire.command('QUIT');
    } finally {
      await natted.stop();
    }
  });

  test('close(): a session gets 421; an upload still in progress after closeGraceMs is stopped and leaves no file', async () => {
    const closing = await startFtp({ closeGraceMs: 50 });
    const wire = await Wire.login(closing.port);
    const idle = await Wire.login(closing.port, 'bob');
    const data = await RawSocket.connect(await wire.epsv());
    expect(await wire.command('STOR half.bin')).toMatch(/^125 /);
    data.socket.write(Buffer.alloc(1000, 1));
    await closing.server.close();
    expect(await wire.rest()).toBe('426 Transfer aborted: server shutting down.\r\n421 Service closing control connection: the server is shutting down.\r\n');
    expect(await idle.rest()).toBe('421 Service closing control connection: the server is shutting down.\r\n');
    expect((await readdir(closing.home('alice'))).filter((n) => n.includes('half'))).toEqual([]);
    await closing.stop();
  });
});
