/**
 * The line-session engine (services/common/lineSession.ts) on its own, with a toy
 * protocol a few lines long, over real sockets: order and pipelining, half-close, the
 * unknown-command limit, the HTTP answer, the timers, and the TLS upgrade that throws
 * away what was pipelined in clear. POP3, FTP and IMAP get the same behaviour from it;
 * their own tests check it in their words (line-guards.test.ts).
 */
import net from 'node:net';
import { AuthThrottle } from '../../../services/common/authThrottle';
import { LineSession, SESSION_DEFAULTS, TOO_LONG, type Farewell, type Framer, type SessionLimits } from '../../../services/common/lineSession';
import { createLogger } from '../../../services/common/logger';
import { SessionHost } from '../../../services/common/sessionHost';
import { fixedTls, type TlsStarter } from '../../../services/common/tls';
import { LogCollector } from '../../helpers/logs';
import { RawSocket } from '../../helpers/socket';
import { testCertificate, type TestCertificate } from '../../helpers/tls';
import { WAIT_MS } from '../../helpers/wait';

/** Lines end with LF; a line is a command, `word arg`. */
class Lines implements Framer<string> {
  private pending = '';
  push(chunk: Buffer): (string | typeof TOO_LONG)[] {
    const parts = (this.pending + chunk.toString('latin1')).split('\n');
    this.pending = parts.pop()!;
    return parts.map((p) => (p.length > 40 ? TOO_LONG : p.replace(/\r$/, '')));
  }
  reset(): number {
    const n = this.pending.length;
    this.pending = '';
    return n;
  }
}

/**
 * The toy protocol: `ECHO x` answers `OK x`, `SLOW x` the same after a pause, `LOGIN`
 * logs in, `STARTTLS` upgrades, `QUIT` ends; anything else is unknown.
 */
class Toy extends LineSession<string, string> {
  static tls?: TlsStarter;

  protected encode(reply: string): Buffer {
    return Buffer.from(reply + '\r\n');
  }
  protected farewellFor(reason: Farewell): string | undefined {
    return reason === 'idle' ? undefined : `BYE ${reason}`;
  }
  protected overlong(): { reply: string; close: boolean } {
    return { reply: 'ERR too long', close: false };
  }
  protected async execute(line: string): Promise<string | undefined> {
    const [verb, ...rest] = line.split(' ');
    const arg = rest.join(' ');
    switch (verb) {
      case 'ECHO':
        return `OK ${arg}${this.secure ? ' (tls)' : ''}`;
      case 'SLOW':
        await new Promise((resolve) => setImmediate(resolve));
        return `OK ${arg}`;
      case 'LOGIN':
        this.loggedIn();
        return 'OK logged in';
      case 'STARTTLS':
        if (this.secure) return 'ERR already';
        await this.upgradeToTls('OK go ahead', Toy.tls!);
        return undefined;
      case 'QUIT':
        this.hangUp('QUIT');
        return 'OK bye';
      default:
        this.unknownCommand();
        return 'ERR unknown';
    }
  }
}

const LIMITS: SessionLimits = { ...SESSION_DEFAULTS, maxLineLength: 40, idleTimeoutMs: 60_000 };

async function startToy(limits: Partial<SessionLimits> = {}) {
  const logs = new LogCollector();
  const log = createLogger('toy', { sink: logs.sink, level: 'debug' });
  const throttle = new AuthThrottle({ ...LIMITS, ...limits });
  const host = new SessionHost<Toy>({
    service: 'toy',
    log,
    limits: { maxConnections: 10, maxConnectionsPerAddress: 2 },
    refuse: ({ reason, limit }) => Buffer.from(`BUSY ${reason} ${limit}\r\n`),
    open: (socket, connectionLog) => {
      const session = new Toy(socket, new Lines(), { ...LIMITS, ...limits }, connectionLog, throttle);
      session.start('HELLO');
      return session;
    },
  });
  const { port } = await host.listen(0, '127.0.0.1');
  return { host, port, logs };
}

/** Connect (from `from`, default 127.0.0.1), optionally write and half-close, and read everything until the server closes. */
async function exchange(port: number, input: string | undefined, options: { halfClose?: boolean; from?: string } = {}): Promise<string> {
  const client = await RawSocket.connect(port, { localAddress: options.from });
  if (input !== undefined) client.write(input);
  if (options.halfClose) client.end();
  return client.rest();
}

let toy: Awaited<ReturnType<typeof startToy>>;
afterEach(async () => {
  await toy?.host.close();
});

test('pipelined commands are answered in order, one reply each, even when one is slow', async () => {
  toy = await startToy();
  const out = await exchange(toy.port, 'SLOW 1\nECHO 2\nSLOW 3\nECHO 4\nQUIT\nECHO never\n');
  expect(out).toBe('HELLO\r\nOK 1\r\nOK 2\r\nOK 3\r\nOK 4\r\nOK bye\r\n');
});

test('a client that closes its sending side still gets every reply', async () => {
  toy = await startToy();
  expect(await exchange(toy.port, 'ECHO a\nSLOW b\n', { halfClose: true })).toBe('HELLO\r\nOK a\r\nOK b\r\n');
});

test('a line over the limit gets the protocol\'s answer in its place, and the session goes on', async () => {
  toy = await startToy();
  const out = await exchange(toy.port, `ECHO a\n${'x'.repeat(100)}\nECHO b\nQUIT\n`);
  expect(out).toBe('HELLO\r\nOK a\r\nERR too long\r\nOK b\r\nOK bye\r\n');
  expect(toy.logs.matching(/ warn line too long .*limit=40$/)).toHaveLength(1);
});

test('maxUnknownCommands: the last unknown command is answered by the farewell, and the connection closes', async () => {
  toy = await startToy({ maxUnknownCommands: 3 });
  const out = await exchange(toy.port, 'FOO\nECHO fine\nBAR\nBAZ\nECHO never\n');
  expect(out).toBe('HELLO\r\nERR unknown\r\nOK fine\r\nERR unknown\r\nBYE too-many-errors\r\n');
  await toy.logs.waitFor(/ warn too many unknown commands .*count=3 limit=3$/);
});

test('an HTTP request as the first line gets the protocol\'s answer, not a parade of unknown commands', async () => {
  toy = await startToy();
  const out = await exchange(toy.port, 'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl\r\n\r\n');
  expect(out).toBe('HELLO\r\nBYE http\r\n');
  await toy.logs.waitFor(/ warn http request on a line port .*request="GET \/ HTTP\/1\.1"$/);
});

test('the HTTP check looks at the first line only', async () => {
  toy = await startToy();
  expect(await exchange(toy.port, 'ECHO GET / HTTP/1.1\nQUIT\n')).toBe('HELLO\r\nOK GET / HTTP/1.1\r\nOK bye\r\n');
});

test('loginTimeoutMs: a client that keeps busy but never logs in is closed with the farewell', async () => {
  toy = await startToy({ loginTimeoutMs: 200 });
  const client = await RawSocket.connect(toy.port);
  expect(await client.readLine()).toBe('HELLO');
  // Activity does not move the deadline: keep talking until the server says goodbye.
  const until = Date.now() + WAIT_MS;
  let line: string;
  do {
    if (Date.now() > until) throw new Error(`still served after ${WAIT_MS} ms of activity: the login deadline (200 ms) never came`);
    client.write('ECHO tick\n');
    line = await client.readLine();
  } while (line === 'OK tick');
  expect(line).toBe('BYE login-timeout');
  expect(await client.rest()).toBe('');
  await toy.logs.waitFor(/ warn login timeout .*limitMs=200$/);
});

test('loginTimeoutMs does not apply once logged in', async () => {
  toy = await startToy({ loginTimeoutMs: 100 });
  const first = await RawSocket.connect(toy.port);
  first.write('LOGIN\n');
  expect(await first.readUntil('OK logged in\r\n')).toBe('HELLO\r\nOK logged in\r\n');
  // A second client, connected later and never logging in, is closed at its deadline; the
  // first one's deadline has passed by then too, and it is still served.
  expect(await exchange(toy.port, undefined)).toBe('HELLO\r\nBYE login-timeout\r\n');
  first.write('ECHO still here\n');
  expect(await first.readLine()).toBe('OK still here');
  expect(toy.logs.matching(/ warn login timeout /)).toHaveLength(1);
  first.destroy();
});

test('idleTimeoutMs: a silent client is cut (this protocol has no word for it)', async () => {
  toy = await startToy({ idleTimeoutMs: 100 });
  expect(await exchange(toy.port, undefined)).toBe('HELLO\r\n');
  await toy.logs.waitFor(/ info idle timeout .*limitMs=100$/);
});

test('maxConnectionsPerAddress: the third connection from one address gets the refusal; another address is served', async () => {
  toy = await startToy();
  const held = await Promise.all([RawSocket.connect(toy.port), RawSocket.connect(toy.port)]);
  expect(await Promise.all(held.map((s) => s.readLine()))).toEqual(['HELLO', 'HELLO']);
  expect(await exchange(toy.port, undefined)).toBe('BUSY too many connections from your address 2\r\n');
  expect(await exchange(toy.port, 'QUIT\n', { from: '127.0.0.2' })).toBe('HELLO\r\nOK bye\r\n');
  for (const s of held) s.destroy();
});

describe('STARTTLS', () => {
  let cert: TestCertificate;
  beforeAll(() => {
    cert = testCertificate();
    Toy.tls = fixedTls({ key: cert.key, cert: cert.cert });
  });
  afterAll(() => cert.remove());

  /**
   * The client sends STARTTLS and, in the same packet, a command: the injection a
   * man in the middle would make. It must never run, neither in clear nor inside TLS.
   */
  test('commands pipelined after STARTTLS in clear are thrown away, not run inside TLS', async () => {
    toy = await startToy();
    const plain = await RawSocket.connect(toy.port);
    plain.write('STARTTLS\nECHO injected\nECHO also\n');
    expect(await plain.readUntil('OK go ahead\r\n')).toBe('HELLO\r\nOK go ahead\r\n');
    expect(plain.unread).toBe('');
    const secure = await plain.startTls({ ca: cert.cert, servername: 'localhost' });
    secure.write('ECHO hello\nSTARTTLS\nQUIT\n');
    const inside = await secure.rest();
    expect(inside).toBe('OK hello (tls)\r\nERR already\r\nOK bye\r\n');
    await toy.logs.waitFor(/ warn discarded input sent before the TLS handshake .*commands=2 bytes=0$/);
    await toy.logs.waitFor(/ info tls started .*version=TLSv1\.3/);
  });

  test('a client that answers the go-ahead with something other than a TLS handshake is closed; the server goes on', async () => {
    toy = await startToy();
    const client = await RawSocket.connect(toy.port);
    client.write('STARTTLS\n');
    expect(await client.readUntil('OK go ahead\r\n')).toBe('HELLO\r\nOK go ahead\r\n');
    client.write('this is not a TLS record\r\n\r\n');
    expect(await client.rest()).toBe('');
    await toy.logs.waitFor(/ warn tls handshake failed /);
    expect(await exchange(toy.port, 'ECHO ok\nQUIT\n')).toBe('HELLO\r\nOK ok\r\nOK bye\r\n');
  });
});

test('every connection sends at once (TCP_NODELAY): a reply never waits for the acknowledgement of the one before', async () => {
  // Which sockets were told, and with what: the server's side is the one whose local port is the server's.
  const told: { port?: number; on: boolean }[] = [];
  const original = net.Socket.prototype.setNoDelay;
  const spy = jest.spyOn(net.Socket.prototype, 'setNoDelay').mockImplementation(function (this: net.Socket, on?: boolean) {
    told.push({ port: this.localPort, on: on !== false });
    return original.call(this, on);
  });
  try {
    toy = await startToy();
    expect(await exchange(toy.port, 'ECHO a\nSLOW b\nQUIT\n')).toBe('HELLO\r\nOK a\r\nOK b\r\nOK bye\r\n');
    expect(told).toContainEqual({ port: toy.port, on: true });
  } finally {
    spy.mockRestore();
  }
});
