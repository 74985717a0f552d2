import { execFileSync } from 'node:child_process';
import { copyFile, chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compare, type Recorder, type Side } from '../figures';
import type { Daemon } from '../process';
import { folder, HOST, oursData, ports, startOurs, startServer } from '../servers';
import { sftpBatch } from '../tools';
import { linkFiles, randomFile } from './ftp';

/**
 * SFTP: files.lab.test against OpenSSH's sshd with internal-sftp, with OpenSSH's sftp
 * client in batch mode and a key, each with its default cipher. One `get` and one
 * `put` of 100 MiB (--quick: 8 MiB) per session. The transfer's time is the session's
 * minus that of a session that only logs in (`pwd`), run just before: sshd forks and
 * re-executes itself for each login, which is not what the figure is about.
 */

export async function sftpSuite(rec: Recorder, lab: string): Promise<void> {
  const { dir, settings } = rec;
  const mib = settings.quick ? 8 : 100;
  const files = await folder(dir, 'files');
  const big = path.join(files, 'big.bin');
  await randomFile(big, mib * 2 ** 20);

  // Ours: alice's home with the file, her lab key (ssh wants it readable by its owner only).
  const home = await folder(oursData(dir, 'sftp'), 'homes', 'alice');
  await linkFiles(files, home);
  const aliceKey = path.join(dir, 'alice');
  await copyFile(path.join(lab, 'keys', 'alice'), aliceKey);
  await chmod(aliceKey, 0o600);

  // sshd: host and client keys made here, the current user's login by key only.
  const sshd = await folder(dir, 'sshd');
  for (const key of ['host_key', 'client_key']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(sshd, key)]);
  await copyFile(path.join(sshd, 'client_key.pub'), path.join(sshd, 'authorized_keys'));
  const uploads = await folder(sshd, 'uploads');

  const p = await ports(['ours', 'sshd']);
  const started: Daemon[] = [];
  try {
    const openssh = await startSshd(sshd, p.sshd);
    started.push(openssh);
    const ours = await startOurs('sftp', { dir, lab, env: { SFTP_PORT: String(p.ours), SFTP_HOST: HOST }, ready: [{ kind: 'tcp', port: p.ours }] });
    started.push(ours);
    const timeoutMs = 120_000;
    const bytes = mib * 2 ** 20;
    /** MiB/s of one transfer session, less the time of a session that only logs in. */
    const rate = async (login: typeof refLogin, command: string): Promise<number> => {
      const empty = await sftpBatch({ ...login, commands: ['pwd'], timeoutMs });
      const full = await sftpBatch({ ...login, commands: [command], timeoutMs });
      return bytes / 2 ** 20 / Math.max(full - empty, 0.001);
    };
    const target = { of: 'ratio' as const, atLeast: 0.8 };
    const refLogin = { port: p.sshd, user: os.userInfo().username, key: path.join(sshd, 'client_key') };
    const ourLogin = { port: p.ours, user: 'alice', key: aliceKey };
    const get = (label: string, daemon: Daemon, login: typeof refLogin, remote: string): Side => ({
      label,
      servers: [daemon],
      run: async () => ({ mibs: await rate(login, `get ${remote} /dev/null`) }),
    });
    await compare(rec, {
      id: 'sftp-get',
      group: 'sftp',
      metrics: [{ key: 'mibs', title: `SFTP ${mib} MiB get`, unit: 'MiB/s', better: 'higher', target }],
      reference: get('OpenSSH 9.2 internal-sftp', openssh, refLogin, big),
      ours: get('wirelab sftp', ours, ourLogin, 'big.bin'),
    });
    let n = 0;
    const put = (label: string, daemon: Daemon, login: typeof refLogin, remoteDir: string, serverDir: string): Side => ({
      label,
      servers: [daemon],
      run: async () => {
        const name = `up-${++n}.bin`;
        const mibs = await rate(login, `put ${big} ${remoteDir}${name}`);
        await rm(path.join(serverDir, name), { force: true });
        return { mibs };
      },
    });
    await compare(rec, {
      id: 'sftp-put',
      group: 'sftp',
      metrics: [{ key: 'mibs', title: `SFTP ${mib} MiB put`, unit: 'MiB/s', better: 'higher', target }],
      reference: put('OpenSSH 9.2 internal-sftp', openssh, refLogin, `${uploads}/`, uploads),
      ours: put('wirelab sftp', ours, ourLogin, '', home),
    });
  } finally {
    for (const d of started.reverse()) await d.stop();
  }
}

async function startSshd(home: string, port: number): Promise<Daemon> {
  // sshd's privilege separation needs this folder (made by the service at boot, absent in containers).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => {});
  const conf = path.join(home, 'sshd_config');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      `ListenAddress ${HOST}`,
      `HostKey ${home}/host_key`,
      `PidFile ${home}/sshd.pid`,
      `AuthorizedKeysFile ${home}/authorized_keys`,
      'StrictModes no', // the scratch folder lives under /tmp
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp internal-sftp',
      'UseDNS no',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );
  // sshd must be started by its absolute path (it re-executes itself); -D: stay in the foreground, -e: log to stderr.
  return startServer({ name: 'sshd', command: '/usr/sbin/sshd', args: ['-D', '-e', '-f', conf], logFile: path.join(home, 'sshd.log') }, [{ kind: 'tcp', port }]);
}
