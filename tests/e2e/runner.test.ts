import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend } from '../../lab-runner/backends/embedded';
import { runScenario } from '../../lab-runner/run';
import { parseScenario } from '../../lab-runner/scenario/load';
import { PortInUseError } from '../../services/common/listen';
import { LAB_DIR, startLab } from '../helpers/lab';
import { listenTcp } from '../helpers/socket';

/** How the runner judges steps: failures, hints, skips, retries, timeouts, targets. */

describe('the runner on the embedded lab', () => {
  let lab: Awaited<ReturnType<typeof startLab>>;
  beforeAll(async () => {
    lab = await startLab();
  });
  afterAll(() => lab.stop());

  const run = (yaml: string) => runScenario(parseScenario(yaml, 'test.yaml'), lab.backend);

  test('a failed expectation says what was expected, what came, where, and the hint', async () => {
    const result = await run(`
title: t
steps:
  - name: wrong page
    http: { url: "http://www.lab.test/no-such-page.html" }
    expect:
      status: 200
    points: 3
    hint: check the file name
`);
    const [step] = result.steps;
    expect(step).toMatchObject({ status: 'failed', points: 0, maxPoints: 3, hint: 'check the file name', error: 'status: expected 200, got 404' });
    expect(step!.checks[0]!.line).toBe(7);
    expect(result.status).toBe('failed');
    // The web server's log line for the request is attached to the failure.
    expect(step!.logs?.http?.some((l) => l.includes('"GET /no-such-page.html HTTP/1.1" 404'))).toBe(true);
  });

  test('a step that needs a value a failed step should have saved is skipped, not failed twice', async () => {
    const result = await run(`
title: t
steps:
  - name: lookup that fails
    dns: { query: nosuch.lab.test }
    expect: { rcode: NOERROR }
    save:
      ip: answers[0].data
  - name: uses the address
    http: { url: "http://\${ip}/" }
  - name: independent
    dns: { query: www.lab.test }
`);
    expect(result.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'passed']);
    expect(result.steps[1]!.error).toBe('needs ${ip}, which "lookup that fails" did not save');
  });

  test('save of a path the result does not have fails the step', async () => {
    const result = await run(`
title: t
steps:
  - name: a
    dns: { query: nosuch.lab.test }
    save:
      ip: answers[0].data
`);
    expect(result.steps[0]).toMatchObject({ status: 'failed', error: 'save: ip = answers[0].data: the result has nothing at answers[0].data' });
  });

  test('retry runs a step again until it passes or the attempts run out', async () => {
    const result = await run(`
title: t
steps:
  - name: never
    dns: { query: www.lab.test }
    expect: { rcode: NXDOMAIN }
    retry: { attempts: 3, interval: 10ms }
`);
    expect(result.steps[0]).toMatchObject({ status: 'failed', attempts: 3 });
  });

  test('a step that runs out of time errors with what it got so far', async () => {
    const result = await run(`
title: t
steps:
  - name: waits for a pattern that never comes
    tcp:
      host: www.lab.test
      port: 80
      lines: ["GET / HTTP/1.1", "Host: www.lab.test", ""]
      until: "this text is never sent"
    timeout: 300ms
`);
    expect(result.steps[0]!.status).toBe('error');
    expect(result.steps[0]!.error).toMatch(/^no match for \/this text is never sent\/ in time; received \d+ bytes: "HTTP\/1.1 200 OK/);
  });

  test('the runner talks only to the lab: other addresses are refused before any traffic', async () => {
    const result = await run(`
title: t
steps:
  - name: outside
    tcp: { host: 192.0.2.1, port: 80, send: x }
  - name: wrong port
    tcp: { host: www.lab.test, port: 8080, send: x }
`);
    expect(result.steps[0]!.error).toMatch(/192\.0\.2\.1 is not an address in the lab network/);
    expect(result.steps[1]!.error).toMatch(/www\.lab\.test \(172\.28\.0\.80\) has no service on port 8080/);
    expect(result.steps.flatMap((s) => s.transcript).filter((e) => e.kind === 'connect')).toEqual([]);
  });

  test('a placeholder where a number goes is checked after it is filled in', async () => {
    const result = await run(`
title: t
vars: { port: eighty }
steps:
  - name: bad port
    tcp: { host: www.lab.test, port: "\${port}", send: x }
`);
    expect(result.steps[0]!.error).toMatch(/^test\.yaml:6: tcp\.port: .*expected number.*\(after filling in variables\)$/);
  });

  test('pause: the service keeps its port but answers nothing; unpause brings it back', async () => {
    const result = await run(`
title: t
steps:
  - name: pause
    lab: { action: pause, service: http }
    expect: { info.state: paused }
  - name: the connection opens, the answer never comes
    http: { url: "http://www.lab.test/" }
    timeout: 500ms
    expect: { code: ETIMEDOUT, error: { contains: "no complete reply" } }
  - name: unpause
    lab: { action: unpause, service: http }
    expect: { state: running }
  - name: answers again
    http: { url: "http://www.lab.test/" }
    expect: { status: 200 }
  - name: disconnect needs real containers
    lab: { action: disconnect, service: http }
    expect: { error: { contains: needs the Docker backend } }
`);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ['pause', 'passed'],
      ['the connection opens, the answer never comes', 'passed'],
      ['unpause', 'passed'],
      ['answers again', 'passed'],
      ['disconnect needs real containers', 'passed'],
    ]);
  });

  test('the API writes its state to the data directory, never to lab/', async () => {
    const seed = await readFile(path.join(LAB_DIR, 'api/notes.json'), 'utf8');
    const result = await run(`
title: t
steps:
  - name: create
    http: { method: POST, url: "http://www.lab.test/api/notes", json: { title: state test } }
    expect: { status: 201 }
`);
    expect(result.status).toBe('passed');
    expect(await readFile(path.join(LAB_DIR, 'api/notes.json'), 'utf8')).toBe(seed);
    const stored = await readFile(path.join(lab.dataDir, 'http/notes.json'), 'utf8');
    expect(stored).toContain('state test');
  });
});

describe('--target sends a service to another server', () => {
  test("a student's own HTTP server answers for www.lab.test", async () => {
    const requests: string[] = [];
    // A minimal "student server", the kind a sockets tutorial builds.
    const student = await listenTcp((socket) => {
      socket.once('data', (data: Buffer) => {
        requests.push(data.toString('latin1').split('\r\n')[0]!);
        socket.end('HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>student</h1>');
      });
    });
    const lab = await startLab({ targets: { http: { host: '127.0.0.1', port: student.port } } });
    try {
      expect(lab.backend.status().find((s) => s.name === 'http')).toMatchObject({ state: 'target' });
      const result = await runScenario(
        parseScenario('title: t\nsteps:\n  - name: a\n    http: { url: "http://www.lab.test/" }\n    expect: { status: 200, body: { contains: student } }\n', 't.yaml'),
        lab.backend,
      );
      expect(result.steps[0]!.status).toBe('passed');
      expect(requests).toEqual(['GET / HTTP/1.1']);
      // The name still resolved through the lab DNS, which the lab runs.
      expect(result.steps[0]!.transcript[0]).toMatchObject({ protocol: 'dns', to: 'ns.lab.test:53' });
    } finally {
      await lab.stop();
      await student.close();
    }
  });
});

describe('a port already in use', () => {
  test('names the port and the service, and starts nothing', async () => {
    const squatter = await listenTcp();
    const port = squatter.port;
    const backend = new EmbeddedBackend({ labDir: LAB_DIR, dataDir: await mkdtemp(path.join(os.tmpdir(), 'wirelab-inuse-')), freePorts: true, ports: { http: { http: port } } });
    try {
      const error = await backend.start().then(() => undefined, (err: unknown) => err);
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as Error).message).toMatch(new RegExp(`^http: port ${port}/tcp on 127\\.0\\.0\\.1 is already in use\\. .*ss -lntup 'sport = :${port}'.*--free-ports`));
      expect(backend.status().every((s) => s.state === 'stopped')).toBe(true);
    } finally {
      await backend.stop();
      await squatter.close();
    }
  });
});
