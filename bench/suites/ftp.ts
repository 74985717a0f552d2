import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chown, link, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compare, type Recorder, type Side } from '../figures';
import type { Daemon } from '../process';
import { folder, HOST, oursData, ports, startOurs, startServer } from '../servers';
import { python } from '../tools';

/**
 * FTP: ftp.lab.test against vsftpd, with Python's ftplib on one session, passive mode,
 * binary type. Ours serves lab user alice's home; vsftpd serves an anonymous root with
 * the same files (its local users would need system accounts); the login is not timed.
 *
 *   small: RETR of a 1 KiB file, again and again: what each transfer costs beyond its bytes
 *   bulk:  one RETR and one STOR of 100 MiB (--quick: 8 MiB)
 */

export async function ftpSuite(rec: Recorder, lab: string): Promise<void> {
  const { dir, settings } = rec;
  const mib = settings.quick ? 8 : 100;
  const files = await folder(dir, 'files');
  await randomFile(path.join(files, 'small.bin'), 1024);
  await randomFile(path.join(files, 'big.bin'), mib * 2 ** 20);

  // Ours: alice's home made before the start, so it is not seeded from lab/homes.
  const home = await folder(oursData(dir, 'ftp'), 'homes', 'alice');
  await linkFiles(files, home);
  // vsftpd: an anonymous root that its unprivileged user cannot write (vsftpd insists), with a writable upload/.
  const vs = await folder(dir, 'vsftpd');
  const root = await folder(vs, 'root');
  await linkFiles(files, root);
  const upload = await folder(root, 'upload');
  await chown(upload, ftpUid(), 0);

  const p = await ports(['ours', 'vsftpd']);
  const started: Daemon[] = [];
  try {
    const vsftpd = await startVsftpd(vs, p.vsftpd, root);
    started.push(vsftpd);
    const ours = await startOurs('ftp', { dir, lab, env: { FTP_PORT: String(p.ours), FTPS_PORT: '', FTP_HOST: HOST }, ready: [{ kind: 'tcp', port: p.ours }] });
    started.push(ours);
    const timeout = (settings.seconds + 60) * 1000;
    const login = { ours: [HOST, p.ours, 'alice', 'alice'], vsftpd: [HOST, p.vsftpd, 'anonymous', 'bench@lab.test'] };
    const side = (label: string, daemon: Daemon, args: (string | number)[], run: (args: (string | number)[]) => Promise<Record<string, number>>): Side => ({
      label,
      servers: [daemon],
      run: () => run(args),
    });
    const small = (args: (string | number)[]) => python('ftp_load.py', [...args, 'small', 'small.bin', 20_000, settings.seconds], timeout);
    await compare(rec, {
      id: 'ftp-small',
      group: 'ftp',
      metrics: [{ key: 'rate', title: 'FTP 1 KiB RETR, one session', unit: 'RETR/s', better: 'higher', target: { of: 'ratio', atLeast: 0.8 } }],
      reference: side('vsftpd 3.0', vsftpd, login.vsftpd, small),
      ours: side('wirelab ftp', ours, login.ours, small),
    });
    const retr = (args: (string | number)[]) => python('ftp_load.py', [...args, 'retr', 'big.bin'], timeout);
    await compare(rec, {
      id: 'ftp-retr',
      group: 'ftp',
      metrics: [{ key: 'mibs', title: `FTP ${mib} MiB RETR`, unit: 'MiB/s', better: 'higher', target: { of: 'ratio', atLeast: 0.8 } }],
      reference: side('vsftpd 3.0', vsftpd, login.vsftpd, retr),
      ours: side('wirelab ftp', ours, login.ours, retr),
    });
    // Each STOR writes a new file; the uploads are removed after each run, outside the timing.
    let n = 0;
    const stor = (args: (string | number)[], remoteDir: string, serverDir: string) => async () => {
      const name = `up-${++n}.bin`;
      const result = await python('ftp_load.py', [...args, 'stor', path.join(files, 'big.bin'), remoteDir + name], timeout);
      await rm(path.join(serverDir, name), { force: true });
      return result;
    };
    await compare(rec, {
      id: 'ftp-stor',
      group: 'ftp',
      metrics: [{ key: 'mibs', title: `FTP ${mib} MiB STOR`, unit: 'MiB/s', better: 'higher', target: { of: 'ratio', atLeast: 0.8 } }],
      reference: { label: 'vsftpd 3.0', servers: [vsftpd], run: stor(login.vsftpd, 'upload/', upload) },
      ours: { label: 'wirelab ftp', servers: [ours], run: stor(login.ours, '', home) },
    });
  } finally {
    for (const d of started.reverse()) await d.stop();
  }
}

/** `bytes` random bytes (nothing a transfer could compress), written in 1 MiB pieces. */
export async function randomFile(file: string, bytes: number): Promise<void> {
  if (bytes <= 2 ** 20) return writeFile(file, randomBytes(bytes));
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= 2 ** 20) {
    if (!out.write(randomBytes(Math.min(left, 2 ** 20)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Hard links of every file in `from` inside `to`: the same bytes on both sides, no copy. */
export async function linkFiles(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) await link(path.join(from, name), path.join(to, name));
}

/** The uid of the user `ftp` (Debian's vsftpd makes it), or nobody's. */
function ftpUid(): number {
  try {
    return Number(execFileSync('id', ['-u', 'ftp']).toString().trim());
  } catch {
    return 65534;
  }
}

async function startVsftpd(home: string, port: number, root: string): Promise<Daemon> {
  const empty = await folder(home, 'empty');
  const conf = path.join(home, 'vsftpd.conf');
  const pasv = await ports(['from']);
  await writeFile(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      `listen_address=${HOST}`,
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=YES',
      'local_enable=NO',
      'no_anon_password=YES',
      `anon_root=${root}`,
      'ftp_username=ftp',
      'write_enable=YES',
      'anon_upload_enable=YES',
      'anon_other_write_enable=YES',
      'anon_umask=022',
      `secure_chroot_dir=${empty}`,
      'pasv_enable=YES',
      `pasv_min_port=${pasv.from}`,
      `pasv_max_port=${pasv.from + 50}`,
      'seccomp_sandbox=NO',
      // A transfer log, as ours logs each transfer.
      'xferlog_enable=YES',
      `xferlog_file=${home}/xferlog`,
      'max_clients=0',
      'max_per_ip=0',
      '',
    ].join('\n'),
  );
  return startServer({ name: 'vsftpd', command: 'vsftpd', args: [conf], logFile: path.join(home, 'stderr.log') }, [{ kind: 'tcp', port }]);
}
