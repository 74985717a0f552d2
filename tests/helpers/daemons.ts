/**
 * Real servers from Debian standing in for lab services (what `--target` and `wirelab
 * grade` point at), or that the lab's are compared with: nginx for www.lab.test,
 * dnsmasq for the lab DNS, NSD as the reference authoritative server. Each on
 * 127.0.0.1, on a free port (none can bind port 0 and say which port it got), waited
 * for until it answers as its service would, and stopped by its PID.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitUntilUp } from '../../lab-runner/grade/target';
import { freePort } from './ports';
import { Child } from './process';
import { WAIT_MS, type WaitOptions } from './wait';

export interface Daemon {
  port: number;
  child: Child;
  stop(): Promise<void>;
}

export interface Nginx extends Daemon {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Its temp folder: configuration, pid file, temp files. */
  dir: string;
}

/**
 * nginx serving `root` (a folder), or with `server` as the body of its server block
 * (directives; the `listen` is added). Its workers run as the user running the tests,
 * so they read what the tests can read: a checkout readable by its owner only (a clone
 * under a 0700 folder) is served, not answered with 403. (As root, nginx's workers
 * would otherwise be `nobody`.)
 */
export async function startNginx(site: { root: string } | { server: string }, options: WaitOptions = {}): Promise<Nginx> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-nginx-'));
  const port = await freePort();
  const server = 'root' in site ? `root ${site.root};` : site.server;
  // `user` means something only to a master running as root, and nginx warns about it otherwise.
  const user = process.getuid?.() === 0 ? `user ${os.userInfo().username};\n` : '';
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `${user}daemon off;
pid ${dir}/nginx.pid;
error_log stderr;
events {}
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    ${server}
  }
}
`,
  );
  const child = Child.start('nginx', ['-e', 'stderr', '-c', conf, '-p', dir], { name: 'nginx' });
  const stop = async (): Promise<void> => {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  await answering(child, 'http', port, options, stop);
  return { port, url: `http://127.0.0.1:${port}`, dir, child, stop };
}

/**
 * dnsmasq answering for www.lab.test (172.28.0.80, the lab's address) and nothing
 * else it knows, with no upstream server, no hosts file and no configuration file;
 * `args` adds to that (e.g. `--local=/lab.test/`).
 */
export async function startDnsmasq(args: string[] = [], options: WaitOptions = {}): Promise<Daemon> {
  const port = await freePort(true);
  const child = Child.start(
    'dnsmasq',
    ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--address=/www.lab.test/172.28.0.80', ...args],
    { name: 'dnsmasq' },
  );
  const stop = async (): Promise<void> => {
    await child.stop();
  };
  await answering(child, 'dns', port, options, stop);
  return { port, child, stop };
}

/**
 * NSD, an authoritative DNS server (the reference the lab's DNS server is compared
 * with), in the foreground on 127.0.0.1 (UDP and TCP), serving `zones` (a zone's name
 * and its zone file, copied to its temp folder).
 */
export async function startNsd(zones: Record<string, string>, options: WaitOptions = {}): Promise<Daemon> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-nsd-'));
  const port = await freePort(true);
  const zoneLines: string[] = [];
  for (const [name, file] of Object.entries(zones)) {
    await copyFile(file, path.join(dir, `${name}.zone`));
    zoneLines.push('zone:', `  name: ${name}`, `  zonefile: ${name}.zone`);
  }
  const conf = path.join(dir, 'nsd.conf');
  await writeFile(
    conf,
    [
      'server:',
      `  ip-address: 127.0.0.1@${port}`,
      '  do-ip6: no',
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir}"`,
      '  database: ""',
      `  pidfile: "${dir}/nsd.pid"`,
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  zonelistfile: "${dir}/zone.list"`,
      '  server-count: 1',
      'remote-control:',
      '  control-enable: no',
      ...zoneLines,
      '',
    ].join('\n'),
  );
  const child = Child.start('nsd', ['-d', '-c', conf], { name: 'nsd' });
  const stop = async (): Promise<void> => {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  await answering(child, 'dns', port, options, stop);
  return { port, child, stop };
}

/** Until it answers on the port as `service` would (the grader's own check), or exits, or the deadline. */
async function answering(child: Child, service: 'http' | 'dns', port: number, options: WaitOptions, stop: () => Promise<void>): Promise<void> {
  try {
    await waitUntilUp(service, '127.0.0.1', port, options.ms ?? WAIT_MS, () => (child.running ? undefined : `${child.name} exited with ${child.exitStatus?.code}`), child.exited);
  } catch (err) {
    await stop();
    throw new Error(`${child.name} did not come up on 127.0.0.1:${port}: ${(err as Error).message}; ${child.output.tail()}`);
  }
}
