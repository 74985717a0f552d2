import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitUntilUp } from '../../lab-runner/grade/target';
import type { ScenarioResult } from '../../lab-runner/result';
import { runScenario } from '../../lab-runner/run';
import { loadScenarioFile } from '../../lab-runner/scenario/load';
import { LAB_DIR, SCENARIOS_DIR, startLab } from '../helpers/lab';

/**
 * The grading scenarios for a student's own server (http-basics, dns-basics) against
 * real servers from Debian standing in for the lab's, as `--target` puts them: nginx
 * serving the lab's site as www.lab.test, dnsmasq as the lab DNS. A real server scores
 * what its configuration earns, and the points it loses say why.
 */

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/lab-runner/cli.js');

let tmp: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-student-'));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => once(c, 'exit')));
  await rm(tmp, { recursive: true, force: true });
});

/** Start a server program and wait (bounded) until it answers as the service would. */
async function serve(service: 'http' | 'dns', command: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  await waitUntilUp(service, '127.0.0.1', port, 10000, () => (child.exitCode !== null ? `${command} exited with ${child.exitCode}` : undefined));
  return child;
}

async function grade(file: string, service: string, port: number): Promise<ScenarioResult> {
  const lab = await startLab({ targets: { [service]: { host: '127.0.0.1', port } } });
  try {
    return await runScenario(await loadScenarioFile(path.join(SCENARIOS_DIR, file)), lab.backend);
  } finally {
    await lab.stop();
  }
}

const failedSteps = (result: ScenarioResult): string[] => result.steps.filter((s) => s.status !== 'passed').map((s) => `${s.name}: ${s.error}`);

describe('http-basics', () => {
  let port: number;
  beforeAll(async () => {
    port = await freePort();
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
    await serve('http', 'nginx', ['-c', conf, '-p', tmp], port);
  });

  test('nginx serving the lab site as www.lab.test gets full marks', async () => {
    // nginx does everything the scenario asks: 400 for a request line that is not HTTP,
    // Content-Length in bytes (the lab page has "–" and "·", three and two bytes), HEAD,
    // keep-alive, and it reads a request to its empty line however it arrives.
    const result = await grade('http-basics.yaml', 'http', port);
    expect(failedSteps(result)).toEqual([]);
    expect(result.points).toBe(18);
    expect(result.maxPoints).toBe(18);
    // It really was nginx that answered.
    expect(result.steps[0]!.output?.headers).toMatchObject({ server: expect.stringMatching(/^nginx/) });
  });

  (existsSync(CLI) ? test : test.skip)('`wirelab run scenarios/http-basics.yaml --target http=HOST:PORT` passes it too, exit 0', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [CLI, 'run', 'scenarios/http-basics.yaml', '--target', `http=127.0.0.1:${port}`, '--free-ports'],
        { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60000 },
        (err, out) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: out }),
      );
    });
    expect(stdout).toMatch(/An HTTP server from scratch +18\/18 +passed/);
    expect(code).toBe(0);
  });
});

describe('dns-basics', () => {
  const dnsmasq = (port: number, extra: string[]): string[] => [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--pid-file=',
    '--bind-interfaces',
    '--listen-address=127.0.0.1',
    `--port=${port}`,
    '--address=/www.lab.test/172.28.0.80',
    ...extra,
  ];

  test('dnsmasq told that lab.test is its own (--local=/lab.test/) gets full marks', async () => {
    const port = await freePort(true);
    await serve('dns', 'dnsmasq', dnsmasq(port, ['--local=/lab.test/']), port);
    const result = await grade('dns-basics.yaml', 'dns', port);
    expect(failedSteps(result)).toEqual([]);
    expect(result.points).toBe(10);
    expect(result.maxPoints).toBe(10);
  });

  test('dnsmasq that only knows www.lab.test loses the NXDOMAIN step: it refuses what it does not know', async () => {
    // Without --local it does not consider lab.test its own zone, and having no upstream
    // server to ask it answers REFUSED, not NXDOMAIN ("no such name"): 2 points lost.
    const port = await freePort(true);
    await serve('dns', 'dnsmasq', dnsmasq(port, []), port);
    const result = await grade('dns-basics.yaml', 'dns', port);
    expect(failedSteps(result)).toEqual(['A name that does not exist gets NXDOMAIN: rcode: expected "NXDOMAIN", got "REFUSED"']);
    expect(result.points).toBe(8);
  });
});
