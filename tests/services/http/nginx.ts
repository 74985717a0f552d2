/**
 * nginx (Debian's, installed by .ci/run) on 127.0.0.1, serving a copy of the lab site:
 * the reference the lab's HTTP servers are compared with, request by request.
 * The copy lives in a temp folder readable by nginx's workers (which run as nobody when
 * the tests run as root), so the checkout's own permissions do not matter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../../../lab-runner/grade/target';
import { tempDir, WWW } from './harness';

export interface Nginx {
  port: number;
  /** The copy of lab/www that nginx serves. */
  root: string;
  stop(): Promise<void>;
}

export async function startNginx(): Promise<Nginx> {
  const dir = await tempDir('wirelab-nginx-');
  await chmod(dir, 0o755);
  const root = path.join(dir, 'www');
  await cp(WWW, root, { recursive: true });
  const port = await freePort(); // nginx cannot bind port 0 and say which port it got
  // Temporary files in the temp folder too, never in /var/lib/nginx.
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`);
  await writeFile(
    path.join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'master_process on;',
      `pid ${dir}/nginx.pid;`,
      // notice: nginx says "start worker process" once it listens, the line this waits for.
      'error_log stderr notice;',
      'events { worker_connections 64; }',
      'http {',
      '  include /etc/nginx/mime.types;',
      '  access_log off;',
      ...temps,
      `  server { listen 127.0.0.1:${port}; root ${root}; }`,
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await started(child, port);
  return {
    port,
    root,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves on nginx's "start worker process" line; rejects, naming what it waited for, if nginx exits first. */
function started(child: ChildProcess, port: number): Promise<void> {
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (/start worker process/.test(log)) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`nginx on 127.0.0.1:${port} exited (${code}) before "start worker process":\n${log}`)));
  });
}
