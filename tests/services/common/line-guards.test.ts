/**
 * The guards every line protocol gets from the engine, checked on the real POP3 and FTP
 * servers with the clients a student would use: Python's poplib and ftplib, and curl
 * pointed at the port as if it were a web server.
 */
import { run } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { ftplib, startFtp, type RunningFtp } from '../ftp/clients';
import { poplib, startPop3, type RunningPop3 } from '../pop3/clients';

interface Server {
  port: number;
  stop(): Promise<void>;
}

/** How each protocol says the things the guards say. */
const PROTOCOLS = {
  pop3: {
    start: (o: Record<string, number>): Promise<RunningPop3> => startPop3(o),
    unknown: (port: number, n: number) => poplib(port, Array.from({ length: n }, () => ['_shortcmd', 'FOO'])),
    wrongCommand: '-ERR unknown command FOO',
    tooManyUnknown: '-ERR too many unknown commands (3); closing',
    http: '-ERR this is a POP3 server, not a web server',
    tooManyFromHere: '-ERR [SYS/TEMP] too many connections from your address (2); try again later',
    loginTimeout: '-ERR [SYS/TEMP] not logged in after 200 ms; closing\r\n',
  },
  ftp: {
    start: (o: Record<string, number>): Promise<RunningFtp> => startFtp(o),
    unknown: (port: number, n: number) => ftplib(port, Array.from({ length: n }, () => ['sendcmd', 'FOO'])),
    wrongCommand: '530 Please log in with USER and PASS first.',
    tooManyUnknown: '421 Too many unknown commands (3); closing control connection.',
    http: '421 This is an FTP server, not a web server',
    tooManyFromHere: '421 There are too many connections from your address (2); try again later.',
    loginTimeout: '421 Timeout: not logged in after 200 ms; closing control connection.\r\n',
  },
} as const;

async function curlHttp09(port: number): Promise<string> {
  const { stdout, stderr } = await run('curl', ['-sS', '--http0.9', '--max-time', '10', `http://127.0.0.1:${port}/`]);
  return stdout + stderr;
}

describe.each(Object.entries(PROTOCOLS))('%s', (_name, protocol) => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  test('maxUnknownCommands: the last unknown command gets the closing reply, then the connection closes', async () => {
    server = await protocol.start({ maxUnknownCommands: 3 });
    const results = await protocol.unknown(server.port, 4);
    const errors = results.slice(1).map((r) => r.error ?? r.ok);
    expect(errors[0]).toBe(protocol.wrongCommand);
    expect(errors[1]).toBe(protocol.wrongCommand);
    expect(errors[2]).toBe(protocol.tooManyUnknown);
    // After the closing reply there is nobody to talk to.
    expect(String(errors[3])).toMatch(/EOF|closed|OSError|Connection reset|Broken pipe/i);
  });

  test('a browser (or curl) pointed at the port gets an answer that says what this is', async () => {
    server = await protocol.start({});
    expect(await curlHttp09(server.port)).toContain(protocol.http);
  });

  test('loginTimeoutMs: a connection that never logs in is closed with the protocol\'s words', async () => {
    server = await protocol.start({ loginTimeoutMs: 200 });
    const { client } = await holdConnection(server.port, '127.0.0.1');
    expect(await client.rest()).toBe(protocol.loginTimeout);
  });

  test('maxConnectionsPerAddress: one client cannot take every place; another address is still served', async () => {
    server = await protocol.start({ maxConnectionsPerAddress: 2 });
    const held = await Promise.all([holdConnection(server.port, '127.0.0.1'), holdConnection(server.port, '127.0.0.1')]);
    try {
      const [refused] = await protocol.unknown(server.port, 0);
      expect(refused!.error ?? refused!.ok).toBe(protocol.tooManyFromHere);
      const elsewhere = await holdConnection(server.port, '127.0.0.2');
      expect(elsewhere.greeting).not.toMatch(/too many/);
      elsewhere.client.destroy();
    } finally {
      for (const h of held) h.client.destroy();
    }
  });
});

/** A connection that stays open: connected from `from`, greeting read. */
async function holdConnection(port: number, from: string): Promise<{ client: RawSocket; greeting: string }> {
  const client = await RawSocket.connect(port, { localAddress: from });
  return { client, greeting: await client.readLine() };
}
