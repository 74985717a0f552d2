/**
 * FTP inside TLS (RFC 4217): AUTH TLS on the control port, PBSZ 0 and PROT P for the
 * data connections, and implicit FTPS on its own port, with the clients a student would
 * use: curl, lftp, Python's ftplib.FTP_TLS and openssl s_client. And the rules: no
 * password in clear unless the lesson allows it, AUTH inside TLS refused, commands
 * pipelined after AUTH TLS thrown away.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fixedTls } from '../../../services/common/tls';
import { RawSocket } from '../../helpers/socket';
import { run, testCertificate, type TestCertificate } from '../../helpers/tls';
import { startFtp, type RunningFtp } from './clients';

let cert: TestCertificate;
beforeAll(() => (cert = testCertificate()));
afterAll(() => cert.remove());

let ftp: RunningFtp;
let implicitPort: number;
afterEach(() => ftp?.stop());

async function start(allowPlaintextLogin = false): Promise<void> {
  ftp = await startFtp({ tls: fixedTls({ key: cert.key, cert: cert.cert }), allowPlaintextLogin });
  implicitPort = (await ftp.server.listenTls(0, '127.0.0.1')).port;
}

test('curl --ssl-reqd: AUTH TLS, PBSZ 0, PROT P, and the file over a TLS data connection', async () => {
  await start();
  const notes = await readFile(path.join(ftp.home('alice'), 'notes.txt'), 'utf8');
  const { code, stdout: out, stderr: err } = await run('curl', ['-sS', '-v', '--ssl-reqd', '--cacert', cert.certFile, '-u', 'alice:alice', `ftp://localhost:${ftp.port}/notes.txt`]);
  expect(code).toBe(0);
  expect(out).toBe(notes);
  expect(err).toMatch(/> AUTH (SSL|TLS)[\s\S]*?< 234 /);
  expect(err).toMatch(/> PBSZ 0[\s\S]*?< 200 PBSZ=0/);
  expect(err).toMatch(/> PROT P[\s\S]*?< 200 /);
});

test('curl: implicit FTPS (ftps://, port 990 in the lab), upload and download', async () => {
  await start();
  const up = await run('curl', ['-sS', '--cacert', cert.certFile, '-u', 'alice:alice', '-T', '-', `ftps://localhost:${implicitPort}/over-tls.txt`], { input: 'sent inside TLS\n' });
  expect(up.code).toBe(0);
  expect(await readFile(path.join(ftp.home('alice'), 'over-tls.txt'), 'utf8')).toBe('sent inside TLS\n');
  const down = await run('curl', ['-sS', '--cacert', cert.certFile, '-u', 'alice:alice', `ftps://localhost:${implicitPort}/over-tls.txt`]);
  expect(down).toMatchObject({ code: 0, stdout: 'sent inside TLS\n' });
});

test('lftp with ftp:ssl-force lists the home over TLS', async () => {
  await start();
  const setup = `set net:max-retries 1; set net:timeout 5; set cmd:fail-exit yes; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file ${cert.certFile}`;
  const { code, stdout: out, stderr: err } = await run('lftp', ['-c', `${setup}; open -u alice,alice -p ${ftp.port} localhost; ls`]);
  expect({ code, err }).toEqual({ code: 0, err: '' });
  expect(out).toMatch(/notes\.txt/);
});

const FTPLIB_TLS = String.raw`
import ftplib, io, json, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
f = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=cafile), timeout=10)
f.connect('localhost', port)
f.auth()
f.login('alice', 'alice')
f.prot_p()
names = f.nlst()
buf = io.BytesIO(); f.retrbinary('RETR notes.txt', buf.write)
feat = f.sendcmd('FEAT')
f.quit()
print(json.dumps({'names': names, 'size': len(buf.getvalue()), 'feat': feat}))
`;

test('Python ftplib.FTP_TLS: auth(), login, prot_p(), a listing and a file', async () => {
  await start();
  const { code, stdout: out, stderr: err } = await run('python3', ['-c', FTPLIB_TLS, String(ftp.port), cert.certFile]);
  expect({ code, err }).toEqual({ code: 0, err: '' });
  const result = JSON.parse(out) as { names: string[]; size: number; feat: string };
  expect(result.names).toContain('notes.txt');
  expect(result.size).toBeGreaterThan(0);
  // Inside TLS, FEAT still lists what TLS needs (a client may ask again after AUTH).
  expect(result.feat).toMatch(/ AUTH TLS\n PBSZ\n PROT\n/);
});

test('openssl s_client -starttls ftp verifies the certificate; inside, AUTH again is refused', async () => {
  await start();
  const { code, stdout: out } = await run(
    'openssl',
    ['s_client', '-starttls', 'ftp', '-connect', `127.0.0.1:${ftp.port}`, '-CAfile', cert.certFile, '-verify_return_error', '-verify_hostname', 'localhost', '-quiet', '-crlf'],
    { input: 'AUTH TLS\nUSER alice\nPASS alice\nPWD\nQUIT\n' },
  );
  expect(code).toBe(0);
  expect(out).toMatch(/534 The control connection is encrypted already\./);
  expect(out).toMatch(/230 Login successful\./);
});

test('no password in clear by default: USER gets 530 and FEAT offers AUTH TLS; anonymous still works', async () => {
  await start();
  const denied = await run('curl', ['-sS', '-u', 'alice:alice', `ftp://127.0.0.1:${ftp.port}/notes.txt`]);
  expect(denied.code).toBe(67);
  expect(denied.stderr).toMatch(/Access denied: 530/);
  await ftp.logs.waitFor(/ command .*verb=USER .*reply="530 Non-anonymous sessions must use encryption: send AUTH TLS first\."/);
  const anonymous = await run('curl', ['-sS', `ftp://127.0.0.1:${ftp.port}/pub/`]);
  expect(anonymous.code).toBe(0);
});

test('the plain-text lesson (allowPlaintextLogin): the password in clear is still taken on port 21', async () => {
  await start(true);
  expect((await run('curl', ['-sS', '-u', 'alice:alice', `ftp://127.0.0.1:${ftp.port}/notes.txt`])).code).toBe(0);
});

test('PBSZ and PROT need AUTH TLS first; PROT S is not offered', async () => {
  await start(true);
  const { code, stdout: out } = await run(
    'openssl',
    ['s_client', '-starttls', 'ftp', '-connect', `127.0.0.1:${ftp.port}`, '-CAfile', cert.certFile, '-quiet', '-crlf'],
    { input: 'PROT P\nPBSZ 0\nPROT S\nPROT X\nPROT C\nQUIT\n' },
  );
  expect(code).toBe(0);
  expect(out).toContain('503 PROT needs AUTH TLS and PBSZ 0 first.\r\n200 PBSZ=0\r\n536 PROT S is not supported; use P or C.\r\n504 PROT takes C (clear) or P (private).\r\n200 PROT now Clear');
  const clear = await run('bash', ['-c', `printf 'PBSZ 0\\r\\nQUIT\\r\\n' | nc -N 127.0.0.1 ${ftp.port}`]);
  expect(clear.stdout).toContain('503 PBSZ needs AUTH TLS first.');
});

/** What a man in the middle would do: commands after AUTH TLS in the same packet. */
test('commands pipelined after AUTH TLS are thrown away, never run inside TLS', async () => {
  await start(true);
  const plain = await RawSocket.connect(ftp.port);
  plain.write('AUTH TLS\r\nUSER alice\r\nPASS alice\r\nDELE notes.txt\r\n');
  expect(await plain.readUntil('234 Proceed with TLS negotiation.\r\n')).toBe('220 wirelab FTP server ready\r\n234 Proceed with TLS negotiation.\r\n');
  expect(plain.unread).toBe('');
  const secure = await plain.startTls({ ca: cert.cert, servername: 'localhost' });
  secure.write('PWD\r\nQUIT\r\n');
  const inside = await secure.rest();
  expect(inside).toBe('530 Please log in with USER and PASS first.\r\n221 Goodbye.\r\n');
  await ftp.logs.waitFor(/ warn discarded input sent before the TLS handshake .*commands=3/);
  expect(await readFile(path.join(ftp.home('alice'), 'notes.txt'), 'utf8')).not.toBe('');
});
