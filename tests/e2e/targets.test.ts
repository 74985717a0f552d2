import path from 'node:path';
import { loadScenarioFile, parseScenario } from '../../lab-runner/scenario/load';
import { runScenario } from '../../lab-runner/run';
import { startDnsmasq, startNginx } from '../helpers/daemons';
import { LAB_DIR, problems, SCENARIOS_DIR, startLab } from '../helpers/lab';

/**
 * `--target` with real servers from Debian (installed by .ci/run): nginx serving the
 * lab's site stands in for www.lab.test, dnsmasq stands in for the lab DNS. The
 * scenarios do not change.
 */

test('nginx as www.lab.test: resolve-then-fetch passes unchanged', async () => {
  const nginx = await startNginx({ root: path.join(LAB_DIR, 'www') });
  const lab = await startLab({ targets: { http: { host: '127.0.0.1', port: nginx.port } } });
  try {
    const result = await runScenario(await loadScenarioFile(path.join(SCENARIOS_DIR, 'resolve-then-fetch.yaml')), lab.backend);
    expect(problems(result)).toEqual([]);
    expect(result.steps[1]!.output?.headers).toMatchObject({ server: expect.stringMatching(/^nginx/) });
  } finally {
    await lab.stop();
    await nginx.stop();
  }
});

test('dnsmasq as the lab DNS: names resolve through it, the page comes from the lab', async () => {
  const dnsmasq = await startDnsmasq();
  const lab = await startLab({ targets: { dns: { host: '127.0.0.1', port: dnsmasq.port } } });
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
    expect(lab.backend.status().find((s) => s.name === 'dns')).toMatchObject({ state: 'target', endpoints: { dns: `127.0.0.1:${dnsmasq.port}` } });
  } finally {
    await lab.stop();
    await dnsmasq.stop();
  }
});
