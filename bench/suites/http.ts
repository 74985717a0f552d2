import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compare, type Metric, type Recorder } from '../figures';
import type { Daemon } from '../process';
import { hostDir } from '../../services/common/certificates';
import { folder, HOST, ONE_LOAD_ADDRESS, oursData, ports, startOurs, startServer } from '../servers';
import { wrk } from '../tools';

/**
 * HTTP: www.lab.test's static page against nginx serving the same files, over HTTP and
 * over HTTPS with the same certificate (the lab CA's leaf for www.lab.test, which ours
 * makes at its first start), and shop.lab.test's reverse proxy against nginx's
 * proxy_pass, both in front of the same app (ours, app.lab.test). wrk, two threads;
 * the page is `/` (lab/www/index.html).
 *
 * nginx is set up as Debian ships it (sendfile, tcp_nopush, an access log to a file),
 * with one worker (our server is one process) and open_file_cache.
 */

const STATIC: Metric[] = [
  { key: 'rps', title: 'HTTP static page, wrk -t2 -c50', unit: 'req/s', better: 'higher', target: { of: 'ratio', atLeast: 0.8 } },
  { key: 'p50', title: 'HTTP static page, latency p50', unit: 'ms', better: 'lower' },
  { key: 'p99', title: 'HTTP static page, latency p99', unit: 'ms', better: 'lower', target: { of: 'ratio', atMost: 1.5 } },
];

const HTTPS: Metric[] = [
  { key: 'rps', title: 'HTTPS static page, wrk -t2 -c50', unit: 'req/s', better: 'higher', target: { of: 'ratio', atLeast: 0.8 } },
  { key: 'p99', title: 'HTTPS static page, latency p99', unit: 'ms', better: 'lower', target: { of: 'ratio', atMost: 1.5 } },
];

export async function httpSuite(rec: Recorder, lab: string): Promise<void> {
  const { dir, settings } = rec;
  const p = await ports(['ours', 'oursTls', 'app', 'proxy', 'nginx', 'nginxTls', 'nginxProxy']);
  const www = path.join(lab, 'www');
  const app = await startOurs('app', { dir, lab, env: { APP_PORT: String(p.app), APP_HOST: HOST }, ready: [{ kind: 'tcp', port: p.app }] });
  const servers: Daemon[] = [app];
  try {
    // Ours first: at its first start it makes the lab CA and www.lab.test's certificate, which nginx then serves too.
    const ours = await startOurs('http', {
      dir,
      lab,
      env: { HTTP_PORT: String(p.ours), HTTPS_PORT: String(p.oursTls), HTTP_HOST: HOST, ...ONE_LOAD_ADDRESS },
      ready: [{ kind: 'tcp', port: p.ours }, { kind: 'tcp', port: p.oursTls }],
    });
    servers.push(ours);
    const cert = hostDir(oursData(dir, 'http'), 'www.lab.test');
    const nginx = await startNginx(dir, [
      `server { listen ${HOST}:${p.nginx}; root ${www}; }`,
      // The same key and chain (leaf + the lab's intermediate) as ours; nginx's TLS defaults otherwise (TLS 1.2 and 1.3).
      `server { listen ${HOST}:${p.nginxTls} ssl; root ${www}; ssl_certificate ${cert}/chain.pem; ssl_certificate_key ${cert}/key.pem; }`,
      `upstream app { server ${HOST}:${p.app}; keepalive 32; }`,
      // HTTP/1.1 and no Connection header to the app: what upstream keepalive needs.
      `server { listen ${HOST}:${p.nginxProxy}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    ]);
    servers.push(nginx);
    const proxy = await startOurs('proxy', {
      dir,
      lab,
      // The app by address: a lab name would need the lab DNS and its 172.28.0.0/24 addresses.
      env: { PROXY_PORT: String(p.proxy), PROXY_HTTPS_PORT: '', PROXY_HOST: HOST, PROXY_UPSTREAM: `${HOST}:${p.app}`, ...ONE_LOAD_ADDRESS },
      ready: [{ kind: 'tcp', port: p.proxy }],
    });
    servers.push(proxy);

    const s = settings.seconds;
    const side = (label: string, daemon: Daemon, port: number, connections: number, scheme = 'http') => ({
      label,
      servers: [daemon],
      run: () => wrk(`${scheme}://${HOST}:${port}/`, connections, s),
    });
    await compare(rec, {
      id: 'http-static',
      group: 'http',
      metrics: STATIC,
      reference: side('nginx 1.22, 1 worker, open_file_cache', nginx, p.nginx, 50),
      ours: side('wirelab http', ours, p.ours, 50),
    });
    await compare(rec, {
      id: 'https-static',
      group: 'http',
      metrics: HTTPS,
      reference: side('nginx 1.22, 1 worker, the same certificate', nginx, p.nginxTls, 50, 'https'),
      ours: side('wirelab http, HTTPS', ours, p.oursTls, 50, 'https'),
      note: 'wrk keeps its 50 connections open: one handshake each, then requests inside TLS',
    });
    await compare(rec, {
      id: 'http-proxy',
      group: 'http',
      metrics: [{ key: 'rps', title: 'reverse proxy to the same app, wrk -t2 -c50', unit: 'req/s', better: 'higher', target: { of: 'ratio', atLeast: 0.8 } }],
      reference: side('nginx proxy_pass, upstream keepalive', nginx, p.nginxProxy, 50),
      ours: side('wirelab proxy', proxy, p.proxy, 50),
      note: 'the app behind both is ours (app.lab.test)',
    });
    // Scaling: how the static figure changes with the number of connections (not with --quick).
    for (const connections of settings.quick ? [] : [10, 500]) {
      await compare(rec, {
        id: `http-static-c${connections}`,
        group: 'http scaling',
        metrics: [
          { key: 'rps', title: `HTTP static page, wrk -t2 -c${connections}`, unit: 'req/s', better: 'higher' },
          { key: 'p99', title: `HTTP static page -c${connections}, latency p99`, unit: 'ms', better: 'lower' },
          { key: 'errors', title: `HTTP static page -c${connections}, errors (refused, reset, timeouts)`, unit: 'count', better: 'lower', noRatio: true },
        ],
        reference: side('nginx 1.22, 1 worker', nginx, p.nginx, connections),
        ours: side('wirelab http', ours, p.ours, connections),
      });
    }
  } finally {
    for (const d of servers.reverse()) await d.stop();
  }
}

/** nginx with one worker and Debian's defaults, its temp files and logs in `dir`; `servers` are its server/upstream blocks. */
async function startNginx(dir: string, servers: string[]): Promise<Daemon> {
  const home = await folder(dir, 'nginx');
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${home}/${t};`);
  const conf = path.join(home, 'nginx.conf');
  await writeFile(
    conf,
    [
      'daemon off;',
      'master_process on;',
      'worker_processes 1;',
      `pid ${home}/nginx.pid;`,
      `error_log ${home}/error.log warn;`,
      'events { worker_connections 2048; }',
      'http {',
      '  include /etc/nginx/mime.types;',
      '  default_type application/octet-stream;',
      '  sendfile on;',
      '  tcp_nopush on;',
      '  open_file_cache max=1000 inactive=20s;',
      `  access_log ${home}/access.log;`,
      ...temps,
      ...servers.map((s) => `  ${s}`),
      '}',
      '',
    ].join('\n'),
  );
  const listens = [...servers.join('\n').matchAll(/listen [\d.]+:(\d+)/g)].map((m) => ({ kind: 'tcp' as const, port: Number(m[1]) }));
  return startServer({ name: 'nginx', command: 'nginx', args: ['-p', home, '-c', conf, '-e', `${home}/error.log`], logFile: path.join(home, 'stderr.log') }, listens);
}
