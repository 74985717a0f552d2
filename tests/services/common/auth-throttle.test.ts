/**
 * Guessing passwords is slow everywhere (issue 16, services/common/authThrottle.ts):
 * every service that takes a password counts the failures of a client address across
 * connections. A guesser that reconnects after each wrong password has a few checked,
 * each answered later than the last, then its address is locked out (no password is
 * checked, the right one neither) until the cool-down has passed; another address logs
 * in all along, and once the cool-down is over the right password works again.
 *
 * Driven with real clients over real sockets: curl for POP3, IMAP, FTP, SMTP AUTH and
 * www's /api/login, OpenSSH's sftp (through sshpass) for SFTP. No timed assertion: the
 * slowing shows in what is answered (counts) and in the delays the server logs.
 */
import { createLogger } from '../../../services/common/logger';
import { loadUsers } from '../../../services/common/users';
import { HttpServer } from '../../../services/http/server';
import type { AuthThrottleOptions } from '../../../services/common/authThrottle';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { run } from '../../helpers/process';
import { poll } from '../../helpers/wait';
import { startFtp } from '../ftp/clients';
import { startImap } from '../imap/clients';
import { startPop3 } from '../pop3/clients';
import { sftpBatch, startSftp, type RunningSftp } from '../sftp/clients';
import { startSmtp } from '../smtp/harness';
import { tempDir } from '../http/harness';

interface Server {
  port: number;
  logs: LogCollector;
  stop(): Promise<void>;
}

/** What an attempt got: logged in, a wrong password, or the address is locked out. */
type Outcome = 'ok' | 'wrong' | 'locked';

interface Protocol {
  start(options: AuthThrottleOptions): Promise<Server>;
  /** One login on a new connection, from `from`. */
  attempt(server: Server, password: string, from: string): Promise<{ outcome: Outcome; said: string }>;
  /** The server's log line for a counted failure, and for a refusal while locked out. */
  failed: RegExp;
  refused: RegExp;
}

/** curl with -v: the server's replies are its `< ` lines. */
async function curlLogin(url: string, password: string, from: string, extra: string[] = []): Promise<string> {
  const { stderr } = await run('curl', ['-sS', '-v', '--max-time', '15', '--interface', from, '-u', `alice:${password}`, ...extra, url]);
  return stderr.split('\n').filter((l) => l.startsWith('< ')).join('\n');
}

function classify(said: string, patterns: Record<Outcome, RegExp>): { outcome: Outcome; said: string } {
  const found = (['locked', 'wrong', 'ok'] as const).find((o) => patterns[o].test(said));
  if (!found) throw new Error(`neither logged in, nor refused, nor locked out:\n${said}`);
  return { outcome: found, said };
}

const LINE_FAILED = / warn login failed .*user=alice address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+/;
const LINE_REFUSED = / warn login refused: too many failed logins from this address .*address=127\.0\.0\.1 lockedForMs=\d+/;

const PROTOCOLS: Record<string, Protocol> = {
  pop3: {
    start: (o) => startPop3({ ...o, allowPlaintextLogin: true, fromLab: true }),
    attempt: async (s, password, from) =>
      classify(await curlLogin(`pop3://127.0.0.1:${s.port}/`, password, from, ['-l']), {
        ok: /^< \+OK \S+ has \d+ messages/m,
        wrong: /^< -ERR \[AUTH\] wrong user name or password/m,
        locked: /^< -ERR \[SYS\/TEMP\] too many failed logins from your address; try again in \d+ s/m,
      }),
    failed: LINE_FAILED,
    refused: LINE_REFUSED,
  },
  imap: {
    start: async (o) => startImap({ ...o, users: await loadUsers(LAB_DIR), allowPlaintextLogin: true }),
    attempt: async (s, password, from) =>
      classify(await curlLogin(`imap://127.0.0.1:${s.port}/`, password, from), {
        ok: /^< \* LIST /m, // logged in, curl lists the mailboxes
        wrong: /^< \S+ NO \[AUTHENTICATIONFAILED\] wrong user name or password/m,
        locked: /^< \S+ NO \[UNAVAILABLE\] too many failed logins from your address; try again in \d+ s/m,
      }),
    failed: LINE_FAILED,
    refused: LINE_REFUSED,
  },
  ftp: {
    start: (o) => startFtp({ ...o, allowPlaintextLogin: true }),
    attempt: async (s, password, from) =>
      classify(await curlLogin(`ftp://127.0.0.1:${s.port}/`, password, from, ['-l']), {
        ok: /^< 230 /m,
        wrong: /^< 530 Login incorrect\./m,
        locked: /^< 421 Too many failed logins from your address; try again in \d+ s\./m,
      }),
    failed: LINE_FAILED,
    refused: LINE_REFUSED,
  },
  smtp: {
    start: (o) => startSmtp(o).then((s) => ({ port: s.submission, logs: s.logs, stop: () => s.stop() })),
    attempt: async (s, password, from) =>
      classify(await curlLogin(`smtp://127.0.0.1:${s.port}/`, password, from, ['--mail-from', 'alice@lab.test', '--mail-rcpt', 'bob@lab.test', '-T', '/dev/null']), {
        ok: /^< 235 /m,
        wrong: /^< 535 5\.7\.8 Authentication credentials invalid/m,
        locked: /^< 454 4\.7\.0 Too many failed logins from your address, try again in \d+ s/m,
      }),
    failed: / warn auth .*user=alice result=failed address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+/,
    refused: / warn auth refused: too many failed logins from this address .*address=127\.0\.0\.1 lockedForMs=\d+/,
  },
  sftp: {
    start: (o) => startSftp(o),
    attempt: async (s, password, from) => {
      // OpenSSH says "Permission denied" to both: the server's log tells a checked password from a refusal.
      const refusals = s.logs.matching(/ auth refused: too many failed logins/).length;
      const result = await sftpBatch(s as RunningSftp, ['pwd'], { password, options: ['-o', `BindAddress=${from}`, '-o', 'NumberOfPasswordPrompts=1'] });
      if (result.code === 0) return { outcome: 'ok', said: result.stdout };
      // Both are logged before the server answers, so before sftp exits.
      const refused = s.logs.matching(/ auth refused: too many failed logins/).length > refusals;
      return { outcome: refused ? 'locked' : 'wrong', said: result.stderr };
    },
    failed: / warn auth failed .*method=password user=alice .*address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+/,
    refused: / warn auth refused: too many failed logins from this address .*address=127\.0\.0\.1 lockedForMs=\d+/,
  },
  www: {
    start: async (o) => {
      const logs = new LogCollector();
      const server = await HttpServer.fromLab(LAB_DIR, await tempDir(), { log: createLogger('http', { sink: logs.sink, level: 'debug' }), ...o });
      const { port } = await server.listen(0, '127.0.0.1');
      return { port, logs, stop: () => server.close() };
    },
    attempt: async (s, password, from) => {
      const { stdout } = await run('curl', ['-sS', '-i', '--max-time', '15', '--noproxy', '*', '--interface', from, '-H', 'Content-Type: application/json', '--data', JSON.stringify({ username: 'alice', password }), `http://127.0.0.1:${s.port}/api/login`]);
      return classify(stdout, {
        ok: /^HTTP\/1\.1 200 /,
        wrong: /^HTTP\/1\.1 401 [\s\S]*wrong user name or password/,
        locked: /^HTTP\/1\.1 429 Too Many Requests\r\n[\s\S]*Retry-After: \d+\r\n[\s\S]*too many failed logins from your address; try again in \d+ s/,
      });
    },
    failed: / warn login failed .*user=alice address=127\.0\.0\.1 fromAddress=\d+ delayMs=\d+/,
    refused: LINE_REFUSED,
  },
};

describe.each(Object.entries(PROTOCOLS))('%s', (_name, protocol) => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  test('a guesser reconnecting after each wrong password: 3 are checked, each waiting longer, then its address is locked out, the right password too; 127.0.0.2 logs in', async () => {
    server = await protocol.start({ authFailureDelayMs: 1, maxAuthFailuresPerAddress: 3, authCooldownMs: 600_000 });
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 6; i++) outcomes.push((await protocol.attempt(server, `guess${i}`, '127.0.0.1')).outcome);
    expect(outcomes).toEqual(['wrong', 'wrong', 'wrong', 'locked', 'locked', 'locked']);
    // Each failure from the address waited longer than the one before.
    const delays = server.logs.matching(protocol.failed).map((l) => Number(/delayMs=(\d+)/.exec(l)![1]));
    expect(delays).toEqual([1, 2, 3]);
    expect(server.logs.matching(protocol.refused)).toHaveLength(3);
    expect((await protocol.attempt(server, 'alice', '127.0.0.1')).outcome).toBe('locked');
    expect((await protocol.attempt(server, 'alice', '127.0.0.2')).outcome).toBe('ok');
  });

  test('no lock-out for good: once the cool-down has passed, the right password works from the same address', async () => {
    server = await protocol.start({ authFailureDelayMs: 0, maxAuthFailuresPerAddress: 2, authCooldownMs: 400 });
    const s = server;
    for (let i = 0; i < 2; i++) expect((await protocol.attempt(s, `guess${i}`, '127.0.0.1')).outcome).toBe('wrong');
    // Tried again and again (each attempt a new connection) until the cool-down is over: a refusal does not extend it.
    const after = await poll('the right password to work again after the cool-down', async () => {
      const { outcome } = await protocol.attempt(s, 'alice', '127.0.0.1');
      return outcome === 'ok' ? outcome : undefined;
    });
    expect(after).toBe('ok');
  });
});
