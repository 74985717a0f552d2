/**
 * POP3 inside TLS: STLS on the plain port (RFC 2595) and POP3S on its own port
 * (RFC 8314), with the clients a student would use: openssl s_client, curl, and
 * Python's poplib. And the rules: no password in clear unless the lesson allows it, a
 * second STLS refused, commands pipelined after STLS thrown away.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { testCertificate, type TestCertificate } from '../../helpers/tls';
import { pw, startPop3, Wire, type RunningPop3 } from './clients';

let cert: TestCertificate;
beforeAll(() => (cert = testCertificate()));
afterAll(() => cert.remove());

let server: RunningPop3;
let tlsPort: number;
afterEach(() => server?.stop());

async function start(options: { allowPlaintextLogin?: boolean } = {}): Promise<void> {
  server = await startPop3({ tls: { key: cert.key, cert: cert.cert }, allowPlaintextLogin: options.allowPlaintextLogin ?? false });
  tlsPort = (await server.server.listenTls(0, '127.0.0.1')).port;
  await server.deliver('bob', 'Subject: over TLS\r\n\r\nhello inside TLS\r\n');
}

function run(command: string, args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 20000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as NodeJS.ErrnoException).code ?? 1) : 0, out: stdout + stderr }),
    );
    child.stdin?.end(input);
  });
}

const POPLIB = String.raw`
import json, poplib, ssl, sys
port, mode, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=sys.argv[4])
if mode == 'stls':
    p = poplib.POP3('127.0.0.1', port, timeout=10)
    caps_before = sorted(p.capa().keys())
    p.stls(ctx)
else:
    caps_before = None
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=10)
caps = sorted(p.capa().keys())
p.user('bob'); p.pass_(password)
count, size = p.stat()
body = b'\n'.join(p.retr(1)[1]).decode()
p.quit()
print(json.dumps({'before': caps_before, 'after': caps, 'count': count, 'body': body, 'cipher': p.sock.cipher()[1] if hasattr(p.sock, 'cipher') else None}))
`;

test('poplib: STLS on the plain port, then USER/PASS inside TLS', async () => {
  await start();
  const { code, out } = await run('python3', ['-c', POPLIB, String(server.port), 'stls', pw('bob'), cert.certFile]);
  expect(code).toBe(0);
  const result = JSON.parse(out) as { before: string[]; after: string[]; count: number; body: string };
  // In clear: STLS, and no USER (RFC 2595 4: a client must not send a password where USER is not offered).
  expect(result.before).toContain('STLS');
  expect(result.before).not.toContain('USER');
  expect(result.after).toContain('USER');
  expect(result.after).not.toContain('STLS');
  expect(result.count).toBe(1);
  expect(result.body).toContain('hello inside TLS');
  await server.logs.waitFor(/ info tls started .*version=TLSv1\.3/);
});

test('poplib: POP3S, TLS from the first byte (port 995 in the lab)', async () => {
  await start();
  const { code, out } = await run('python3', ['-c', POPLIB, String(tlsPort), 'implicit', pw('bob'), cert.certFile]);
  expect(code).toBe(0);
  expect(JSON.parse(out)).toMatchObject({ count: 1, after: expect.arrayContaining(['USER']) });
});

test('curl: pop3s:// and pop3:// with --ssl-reqd list the mailbox', async () => {
  await start();
  const implicit = await run('curl', ['-sS', '--cacert', cert.certFile, '-u', `bob:${pw('bob')}`, `pop3s://localhost:${tlsPort}/`]);
  expect(implicit).toEqual({ code: 0, out: expect.stringMatching(/^1 \d+\r\n$/) });
  const upgraded = await run('curl', ['-sS', '--ssl-reqd', '--cacert', cert.certFile, '-u', `bob:${pw('bob')}`, `pop3://localhost:${server.port}/1`]);
  expect(upgraded.code).toBe(0);
  expect(upgraded.out).toContain('hello inside TLS');
});

test('openssl s_client -starttls pop3 verifies the certificate, then talks POP3 inside', async () => {
  await start();
  const { code, out } = await run(
    'openssl',
    ['s_client', '-starttls', 'pop3', '-connect', `127.0.0.1:${server.port}`, '-CAfile', cert.certFile, '-verify_return_error', '-verify_hostname', 'localhost', '-quiet', '-crlf'],
    `USER bob\nPASS ${pw('bob')}\nSTAT\nQUIT\n`,
  );
  expect(code).toBe(0);
  expect(out).toMatch(/\+OK bob@lab\.test has 1 messages/);
  expect(out).toMatch(/\+OK 1 \d+/);
});

test('no password in clear by default: CAPA offers no USER, so curl does not send it; USER typed anyway gets -ERR [AUTH]', async () => {
  await start();
  const { code, out } = await run('curl', ['-sS', '-u', `bob:${pw('bob')}`, `pop3://127.0.0.1:${server.port}/`]);
  expect(code).toBe(67);
  expect(out).toMatch(/Login denied/);
  const { wire } = await Wire.open(server.port);
  expect(await wire.command('USER bob')).toBe('-ERR [AUTH] plain-text login is not allowed on a connection in clear: use STLS first (or port 995)');
  wire.destroy();
});

test('the plain-text lesson (allowPlaintextLogin) still works on the plain port, and STLS is offered beside it', async () => {
  await start({ allowPlaintextLogin: true });
  const { code, out } = await run('curl', ['-sS', '-u', `bob:${pw('bob')}`, `pop3://127.0.0.1:${server.port}/`]);
  expect({ code, out }).toEqual({ code: 0, out: expect.stringMatching(/^1 \d+\r\n$/) });
});

/** What a man in the middle would do: put commands after STLS in the same packet. */
test('commands pipelined after STLS are thrown away, never run inside TLS; a second STLS is refused', async () => {
  await start();
  const plain = net.connect(server.port, '127.0.0.1');
  plain.setEncoding('latin1');
  let clear = '';
  const goAhead = new Promise<void>((resolve) => plain.on('data', (d: string) => (clear += d).includes('Begin TLS') && resolve()));
  await new Promise((resolve) => plain.once('connect', resolve));
  plain.write(`STLS\r\nUSER bob\r\nPASS ${pw('bob')}\r\nDELE 1\r\nQUIT\r\n`);
  await goAhead;
  plain.removeAllListeners('data');
  expect(clear).toMatch(/^\+OK wirelab POP3 server for lab\.test ready\r\n\+OK Begin TLS negotiation now\r\n$/);
  const secure = tls.connect({ socket: plain, ca: cert.cert, servername: 'localhost' });
  await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  secure.setEncoding('latin1');
  let inside = '';
  secure.on('data', (d: string) => (inside += d));
  secure.write('STAT\r\nSTLS\r\nQUIT\r\n');
  await new Promise((resolve) => secure.once('close', resolve));
  // Not logged in: the injected USER/PASS never ran, so STAT is refused and nothing was deleted.
  expect(inside).toBe('-ERR STAT needs a login first: USER name, then PASS password\r\n-ERR the connection is encrypted already\r\n+OK goodbye\r\n');
  await server.logs.waitFor(/ warn discarded input sent before the TLS handshake .*commands=4/);
  expect(await server.maildir('bob').list()).toHaveLength(1);
});

test('STLS without a certificate is not offered, and answered -ERR', async () => {
  server = await startPop3({});
  const { code, out } = await run('openssl', ['s_client', '-starttls', 'pop3', '-connect', `127.0.0.1:${server.port}`, '-quiet'], '');
  expect(code).not.toBe(0);
  expect(out).toMatch(/STLS|didn't|error/i);
});
