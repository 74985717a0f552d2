/**
 * One client cannot take files.lab.test from the others (issue 16): a share of the
 * connections per client address; one more is told SSH_DISCONNECT_TOO_MANY_CONNECTIONS
 * (RFC 4253 11.1, code 12), and a client from another address logs in all along.
 */
import type { Client } from 'ssh2';
import { takeEveryPlace } from '../../helpers/fairness';
import { connect, sftpBatch, startSftp, type RunningSftp } from './clients';

let lab: RunningSftp;
beforeAll(async () => {
  lab = await startSftp({ maxConnectionsPerAddress: 3 });
});
afterAll(async () => {
  await lab.stop();
});

test('a client logs in 3 times, the 4th is disconnected with code 12; OpenSSH says so; sftp from 127.0.0.2 lists the home', async () => {
  const greedy = await takeEveryPlace<Client>(async () => {
    try {
      return await connect(lab.port);
    } catch (err) {
      const e = err as Error & { code?: unknown };
      return `${e.message} (code ${String(e.code)})`;
    }
  });
  try {
    expect(greedy.held).toHaveLength(3);
    expect(greedy.refusal).toMatch(/\(code 12\)$/);
    await lab.logs.waitFor(/ warn connection refused .*reason="too many connections from your address" limit=3/);
    // OpenSSH's sftp from the same address: refused, and it tells the student why.
    const same = await sftpBatch(lab, ['ls'], { options: ['-o', 'LogLevel=INFO'] });
    expect(same.code).not.toBe(0);
    expect(same.stderr).toMatch(/Received disconnect from 127\.0\.0\.1 port \d+:12:/);
    // Another student, another address: in.
    const other = await sftpBatch(lab, ['ls -1'], { options: ['-o', 'BindAddress=127.0.0.2'] });
    expect(other.stderr).toBe('');
    expect(other.code).toBe(0);
    expect(other.stdout).toMatch(/public_html|notes/);
  } finally {
    for (const c of greedy.held) c.end();
  }
});
