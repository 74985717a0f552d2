/**
 * SIGTERM, as `docker stop` and `docker compose down` send it, to each service as a
 * process (dist/services/<service>/main.js, as its container runs it): the service stops
 * accepting, tells the sessions open the protocol's goodbye (SMTP 421 4.3.2, POP3 -ERR,
 * FTP 421, IMAP * BYE, HTTP `Connection: close`, SSH_MSG_DISCONNECT), lets the work in
 * progress (a message after DATA, an upload, a RETR, a response) finish within
 * SHUTDOWN_GRACE_MS, and exits 0. What was in progress is on disk, whole.
 *
 * Each test waits for the log line that says the service got the signal and holds the
 * work in progress, then lets the client finish: no timing is guessed.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { homeDir } from '../../../services/common/homes';
import { maildirPath } from '../../../services/common/maildir';
import { startMain, type Child } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { call, sftpSession } from '../sftp/clients';
import { RawClient } from '../smtp/harness';
import { within } from '../../helpers/wait';

let dataDir: string;
const running: Child[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-stop-'));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((child) => child.stop('SIGKILL')));
  await rm(dataDir, { recursive: true, force: true });
});

/** startMain() with the data folder of this test, TLS ports off; stopped after the test whatever happens. */
async function start(service: string, env: Record<string, string> = {}): Promise<{ child: Child; port: number }> {
  const started = await startMain(service, { WIRELAB_DATA: dataDir, WIRELAB_LOG_LEVEL: 'info', ...env });
  running.push(started.child);
  return started;
}

/** SIGTERM, then the log line that shows the service holding the work in progress for it. */
async function terminate(child: Child, holding: RegExp): Promise<void> {
  process.kill(child.pid, 'SIGTERM');
  await child.waitFor(holding);
}

/** Bytes no two runs share, and their digest. */
function payload(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 10)) & 0xff;
  return bytes;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

test('smtp: a message after DATA is taken and answered 250, then 421 4.3.2; an idle session gets 421 at once; exit 0', async () => {
  const { child, port } = await start('smtp', { SUBMISSION_PORT: '', SMTPS_PORT: '', LAB_DNS: '127.0.0.1:9' });
  const idle = await RawClient.connect(port);
  await idle.expect(/^220 /);
  const c = await RawClient.connect(port);
  await c.expect(/^220 /);
  await c.command('EHLO stop.lab.test');
  await c.command('MAIL FROM:<stop@example.test>');
  await c.command('RCPT TO:<bob@lab.test>');
  expect(await c.command('DATA')).toMatch(/^354 /);
  c.write('Message-ID: <graceful-stop-1@example.test>\r\nSubject: sent across a SIGTERM\r\n\r\nfirst half\r\n');
  await terminate(child, / smtp info closing sessions=2 graceMs=10000/);
  expect(await idle.expect(/^421 /)).toBe('421 4.3.2 Service shutting down');
  await idle.closed();
  c.write('second half\r\n.\r\n');
  expect(await c.expect(/^\d{3} /)).toMatch(/^250 2\.0\.0 Ok: delivered as/);
  expect(await c.expect(/^\d{3} /)).toBe('421 4.3.2 Service shutting down');
  await c.closed();
  expect(await child.exit()).toEqual({ code: 0, signal: null });
  const inbox = path.join(maildirPath(dataDir, 'lab.test', 'bob'), 'new');
  const files = await readdir(inbox);
  expect(files).toHaveLength(1);
  expect(await readFile(path.join(inbox, files[0]!), 'utf8')).toMatch(/graceful-stop-1@example\.test[\s\S]*first half\r\nsecond half\r\n$/);
});

test('pop3: a RETR to a client that reads slowly is sent whole, then -ERR and close; exit 0', async () => {
  // A message bigger than the socket buffers on both sides: the RETR waits for the client.
  const body = payload(12 * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
  const message = `Subject: big\r\nMessage-ID: <big@lab.test>\r\n\r\n${body}\r\n`;
  const maildir = maildirPath(dataDir, 'lab.test', 'bob');
  for (const sub of ['new', 'cur', 'tmp']) await mkdir(path.join(maildir, sub), { recursive: true });
  await writeFile(path.join(maildir, 'new', '1700000000.big.lab'), message);
  const { child, port } = await start('pop3', { POP3S_PORT: '' });
  const c = await RawSocket.connect(port);
  await c.readLine();
  c.write('USER bob\r\nPASS bob\r\n');
  await c.readUntil(/\+OK[^\r]*\r\n\+OK[^\r]*\r\n/);
  c.socket.pause(); // read nothing while the server sends
  c.write('RETR 1\r\n');
  await terminate(child, / pop3 info shutting down after the command in progress .*graceMs=10000/);
  c.socket.resume();
  const all = await c.rest({ ms: 20000 });
  expect(all.startsWith('+OK')).toBe(true);
  const retr = all.slice(all.indexOf('\r\n') + 2);
  expect(retr.endsWith('\r\n.\r\n-ERR [SYS/TEMP] server shutting down\r\n')).toBe(true);
  expect(retr.slice(0, -'.\r\n-ERR [SYS/TEMP] server shutting down\r\n'.length)).toBe(message);
  expect(await child.exit()).toEqual({ code: 0, signal: null });
});

test('imap: an open session gets * BYE and the connection closes; exit 0', async () => {
  const { child, port } = await start('imap', { IMAPS_PORT: '' });
  const c = await RawSocket.connect(port);
  expect(await c.readLine()).toMatch(/^\* OK /);
  process.kill(child.pid, 'SIGTERM');
  expect(await c.rest()).toBe('* BYE [UNAVAILABLE] server shutting down\r\n');
  expect(await child.exit()).toEqual({ code: 0, signal: null });
});

/** The FTP control connection: replies by their code. */
class FtpControl extends RawSocket {
  /** The last line of the next reply (`226 ...`; the lines of a multi-line reply before it are passed over). */
  async reply(): Promise<string> {
    for (;;) {
      const line = await this.readLine();
      if (/^\d{3} /.test(line)) return line;
    }
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }
}

test('ftp: a STOR in progress completes (226, the file whole), then 421; exit 0', async () => {
  const { child, port } = await start('ftp', { FTPS_PORT: '' });
  const c = await FtpControl.connect(port);
  expect(await c.reply()).toMatch(/^220 /);
  expect(await c.command('USER alice')).toMatch(/^331 /);
  expect(await c.command('PASS alice')).toMatch(/^230 /);
  expect(await c.command('TYPE I')).toMatch(/^200 /);
  const epsv = await c.command('EPSV');
  const dataPort = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)![1]);
  const data = await RawSocket.connect(dataPort);
  const upload = payload(4 * 1024 * 1024);
  expect(await c.command('STOR across-sigterm.bin')).toMatch(/^125 /); // the data connection is open: the transfer runs
  data.write(upload.subarray(0, upload.length / 2));
  await terminate(child, / ftp info shutting down after the command in progress .*graceMs=10000/);
  data.end(upload.subarray(upload.length / 2));
  expect(await c.reply()).toMatch(/^226 /);
  expect(await c.reply()).toMatch(/^421 .*shutting down/);
  await c.closed();
  expect(await child.exit()).toEqual({ code: 0, signal: null });
  expect(sha256(await readFile(path.join(homeDir(dataDir, 'alice'), 'across-sigterm.bin')))).toBe(sha256(upload));
});

test('sftp: a file open for writing may be finished and closed (OK), then the server disconnects; exit 0', async () => {
  const { child, port } = await start('sftp');
  const { client, sftp } = await sftpSession(port);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const upload = payload(1024 * 1024);
  const handle = await call<Buffer>((cb) => sftp.open('/across-sigterm.bin', 'w', cb));
  await call((cb) => sftp.write(handle, upload, 0, upload.length / 2, 0, cb));
  await terminate(child, / sftp info shutting down after the uploads in progress .*graceMs=10000/);
  await call((cb) => sftp.write(handle, upload, upload.length / 2, upload.length / 2, upload.length / 2, cb));
  await call((cb) => sftp.close(handle, cb));
  await within(closed, 'the server to disconnect');
  expect(await child.exit()).toEqual({ code: 0, signal: null });
  expect(sha256(await readFile(path.join(homeDir(dataDir, 'alice'), 'across-sigterm.bin')))).toBe(sha256(upload));
});

test('http: a request whose body is still arriving is answered, with Connection: close; exit 0', async () => {
  const { child, port } = await start('http', { HTTPS_PORT: '', WIRELAB_LOG_LEVEL: 'debug' });
  const c = await RawSocket.connect(port);
  c.write('POST /inspect HTTP/1.1\r\nHost: www.lab.test\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello');
  await child.waitFor(/ http debug request conn=c\d+ method=POST target=\/inspect/);
  await terminate(child, / http info shutting down signal=SIGTERM/);
  c.write('world');
  const response = await c.rest();
  expect(response).toMatch(/^HTTP\/1\.1 200 /);
  expect(response).toMatch(/\r\nConnection: close\r\n/i);
  expect(response).toContain('helloworld');
  expect(await child.exit()).toEqual({ code: 0, signal: null });
});

test('app and proxy: a slow response in flight through the proxy is finished, with Connection: close; both exit 0', async () => {
  const { child: app, port: appPort } = await start('app', { WIRELAB_LOG_LEVEL: 'debug' });
  const { child: proxy, port } = await start('proxy', { PROXY_UPSTREAM: `127.0.0.1:${appPort}`, PROXY_HTTPS_PORT: '', LAB_DNS: '127.0.0.1:9' });
  const c = await RawSocket.connect(port);
  c.write('GET /slow?ms=1000 HTTP/1.1\r\nHost: shop.lab.test\r\n\r\n');
  await app.waitFor(/ app debug request conn=c\d+ method=GET target="\/slow/);
  await terminate(proxy, / proxy info shutting down signal=SIGTERM/);
  await terminate(app, / app info shutting down signal=SIGTERM/);
  const response = await c.rest({ ms: 10000 });
  expect(response).toMatch(/^HTTP\/1\.1 200 /);
  expect(response).toMatch(/\r\nConnection: close\r\n/i);
  expect(await proxy.exit()).toEqual({ code: 0, signal: null });
  expect(await app.exit()).toEqual({ code: 0, signal: null });
});

test('dns: a TCP connection open at the signal is closed (FIN, after its answers); exit 0', async () => {
  const { child, port } = await start('dns');
  const c = await RawSocket.connect(port);
  // www.lab.test A over TCP (RFC 1035 4.2.2: a two-octet length first).
  const query = Buffer.from('1234010000010000000000000377777703' + '6c6162' + '04746573740000010001', 'hex');
  c.write(Buffer.concat([Buffer.from([0, query.length]), query]));
  await c.waitFor((text) => text.length >= 2 + 12, { what: 'the answer' });
  process.kill(child.pid, 'SIGTERM');
  const answer = await c.restBytes();
  expect(answer.readUInt16BE(2)).toBe(0x1234);
  expect(c.error).toBeUndefined();
  expect(await child.exit()).toEqual({ code: 0, signal: null });
});
