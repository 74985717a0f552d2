/**
 * paramiko (Python's SSH library) as an SFTP client. Its symlink(target, link) sends
 * the target first, as OpenSSH's sftp does, though the draft says the opposite; the
 * server takes SYMLINK's paths in the order each client uses, so paramiko, OpenSSH and
 * ssh2's client all make the same link. posix_rename replaces, rename does not.
 */
import { readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { run } from '../../helpers/process';
import { call, closeClient, sftpBatch, sftpSession, startSftp, stillServes, type RunningSftp } from './clients';

/** Debian's python3-paramiko belongs to the system's Python. */
const PYTHON = '/usr/bin/python3';

/**
 * Log in as alice with her password, then run each op; prints one JSON result per op:
 * `{"ok": value}` or `{"error": "[Errno 13] ..."}`.
 */
const PARAMIKO_SCRIPT = String.raw`
import io, json, sys, paramiko
port, ops = int(sys.argv[1]), json.loads(sys.argv[2])
t = paramiko.Transport(('127.0.0.1', port))
t.connect(username='alice', password='alice')
s = paramiko.SFTPClient.from_transport(t)
out = []
for name, *args in ops:
    try:
        if name == 'put': r = s.putfo(io.BytesIO(args[1].encode()), args[0]) and None
        elif name == 'read':
            with s.open(args[0]) as f: r = f.read().decode()
        else: r = getattr(s, name)(*args)
        out.append({'ok': r})
    except IOError as e:
        out.append({'error': str(e)})
s.close(); t.close()
print(json.dumps(out))
`;

async function paramiko(port: number, ops: unknown[][]): Promise<({ ok: unknown } | { error: string })[]> {
  const { code, stdout, stderr } = await run(PYTHON, ['-c', PARAMIKO_SCRIPT, String(port), JSON.stringify(ops)]);
  if (code !== 0) throw new Error(`paramiko failed (exit ${code}):\n${stderr}`);
  return JSON.parse(stdout) as ({ ok: unknown } | { error: string })[];
}

let lab: RunningSftp;
beforeAll(async () => {
  lab = await startSftp();
});
afterAll(() => lab.stop());

/** alice's home on the server's disk. */
const home = (): string => lab.home('alice');

test('symlink(target, link) makes link -> target, as OpenSSH\'s symlink and ssh2\'s client do', async () => {
  const results = await paramiko(lab.port, [
    ['symlink', 'notes.txt', 'by-paramiko'],
    ['readlink', 'by-paramiko'],
    ['read', 'by-paramiko'],
  ]);
  expect(results[0]).toEqual({ ok: null });
  expect(results[1]).toEqual({ ok: 'notes.txt' });
  expect(results[2]).toEqual({ ok: await readFile(path.join(home(), 'notes.txt'), 'utf8') });
  await lab.logs.waitFor(/ info request conn=c\d+ .*op=SYMLINK target=notes\.txt link=by-paramiko status=OK/);

  // The same link from OpenSSH (target first on the wire too) and from ssh2's client
  // (which sends the draft's order to a server not called OpenSSH).
  expect((await sftpBatch(lab, ['symlink notes.txt by-openssh'])).code).toBe(0);
  let session: { client: Client; sftp: SFTPWrapper } | undefined;
  try {
    session = await sftpSession(lab.port);
    const { sftp } = session;
    await call((cb) => sftp.symlink('notes.txt', 'by-ssh2', cb));
  } finally {
    if (session) await closeClient(session.client);
  }
  for (const link of ['by-paramiko', 'by-openssh', 'by-ssh2']) expect(await readlink(path.join(home(), link))).toBe('notes.txt');
});

test('symlink to outside the home, or over an existing name: refused, as for every client', async () => {
  const results = await paramiko(lab.port, [
    ['symlink', '../../../outside/secret.txt', 'escape'],
    ['symlink', 'notes.txt', 'notes.txt'],
  ]);
  expect(results[0]).toEqual({ error: '[Errno 13] refused: leaves your home' });
  expect(results[1]).toEqual({ error: 'already exists' });
  await stillServes(lab);
});

test('posix_rename replaces an existing file; rename does not', async () => {
  await writeFile(path.join(home(), 'b.txt'), 'old');
  const results = await paramiko(lab.port, [
    ['put', 'a.txt', 'new'],
    ['rename', 'a.txt', 'b.txt'],
    ['posix_rename', 'a.txt', 'b.txt'],
    ['read', 'b.txt'],
  ]);
  expect(results.slice(1)).toEqual([{ error: 'already exists' }, { ok: null }, { ok: 'new' }]);
});
