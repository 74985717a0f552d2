/**
 * POP3 inside TLS: STLS on the plain port (RFC 2595) and POP3S on its own port
 * (RFC 8314), with the clients a student would use: openssl s_client, curl, and
 * Python's poplib. And the rules: no password in clear unless the lesson allows it, a
 * second STLS refused, commands pipelined after STLS thrown away.
 */
import { fixedTls } from '../../../services/common/tls';
import { RawSocket } from '../../helpers/socket';
import { run, testCertificate, type TestCertificate } from '../../helpers/tls';
import { pw, startPop3, Wire, type RunningPop3 } from './clients';

let cert: TestCertificate;
beforeAll(() => (cert = testCertificate()));
afterAll(() => cert.remove());

let server: RunningPop3;
let tlsPort: number;
afterEach(() => server?.stop());

async function start(options: { allowPlaintextLogin?: boolean } = {}): Promise<void> {
  server = await startPop3({ tls: fixedTls({ key: cert.key, cert: cert.cert }), allowPlaintextLogin: options.allowPlaintextLogin ?? false });
  tlsPort = (await server.server.listenTls(0, '127.0.0.1')).port;
  await server.deliver('bob', 'Subject: over TLS\r\n\r\nhello inside TLS\r\n');
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
  const { code, output: out } = await run('python3', ['-c', POPLIB, String(server.port), 'stls', pw('bob'), cert.certFile]);
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
  const { code, output: out } = await run('python3', ['-c', POPLIB, String(tlsPort), 'implicit', pw('bob'), cert.certFile]);
  expect(code).toBe(0);
  expect(JSON.parse(out)).toMatchObject({ count: 1, after: expect.arrayContaining(['USER']) });
});

test('curl: pop3s:// and pop3:// with --ssl-reqd list the mailbox', async () => {
  await start();
  const implicit = await run('curl', ['-sS', '--cacert', cert.certFile, '-u', `bob:${pw('bob')}`, `pop3s://localhost:${tlsPort}/`]);
  expect(implicit).toMatchObject({ code: 0, output: expect.stringMatching(/^1 \d+\r\n$/) });
  const upgraded = await run('curl', ['-sS', '--ssl-reqd', '--cacert', cert.certFile, '-u', `bob:${pw('bob')}`, `pop3://localhost:${server.port}/1`]);
  expect(upgraded.code).toBe(0);
  expect(upgraded.output).toContain('hello inside TLS');
});

test('openssl s_client -starttls pop3 verifies the certificate, then talks POP3 inside', async () => {
  await start();
  const { code, output: out } = await run(
    'openssl',
    ['s_client', '-starttls', 'pop3', '-connect', `127.0.0.1:${server.port}`, '-CAfile', cert.certFile, '-verify_return_error', '-verify_hostname', 'localhost', '-quiet', '-crlf'],
    { input: `USER bob\nPASS ${pw('bob')}\nSTAT\nQUIT\n` },
  );
  expect(code).toBe(0);
  expect(out).toMatch(/\+OK bob@lab\.test has 1 messages/);
  expect(out).toMatch(/\+OK 1 \d+/);
});

test('no password in clear by default: CAPA offers no USER, so curl does not send it; USER typed anyway gets -ERR [AUTH]', async () => {
  await start();
  const { code, output: out } = await run('curl', ['-sS', '-u', `bob:${pw('bob')}`, `pop3://127.0.0.1:${server.port}/`]);
  expect(code).toBe(67);
  expect(out).toMatch(/Login denied/);
  const { wire } = await Wire.open(server.port);
  expect(await wire.command('USER bob')).toBe('-ERR [AUTH] plain-text login is not allowed on a connection in clear: use STLS first (or port 995)');
  wire.destroy();
});

test('the plain-text lesson (allowPlaintextLogin) still works on the plain port, and STLS is offered beside it', async () => {
  await start({ allowPlaintextLogin: true });
  const { code, output: out } = await run('curl', ['-sS', '-u', `bob:${pw('bob')}`, `pop3://127.0.0.1:${server.port}/`]);
  expect({ code, out }).toEqual({ code: 0, out: expect.stringMatching(/^1 \d+\r\n$/) });
});

/** What a man in the middle would do: put commands after STLS in the same packet. */
test('commands pipelined after STLS are thrown away, never run inside TLS; a second STLS is refused', async () => {
  await start();
  const plain = await RawSocket.connect(server.port);
  plain.write(`STLS\r\nUSER bob\r\nPASS ${pw('bob')}\r\nDELE 1\r\nQUIT\r\n`);
  expect(await plain.readUntil('Begin TLS negotiation now\r\n')).toMatch(/^\+OK wirelab POP3 server for lab\.test ready\r\n\+OK Begin TLS negotiation now\r\n$/);
  expect(plain.unread).toBe('');
  const secure = await plain.startTls({ ca: cert.cert, servername: 'localhost' });
  secure.write('STAT\r\nSTLS\r\nQUIT\r\n');
  const inside = await secure.rest();
  // Not logged in: the injected USER/PASS never ran, so STAT is refused and nothing was deleted.
  expect(inside).toBe('-ERR STAT needs a login first: USER name, then PASS password\r\n-ERR the connection is encrypted already\r\n+OK goodbye\r\n');
  await server.logs.waitFor(/ warn discarded input sent before the TLS handshake .*commands=4/);
  expect(await server.maildir('bob').list()).toHaveLength(1);
});

test('STLS without a certificate is not offered, and answered -ERR', async () => {
  server = await startPop3({});
  const { code, output: out } = await run('openssl', ['s_client', '-starttls', 'pop3', '-connect', `127.0.0.1:${server.port}`, '-quiet']);
  expect(code).not.toBe(0);
  expect(out).toMatch(/STLS|didn't|error/i);
});
