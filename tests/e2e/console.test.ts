import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { openConsole, type OpenedPage } from '../helpers/browser';
import type { UpLab } from '../helpers/cli';
import { REPO_DIR } from '../helpers/paths';
import { STACK } from '../../lab-runner/wire';

/**
 * The lab console in a real browser (Debian's chromium, driven by playwright-core), on
 * a lab started by `wirelab up` as a student starts it: the page loads with the token
 * and is refused without it; a DNS query shows its answer and ladder; stopping app on
 * the Lab page makes shop answer 502 in Try it; a scenario's steps arrive as they
 * finish; a quiz is answered right and wrong; everything by keyboard too. axe-core
 * checks every page. The screenshots in the README are taken here, from the real page
 * (`WIRELAB_SCREENSHOTS=1 npx jest tests/e2e/console` writes them into docs/console; a
 * plain test run writes them to a temporary folder, so `npm test` leaves the checkout as
 * it was), and the two speed figures are measured and printed (not asserted).
 */

const SHOTS = process.env.WIRELAB_SCREENSHOTS ? path.join(REPO_DIR, 'docs/console') : path.join(os.tmpdir(), `wirelab-console-shots-${process.pid}`);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let up: UpLab;
let data: string;
let url: string;
let origin: string;
let opened: OpenedPage;
let page: Page;

beforeAll(async () => {
  data = await mkdtemp(path.join(os.tmpdir(), 'wirelab-console-e2e-'));
  // The page may reach its own console and nothing else.
  ({ up, url, origin, opened } = await openConsole(data));
  page = opened.page;
  await mkdir(SHOTS, { recursive: true });
}, 60000);

afterAll(async () => {
  await opened?.close();
  await up?.stop();
  if (data) await rm(data, { recursive: true, force: true });
  if (!process.env.WIRELAB_SCREENSHOTS) await rm(SHOTS, { recursive: true, force: true });
});

/** axe-core in the page: the serious and critical violations, as lines a failure prints. */
async function axeProblems(): Promise<string[]> {
  // Evaluated through the debugging protocol, which the page's Content-Security-Policy does not stop.
  if (!(await page.evaluate('typeof window.axe'))?.toString().includes('object')) await page.evaluate(AXE);
  const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] };
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
}

/** Press Tab until the element `selector` has the focus; fails (naming it) after `max` presses. */
async function tabTo(selector: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
  }
  throw new Error(`${max} presses of Tab never reached ${selector}`);
}

const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

test('without the token the console is refused, with a page that says what to do', async () => {
  const other = await opened.browser.newPage();
  const response = await other.goto(`${origin}/`);
  expect(response?.status()).toBe(401);
  expect(await other.locator('h1').innerText()).toBe('Use the address wirelab up printed');
  expect(await other.request.get(`${origin}/api/lab`).then((r) => r.status())).toBe(401);
  await other.close();
});

test('with the token the Lab page loads: the topology, each service and its health; no error, no request elsewhere', async () => {
  await page.goto(url);
  expect(new URL(page.url()).search).toBe(''); // the token left the address bar
  await page.locator('li.service[data-service="app"] .health', { hasText: 'up' }).waitFor();
  expect(await page.locator('li.service').count()).toBe(STACK.length);
  expect(await page.locator('svg.topology g.host').count()).toBe(new Set(STACK.map((s) => s.host)).size);
  expect(await page.locator('svg.topology g.host[data-host="www.lab.test"]').innerHTML()).toContain('172.28.0.80');
  const interactive = (await page.evaluate("performance.getEntriesByName('console-interactive')[0]?.startTime")) as number | undefined;
  console.log(`console: the first page was interactive ${Math.round(interactive!)} ms after navigation started`);
  expect(await axeProblems()).toEqual([]);
  await shot('lab.png');
  expect(opened.refused).toEqual([]);
  expect(opened.problems).toEqual([]);
});

test('Try it: a DNS query shows its answer, the ladder and the step as YAML', async () => {
  await page.locator('header nav a', { hasText: 'Try it' }).click();
  await page.locator('.subnav a', { hasText: 'DNS' }).click();
  await page.locator('#try-dns-query').fill('www.lab.test');
  await page.locator('[data-panel="dns"] button[type=submit]').click();
  const step = page.locator('[data-panel="dns"] li.step');
  await step.waitFor();
  expect(await step.getAttribute('data-status')).toBe('passed');
  expect(await step.locator('.ladder-svg g.message').count()).toBe(2);
  expect(await step.locator('.ladder-svg g.host').evaluateAll((hosts) => hosts.map((h) => h.getAttribute('data-host')))).toEqual(['client', 'ns.lab.test']);
  expect(await step.locator('ol.events li').nth(1).textContent()).toContain('NOERROR A 172.28.0.80');
  expect(await page.locator('[data-panel="dns"] pre[data-yaml]').innerText()).toContain('query: www.lab.test');
  // A lab without capture: no TCP layer, and the step says how to get it.
  expect(await step.getByRole('button', { name: /the TCP layer/ }).count()).toBe(0);
  expect(await step.locator('p.no-packets').innerText()).toMatch(/start the lab with --capture \(wirelab up --capture\)/);
  // A message in the diagram opens its place in the transcript (the ladder's text alternative).
  await step.locator('.ladder-svg g.message').nth(1).click();
  expect(await step.locator('ol.events li').nth(1).getAttribute('class')).toContain('flash');
  expect(await page.evaluate('document.activeElement.id')).toBe(await step.locator('ol.events li').nth(1).getAttribute('id'));
  expect(await axeProblems()).toEqual([]);
  await shot('try-dns.png');
});

test('Try it: Inspect shows the bytes the HTTP request will be', async () => {
  await page.locator('.subnav a', { hasText: 'HTTP' }).click();
  await page.locator('[data-panel="http"]').getByRole('button', { name: 'Inspect', exact: true }).click();
  expect(await page.locator('section.inspect pre').innerText()).toContain('GET / HTTP/1.1\\r\\n\nHost: www.lab.test\\r\\n');
});

test("stop app on the Lab page: Try it through shop.lab.test gets the proxy's 502", async () => {
  await page.locator('header nav a', { hasText: 'Lab' }).click();
  await page.locator('button[aria-label="stop app"]').click();
  await page.locator('li.service[data-service="app"] .badge-state[data-state="stopped"]').waitFor();
  expect(await page.locator('header nav .count').innerText()).toBe('1');
  await page.locator('header nav a', { hasText: 'Try it' }).click();
  await page.locator('.subnav a', { hasText: 'HTTP' }).click();
  await page.locator('button.preset', { hasText: 'Through the proxy' }).click();
  await page.locator('[data-panel="http"] button[type=submit]').click();
  const step = page.locator('[data-panel="http"] li.step');
  await step.waitFor();
  expect(await step.locator('ol.events').textContent()).toContain('502 Bad Gateway');
  expect(await page.locator('[data-panel="http"] pre[data-yaml]').innerText()).toContain('status: 502');
  await shot('try-http-502.png');
  await page.locator('header nav a', { hasText: 'Lab' }).click();
  await page.locator('button[aria-label="start app"]').click();
  await page.locator('li.service[data-service="app"] .badge-state[data-state="running"]').waitFor();
});

test("Scenarios: a run's steps arrive as they finish, and the reports are offered; without capture, the packet scenarios say why they are not run", async () => {
  await page.locator('header nav a', { hasText: 'Scenarios' }).click();
  expect(await axeProblems()).toEqual([]);
  // On a lab without capture, a scenario that checks packets says why it is not run, and Run all leaves it out.
  const packets = page.locator('li.scenario[data-file="packets/tcp-handshake.yaml"]');
  expect(await packets.locator('p.skipped').innerText()).toMatch(/^Not run on this lab: it checks the packets under its steps .*start the lab with --capture \(wirelab up --capture\) to run it\.$/);
  expect(await packets.getByRole('button', { name: /^run / }).isDisabled()).toBe(true);
  const listed = await page.locator('li.scenario').count();
  const skipped = await page.locator('li.scenario p.skipped').count();
  expect(skipped).toBeGreaterThanOrEqual(5);
  expect(await page.getByRole('button', { name: /^Run all/ }).innerText()).toBe(`Run all (${listed - skipped})`);
  const scenario = page.locator('li.scenario[data-file="bad-gateway.yaml"]');
  const total = Number(await scenario.locator('.sc-head .pts').innerText().then((t) => /(\d+) points/.exec(t)![1]));
  await scenario.locator('button', { hasText: 'Run' }).click();
  // The first step is on the page while later ones are still to come.
  await scenario.locator('li.step[data-status]').first().waitFor();
  await page.locator('.downloads b[data-total]').waitFor();
  expect(await scenario.locator('li.step[data-status="passed"]').count()).toBe(await scenario.locator('li.step').count());
  expect(await page.locator('.downloads b[data-total]').innerText()).toBe(`${total}/${total} points`);
  expect(await page.locator('.downloads a').evaluateAll((links) => links.map((a) => a.textContent))).toEqual(['HTML', 'JUnit', 'JSON']);
  const latencies = (await page.evaluate('window.__consoleLatencies')) as number[];
  expect(latencies.length).toBeGreaterThan(3);
  console.log(`console: each step's result was on the page ${Math.min(...latencies)}-${Math.max(...latencies)} ms after the runner finished it (${latencies.length} steps)`);
  const html = await page.request.get(new URL((await page.locator('.downloads a', { hasText: 'HTML' }).getAttribute('href'))!, origin).href);
  expect(await html.text()).toContain('Bad gateway (502)');
  await shot('scenarios.png');
});

test('Lessons: what happens when you hit Enter, stage by stage from your own lab', async () => {
  await page.locator('header nav a', { hasText: 'Lessons' }).click();
  await page.locator('ul.lessons a', { hasText: 'What happens when you hit Enter' }).click();
  await page.locator('button', { hasText: 'Run it in my lab' }).click();
  const stage = page.locator('.stage-body');
  await stage.locator('.ladder-svg').waitFor();
  expect(await stage.locator('ol.events').textContent()).toContain('A? www.lab.test');
  await page.locator('button.stage', { hasText: 'The HTTP request' }).click();
  expect(await stage.locator('ol.events').textContent()).toContain('GET / HTTP/1.1');
  expect(await axeProblems()).toEqual([]);
  await shot('lesson.png');
});

test('Quizzes: a right answer and a wrong one, each with the explanation; the answer from the student\'s lab', async () => {
  await page.locator('header nav a', { hasText: 'Quizzes' }).click();
  const port = page.locator('li.question[data-question="port"]');
  await port.locator('input[type=text]').fill('80');
  await port.locator('button', { hasText: 'Check' }).click();
  await port.locator('.feedback').waitFor();
  expect(await port.locator('.verdict').innerText()).toBe('✓ Right.');
  expect(await port.locator('.explain').innerText()).toMatch(/^Port 80\./);
  const proxy = page.locator('li.question[data-question="answer"]');
  await proxy.locator('input[type=text]').fill('404');
  await proxy.locator('button', { hasText: 'Check' }).click();
  await proxy.locator('.feedback').waitFor();
  expect(await proxy.locator('.verdict').innerText()).toBe('✗ Not quite. The answer is 502.');
  expect(await proxy.locator('.explain').innerText()).toMatch(/^502 Bad Gateway/);
  expect(await axeProblems()).toEqual([]);
  await proxy.scrollIntoViewIfNeeded();
  await shot('quizzes.png');
});

test('keyboard only: a DNS query in Try it, then a quiz answer', async () => {
  await page.goto(`${origin}/#/lab`);
  await page.locator('li.service').first().waitFor();
  await tabTo('header nav a[href="#/try"]');
  await page.keyboard.press('Enter');
  await tabTo('#try-dns-query');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('lab.test');
  await tabTo('#try-dns-type');
  await page.keyboard.press('End'); // the select's options, from the keyboard
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown'); // (default), A, AAAA, CNAME, MX
  expect(await page.locator('#try-dns-type').inputValue()).toBe('MX');
  await tabTo('[data-panel="dns"] button[type=submit]');
  await page.keyboard.press('Enter');
  await page.locator('[data-panel="dns"] li.step').waitFor();
  expect(await page.locator('[data-panel="dns"] ol.events').textContent()).toContain('MX 10 mail.lab.test');

  await tabTo('header nav a[href="#/quizzes"]');
  await page.keyboard.press('Enter');
  await page.locator('li.question').first().waitFor();
  await tabTo('li.question[data-question="first"] input[type=radio]');
  // Arrow keys move through a radio group: the second option is the DNS query.
  await page.keyboard.press('ArrowDown');
  expect(await page.evaluate('document.activeElement.value')).toBe('The DNS query for www.lab.test');
  await tabTo('li.question[data-question="first"] button[type=submit]');
  await page.keyboard.press('Enter');
  await page.locator('li.question[data-question="first"] .feedback').waitFor();
  expect(await page.locator('li.question[data-question="first"] .verdict').innerText()).toBe('✓ Right.');
  expect(opened.problems).toEqual([]);
  expect(opened.refused).toEqual([]);
});
