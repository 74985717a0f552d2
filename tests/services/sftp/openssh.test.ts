/**
 * The SFTP service driven by OpenSSH, as a student would: `sftp` in batch mode with a
 * key or a password, `ssh` for what must be refused (a command, a shell, forwarding),
 * and known_hosts with StrictHostKeyChecking=yes to prove the host key.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../../helpers/ports';
import { run } from '../../helpers/process';
import { listenTcp, RawSocket } from '../../helpers/socket';
import { sftpBatch, ssh, sshProcess, startSftp, stillServes, type RunningSftp } from './clients';

let lab: RunningSftp;
beforeAll(async () => {
  lab = await startSftp();
});
afterAll(async () => {
  await lab.stop();
});

describe('OpenSSH sftp with a key', () => {
  test('put, get, ls, mkdir, rename, chmod, ln -s / symlink (seen with ls -l), rm, rmdir', async () => {
    const local = path.join(lab.base, 'upload.bin');
    const content = randomBytes(600 * 1024); // bigger than one READ/WRITE: many requests, reassembled
    await writeFile(local, content);
    const back = path.join(lab.base, 'download.bin');
    const result = await sftpBatch(lab, [
      'pwd',
      `put ${local} upload.bin`,
      'mkdir docs',
      'rename upload.bin docs/data.bin',
      'chmod 640 docs/data.bin',
      'ln -s docs/data.bin latest',
      'symlink notes.txt notes-link',
      'ls -l',
      'ls -l docs',
      `get latest ${back}`,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Remote working directory: /');
    // ls -l shows the longnames the server made: where links point, relative to the home.
    expect(result.stdout).toMatch(/^lrwxrwxrwx +1 alice +alice +\d+ \w{3} [ \d]\d [\d:]+ latest -> docs\/data\.bin$/m);
    expect(result.stdout).toMatch(/^lrwxrwxrwx .* notes-link -> notes\.txt$/m);
    expect(result.stdout).toMatch(/^drwxr-xr-x .* docs$/m);
    expect(result.stdout).toMatch(new RegExp(`^-rw-r----- +1 alice +alice +${content.length} .* data\\.bin$`, 'm'));
    expect(result.stdout).not.toContain(lab.dataDir); // never a host path
    // On the disk, in alice's home: the same bytes, the mode, relative links.
    const home = lab.home('alice');
    expect((await readFile(path.join(home, 'docs/data.bin'))).equals(content)).toBe(true);
    expect((await readFile(back)).equals(content)).toBe(true);
    expect((await lstat(path.join(home, 'docs/data.bin'))).mode & 0o777).toBe(0o640);
    expect(await readlink(path.join(home, 'latest'))).toBe('docs/data.bin');
    expect(await readlink(path.join(home, 'notes-link'))).toBe('notes.txt');
    // Each file operation is one log line with the connection id.
    const [opened] = await lab.logs.waitFor(/ info request conn=c\d+ .*op=OPEN path=\/upload\.bin flags=write,creat,trunc/);
    const conn = /conn=(c\d+)/.exec(opened!)![1];
    // OpenSSH's rename uses posix-rename@openssh.com when the server offers it, as this one does.
    expect(lab.logs.matching(new RegExp(`request conn=${conn} .*op=EXTENDED name=posix-rename@openssh.com from=/upload.bin to=/docs/data.bin status=OK`))).toHaveLength(1);
    expect(lab.logs.matching(new RegExp(`request conn=${conn} .*op=CLOSE path=/upload.bin read=0 written=${content.length} status=OK`))).toHaveLength(1);

    const cleanup = await sftpBatch(lab, ['rm latest', 'rm notes-link', 'rm docs/data.bin', 'rmdir docs', 'ls']);
    expect(cleanup.code).toBe(0);
    await expect(lstat(path.join(home, 'docs'))).rejects.toThrow(/ENOENT/);
  });

  test('cd .. at / stays at /; a failing command reports the server status', async () => {
    const result = await sftpBatch(lab, ['cd ..', 'pwd', 'cd ../../..', 'pwd', '-get nothing-here.txt ' + path.join(lab.base, 'x'), '-rmdir /', '-mkdir notes.txt']);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/Remote working directory: \/$/gm)).toHaveLength(2);
    expect(result.stderr).toMatch(/nothing-here\.txt.*not found/i);
    expect(result.stderr).toMatch(/rmdir "\/": Permission denied/);
    expect(result.stderr).toMatch(/mkdir "\/notes\.txt": Failure/);
  });
});

describe('OpenSSH sftp with a password', () => {
  test('the right password logs in; the log names the method and never the password', async () => {
    const result = await sftpBatch(lab, ['ls'], { user: 'bob', password: 'bob' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('todo.txt');
    const [line] = await lab.logs.waitFor(/ auth .*method=password user=bob result="logged in"/);
    expect(line).toBeDefined();
    expect(lab.logs.lines.filter((l) => /\bpassword=/.test(l))).toEqual([]);
  });

  test('a wrong password is refused (and the log does not carry it)', async () => {
    const result = await sftpBatch(lab, ['ls'], { user: 'bob', password: 'Wr0ngPassw0rd' });
    expect(result.code).not.toBe(0);
    await lab.logs.waitFor(/ warn auth failed .*method=password user=bob reason="wrong user name or password" address=127\.0\.0\.1 failures=1 fromAddress=\d+ delayMs=\d+/);
    expect(lab.logs.lines.some((l) => l.includes('Wr0ngPassw0rd'))).toBe(false);
    await stillServes(lab);
  });
});

describe('refused logins', () => {
  test("bob's key is not alice's: refused, and logged with the key's fingerprint", async () => {
    const result = await sftpBatch(lab, ['ls'], { user: 'alice', key: 'bob' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Permission denied \(publickey,password\)/);
    const keygen = await run('ssh-keygen', ['-lf', path.join(lab.keys, 'bob')]);
    const bobFingerprint = /SHA256:\S+/.exec(keygen.stdout)![0];
    await lab.logs.waitFor(new RegExp(`auth failed .*method=publickey user=alice key=${bobFingerprint.replace(/[+/]/g, '\\$&')} reason="not a key of this user"`));
    await stillServes(lab);
  });
});

describe('the host key', () => {
  test('a known_hosts line with the server key and StrictHostKeyChecking=yes: connects', async () => {
    const knownHosts = path.join(lab.base, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${lab.port} ${lab.server.hostPublicKey}\n`);
    const result = await sftpBatch(lab, ['pwd'], { options: ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`] });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // and the fingerprint the server reports is the one of that line, by ssh-keygen
    const keygen = await run('ssh-keygen', ['-lf', knownHosts]);
    expect(keygen.stdout).toContain(lab.server.hostKeyFingerprint);
  });

  test('another key in known_hosts: the client refuses to connect', async () => {
    const knownHosts = path.join(lab.base, 'known_hosts_wrong');
    const impostor = (await run('ssh-keygen', ['-yf', path.join(lab.keys, 'bob')])).stdout.trim(); // any other key
    await writeFile(knownHosts, `[127.0.0.1]:${lab.port} ${impostor}\n`);
    const result = await sftpBatch(lab, ['pwd'], { options: ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Host key verification failed/);
  });
});

describe('only the sftp subsystem', () => {
  test('a command (exec) is refused, while sftp on the same server works', async () => {
    const result = await ssh(lab, ['-o', 'SetEnv=COLOR=blue', 'ls', '/']);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/exec request failed/);
    await lab.logs.waitFor(/ warn refused .*request=exec command="ls \/" reason="this server offers only the sftp subsystem"/);
    await lab.logs.waitFor(/ info refused .*request=env name=COLOR/);
    await stillServes(lab);
  });

  test('a shell with a terminal is refused (pty and shell)', async () => {
    const result = await ssh(lab, ['-tt']);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/PTY allocation request failed|shell request failed/);
    await lab.logs.waitFor(/ warn refused .*request=pty /);
    await lab.logs.waitFor(/ warn refused .*request=shell /);
  });

  test('remote forwarding (ssh -R) is refused: ssh exits with ExitOnForwardFailure', async () => {
    const result = await ssh(lab, ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9']);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/remote port forwarding failed/);
    await lab.logs.waitFor(/ warn refused .*request=tcpip-forward /);
  });

  test('local forwarding (ssh -N -L) is refused: nothing reaches the target', async () => {
    // The target: a server on another loopback address that records any connection.
    const target = await listenTcp(undefined, '127.0.0.2');
    const targetPort = target.port;
    const localPort = await freePort();
    const forward = await sshProcess(lab, ['-v', '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${localPort}:127.0.0.2:${targetPort}`], /Local forwarding listening on 127\.0\.0\.1 port/);
    try {
      // ssh listens locally; a connection to it makes ssh open a direct-tcpip channel, which the server refuses.
      const local = await RawSocket.connect(localPort);
      await local.closed();
      await lab.logs.waitFor(new RegExp(`warn refused .*request=direct-tcpip to=127\\.0\\.0\\.2:${targetPort} `));
      expect(target.connections).toHaveLength(0);
    } finally {
      await forward.stop();
      await target.close();
    }
    await stillServes(lab);
  });
});
