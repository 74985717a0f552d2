import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitUntilUp } from '../../lab-runner/grade/target';
import type { RunResult } from '../../lab-runner/result';
import { openFile, type OpenedPage } from '../helpers/browser';
import { REPO_DIR as ROOT } from '../helpers/paths';
import { wirelab } from '../helpers/process';

/**
 * `wirelab run --target http=127.0.0.1:PORT`: a student's server (the "good" sample
 * submission, a Python program on raw sockets) stands in for www.lab.test, and every
 * report says so: the terminal's summary, the JSON result, JUnit's properties, and the
 * HTML page, where the ladder diagrams draw the student's server under its lab name,
 * marked as the target with the address it was really reached at (checked in Chromium).
 */

let tmp: string;
let port: number;
let student: ChildProcess;
let json: RunResult;
let terminal: string;
let opened: OpenedPage;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-targets-report-'));
  port = await freePort();
  student = spawn('python3', ['server.py', String(port)], { cwd: path.join(ROOT, 'tests/fixtures/submissions/good'), stdio: 'ignore' });
  await waitUntilUp('http', '127.0.0.1', port, 10000, () => (student.exitCode !== null ? `server.py exited with ${student.exitCode}` : undefined));
  const args = ['run', '--free-ports', 'scenarios/resolve-then-fetch.yaml', '--target', `http=127.0.0.1:${port}`];
  const [asJson, asHtml, asJunit] = await Promise.all([
    wirelab([...args, '--report', 'json', '--out', path.join(tmp, 'result.json')]),
    wirelab([...args, '--report', 'html', '--out', path.join(tmp, 'report.html')]),
    wirelab([...args, '--report', 'junit', '--out', path.join(tmp, 'junit.xml')]),
  ]);
  for (const run of [asJson, asHtml, asJunit]) expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  terminal = asJson.stdout;
  json = JSON.parse(await readFile(path.join(tmp, 'result.json'), 'utf8')) as RunResult;
  opened = await openFile(path.join(tmp, 'report.html'));
}, 120000);
afterAll(async () => {
  await opened?.close();
  if (student?.exitCode === null) {
    student.kill('SIGTERM');
    await once(student, 'exit');
  }
  await rm(tmp, { recursive: true, force: true });
});

test('the JSON result names the target: the lab service, its lab name, where the server really was', () => {
  expect(json.targets).toEqual([{ service: 'http', label: 'www.lab.test:80', address: `127.0.0.1:${port}` }]);
  // The transcript keeps the lab name, and the connection's far end is the student's port.
  const fetch = json.scenarios[0]!.steps[1]!;
  expect(fetch.transcript.find((e) => e.kind === 'connect')).toMatchObject({ to: 'www.lab.test:80', remote: { address: '127.0.0.1', port } });
});

test('the terminal summary and JUnit say it', async () => {
  expect(terminal).toContain(`target: www.lab.test:80 (http) was the server at 127.0.0.1:${port}`);
  expect(await readFile(path.join(tmp, 'junit.xml'), 'utf8')).toContain(`<property name="target" value="www.lab.test:80 (http) at 127.0.0.1:${port}"/>`);
});

test('the HTML page says it at the top, and each diagram marks the column of www.lab.test as the target', async () => {
  const { page } = opened;
  expect(opened.problems).toEqual([]);
  expect(await page.locator('header .facts li.target').innerText()).toBe(`target: www.lab.test:80 (http) was the server at 127.0.0.1:${port}`);
  expect(await page.locator('header .facts li.target').isVisible()).toBe(true);
  await page.locator('details.scenario summary').first().click(); // a passed scenario starts closed
  const svg = page.locator('#s1-2 figure.ladder svg');
  const www = svg.locator('g.host[data-host="www.lab.test"]');
  expect(await www.getAttribute('class')).toBe('host target');
  expect(await www.getAttribute('data-target')).toBe(`127.0.0.1:${port}`);
  expect(await www.locator('text.hostname').textContent()).toBe('www.lab.test');
  expect(await www.locator('text.target-mark').textContent()).toBe(`target: 127.0.0.1:${port}`);
  expect(await www.locator('text.target-mark').isVisible()).toBe(true);
  // The mark sits inside the host's box, below its name and port.
  const box = await www.locator('rect.hostbox').boundingBox();
  const mark = await www.locator('text.target-mark').boundingBox();
  expect(mark!.y).toBeGreaterThan(box!.y);
  expect(mark!.y + mark!.height).toBeLessThanOrEqual(box!.y + box!.height + 1);
  // The lab's own services are not marked.
  expect(await svg.locator('g.host.target').count()).toBe(1);
  expect(await page.locator('#s1-1 figure.ladder svg g.host.target').count()).toBe(0); // a DNS step: www.lab.test is not in it
});
