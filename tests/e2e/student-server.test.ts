import path from 'node:path';
import type { ScenarioResult } from '../../lab-runner/result';
import { runScenario } from '../../lab-runner/run';
import { loadScenarioFile } from '../../lab-runner/scenario/load';
import { startDnsmasq, startNginx, type Daemon } from '../helpers/daemons';
import { LAB_DIR, SCENARIOS_DIR, startLab } from '../helpers/lab';
import { wirelab } from '../helpers/process';

/**
 * The grading scenarios for a student's own server (http-basics, dns-basics) against
 * real servers from Debian standing in for the lab's, as `--target` puts them: nginx
 * serving the lab's site as www.lab.test, dnsmasq as the lab DNS. A real server scores
 * what its configuration earns, and the points it loses say why.
 */

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
  let nginx: Daemon;
  let port: number;
  beforeAll(async () => {
    nginx = await startNginx({ root: path.join(LAB_DIR, 'www') });
    port = nginx.port;
  });
  afterAll(() => nginx?.stop());

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

  test('`wirelab run scenarios/http-basics.yaml --target http=HOST:PORT` passes it too, exit 0', async () => {
    const { code, stdout } = await wirelab(['run', 'scenarios/http-basics.yaml', '--target', `http=127.0.0.1:${port}`, '--free-ports']);
    expect(stdout).toMatch(/An HTTP server from scratch +18\/18 +passed/);
    expect(code).toBe(0);
  });
});

describe('dns-basics', () => {
  const daemons: Daemon[] = [];
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
  });

  test('dnsmasq told that lab.test is its own (--local=/lab.test/) gets full marks', async () => {
    const dnsmasq = await startDnsmasq(['--local=/lab.test/']);
    daemons.push(dnsmasq);
    const result = await grade('dns-basics.yaml', 'dns', dnsmasq.port);
    expect(failedSteps(result)).toEqual([]);
    expect(result.points).toBe(10);
    expect(result.maxPoints).toBe(10);
  });

  test('dnsmasq that only knows www.lab.test loses the NXDOMAIN step: it refuses what it does not know', async () => {
    // Without --local it does not consider lab.test its own zone, and having no upstream
    // server to ask it answers REFUSED, not NXDOMAIN ("no such name"): 2 points lost.
    const dnsmasq = await startDnsmasq();
    daemons.push(dnsmasq);
    const result = await grade('dns-basics.yaml', 'dns', dnsmasq.port);
    expect(failedSteps(result)).toEqual(['A name that does not exist gets NXDOMAIN: rcode: expected "NXDOMAIN", got "REFUSED"']);
    expect(result.points).toBe(8);
  });
});
