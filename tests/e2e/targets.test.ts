import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadScenarioFile, parseScenario } from '../../lab-runner/scenario/load';
import { runScenario } from '../../lab-runner/run';
import { LAB_DIR, problems, SCENARIOS_DIR, startLab } from '../helpers/lab';
import { dnsExchange, Wire } from '../../lab-runner/wire';

/**
 * `--target` with real servers from Debian (installed by .ci/run): nginx serving the
 * lab's site stands in for www.lab.test, dnsmasq stands in for the lab DNS. The
 * scenarios do not change.
 */

/** A port that was free a moment ago (nginx and dnsmasq cannot report a port 0 bind). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Try until `ready` resolves: waiting on health, never on a fixed sleep. */
async function until(ready: () => Promise<unknown>, child: ChildProcess, what: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      await ready();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${what} did not come up`);
}

let tmp: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-targets-'));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => once(c, 'exit')));
  await rm(tmp, { recursive: true, force: true });
});

test('nginx as www.lab.test: resolve-then-fetch passes unchanged', async () => {
  const port = await freePort();
  const conf = path.join(tmp, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
pid ${tmp}/nginx.pid;
error_log stderr;
events {}
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  server { listen 127.0.0.1:${port}; root ${LAB_DIR}/www; }
}
`,
  );
  const nginx = spawn('nginx', ['-c', conf, '-p', tmp], { stdio: 'ignore' });
  children.push(nginx);
  await until(() => new Promise((resolve, reject) => net.connect(port, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); resolve(null); }).on('error', reject)), nginx, 'nginx');

  const lab = await startLab({ targets: { http: { host: '127.0.0.1', port } } });
  try {
    const result = await runScenario(await loadScenarioFile(path.join(SCENARIOS_DIR, 'resolve-then-fetch.yaml')), lab.backend);
    expect(problems(result)).toEqual([]);
    expect(result.steps[1]!.output?.headers).toMatchObject({ server: expect.stringMatching(/^nginx/) });
  } finally {
    await lab.stop();
  }
});

test('dnsmasq as the lab DNS: names resolve through it, the page comes from the lab', async () => {
  const port = await freePort();
  const dnsmasq = spawn(
    'dnsmasq',
    ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--address=/www.lab.test/172.28.0.80'],
    { stdio: 'ignore' },
  );
  children.push(dnsmasq);
  const probe = { name: 'www.lab.test', type: 'A', transport: 'udp', recursion: true } as const;
  await until(() => dnsExchange({ host: '127.0.0.1', port, label: 'dnsmasq' }, probe, new Wire(), AbortSignal.timeout(200)), dnsmasq, 'dnsmasq');

  const lab = await startLab({ targets: { dns: { host: '127.0.0.1', port } } });
  try {
    const result = await runScenario(
      parseScenario(
        `title: t
steps:
  - name: dnsmasq answers for www.lab.test
    dns: { query: www.lab.test }
    expect:
      rcode: NOERROR
      answers[0].data: 172.28.0.80
  - name: the page, found through dnsmasq
    http: { url: "http://www.lab.test/" }
    expect: { status: 200, body: { contains: "<h1>" } }
`,
        'dnsmasq.yaml',
      ),
      lab.backend,
    );
    expect(problems(result)).toEqual([]);
    expect(lab.backend.status().find((s) => s.name === 'dns')).toMatchObject({ state: 'target', endpoints: { dns: `127.0.0.1:${port}` } });
  } finally {
    await lab.stop();
  }
});
