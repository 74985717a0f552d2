import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { RunResult } from '../../lab-runner/result';
import { maskSecrets, renderReport } from '../../lab-runner/report';
import { splitEndpoint } from '../../lab-runner/report/ladder';
import { openFile, type OpenedPage } from '../helpers/browser';
import { forbiddenForms, reportFixture } from './report-fixture';

/**
 * The HTML report in a real browser: Debian's chromium, driven by playwright-core,
 * opens the file with every other request refused (it must need no network), and a
 * student's clicks work: the score shows, a scenario opens, a step's raw transcript
 * opens, the ladder diagrams have a column per host and an arrow per message.
 */

const SCREENSHOT = '/tmp/wirelab-report.png';

let result: RunResult;
let dir: string;
let file: string;
let opened: OpenedPage;
let page: Page;

beforeAll(async () => {
  result = await reportFixture();
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-html-'));
  file = path.join(dir, 'report.html');
  await writeFile(file, renderReport('html', result));
  opened = await openFile(file);
  page = opened.page;
}, 90000);

afterAll(async () => {
  await opened?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the page loads with no network, no script error, and nothing a server sent runs', async () => {
  expect(opened.refused).toEqual([]);
  expect(opened.problems).toEqual([]);
  expect(opened.dialogs).toEqual([]);
  expect(await page.locator('script').count()).toBe(1);
  expect(await page.locator('img').count()).toBe(0);
  expect(await page.title()).toBe(`wirelab report: ${result.points}/${result.maxPoints} points`);
});

test('the score shows', async () => {
  await expect(page.locator('#score').innerText()).resolves.toBe(`${result.points}/${result.maxPoints} points`);
  expect(await page.locator('#score').isVisible()).toBe(true);
  const pct = Math.round((result.points / result.maxPoints) * 100);
  expect(await page.locator('.score-box .pct').innerText()).toBe(`${pct}%`);
});

test('a scenario that passed is closed; clicking it opens it and shows its steps', async () => {
  const scenario = page.locator('details.scenario').nth(2);
  expect(await scenario.getAttribute('open')).toBeNull();
  const step = scenario.locator('li.step').first();
  expect(await step.isVisible()).toBe(false);
  await scenario.locator('summary').first().click();
  expect(await scenario.getAttribute('open')).toBe('');
  expect(await step.isVisible()).toBe(true);
  expect(await step.locator('.name').innerText()).toBe('Fetch the home page');
  expect(await step.locator('.pts').innerText()).toBe('2/2');
});

test('a failed step shows its status, points, failure message, where, and hint', async () => {
  const step = page.locator('#s1-2');
  expect(await step.isVisible()).toBe(true); // a failed scenario starts open
  expect(await step.getAttribute('data-status')).toBe('failed');
  expect(await step.locator('.pts').innerText()).toBe('0/3');
  expect(await step.locator('.problem .msg').innerText()).toBe('status: expected 200, got 404');
  expect(await step.locator('.problem .where').innerText()).toBe('scenarios/mixed.yaml:13');
  expect(await step.locator('.hint').innerText()).toMatch(/^Hint\s+Check the file name in lab\/www\.$/);
  expect(await page.locator('#s1-4 .problem').innerText()).toContain('skipped: needs ${lost}');
  expect(await page.locator('#s1-5').getAttribute('data-status')).toBe('error');
  expect(await page.locator('#s1-6 .badge').innerText()).toMatch(/^hidden$/i);
});

test("a step's raw transcript opens when clicked", async () => {
  const raw = page.locator('#s1-2-raw');
  const request = raw.locator('li.ev').filter({ hasText: 'GET /no-such-page.html HTTP/1.1' }).first();
  expect(await request.isVisible()).toBe(false);
  await raw.locator('summary').first().click();
  expect(await request.isVisible()).toBe(true);
  expect(await request.locator('pre.text').innerText()).toMatch(/^GET \/no-such-page\.html HTTP\/1\.1\\r\\n\nHost: www\.lab\.test\\r\\n/);
  // The bytes, as a hex dump, one click further.
  const hex = request.locator('details.bytes pre.hex');
  expect(await hex.isVisible()).toBe(false);
  await request.locator('details.bytes summary').click();
  expect(await hex.innerText()).toMatch(/^0000 {2}47 45 54 20 2f 6e 6f 2d/);
});

test('clicking an arrow in a diagram opens the raw transcript at that message', async () => {
  const raw = page.locator('#s1-6-raw');
  expect(await raw.getAttribute('open')).toBeNull();
  const arrow = page.locator('#s1-6 g.message').nth(2);
  const target = (await arrow.getAttribute('data-event'))!;
  await arrow.click();
  expect(await raw.getAttribute('open')).toBe('');
  expect(await page.locator(`#${target}`).isVisible()).toBe(true);
  // The markup the web server echoed back is shown as text.
  expect(await page.locator(`#${target}`).innerText()).toContain(`X-Note: <script>alert('pwned')</script><img src=x onerror=alert(1)>`);
});

test('each ladder diagram has a column per host and an arrow per message, in time order', async () => {
  let diagrams = 0;
  // The page shows the masked run: compare with that.
  for (const [i, scenario] of maskSecrets(result).scenarios.entries()) {
    for (const [j, step] of scenario.steps.entries()) {
      const svg = page.locator(`#s${i + 1}-${j + 1} figure.ladder svg`);
      if (!step.transcript.length) {
        expect(await svg.count()).toBe(0);
        continue;
      }
      diagrams++;
      const hosts = [...new Set(step.transcript.flatMap((e) => [splitEndpoint(e.from).host, splitEndpoint(e.to).host]))];
      const columns = await svg.locator('g.host').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-host')));
      expect(columns.sort()).toEqual(hosts.sort());
      expect(columns.length).toBe(await svg.locator('line.lifeline').count());
      const messages = step.transcript.filter((e) => e.kind === 'send' || e.kind === 'recv');
      const arrows = await svg.locator('g.message').evaluateAll((gs) =>
        gs.map((g) => [g.getAttribute('data-from'), g.getAttribute('data-to'), g.querySelector('text.label')!.textContent]),
      );
      expect(arrows.map(([from, to]) => [from, to])).toEqual(messages.map((e) => [splitEndpoint(e.from).host, splitEndpoint(e.to).host]));
      // An arrow is drawn left or right according to its columns, and is labelled with the summary (cut to fit).
      for (const [k, [, , label]] of arrows.entries()) {
        const summary = messages[k]!.summary.replace(/\s*\r?\n\s*/g, ' ⏎ ');
        expect([summary, label!.endsWith('…') ? summary.startsWith(label!.slice(0, -1)) : label === summary]).toEqual([summary, true]);
      }
      expect(await svg.locator('g.marker').count()).toBe(step.transcript.length - messages.length);
    }
  }
  expect(diagrams).toBeGreaterThanOrEqual(10);
  // An arrow really points from its sender's lifeline to its receiver's.
  const svg = page.locator('#s1-2 figure.ladder svg');
  const geometry = await svg.evaluate((el) => {
    const x = (host: string): number => Number(el.querySelector(`g.host[data-host="${host}"] line.lifeline`)!.getAttribute('x1'));
    const first = el.querySelector('g.message line')!;
    return { client: x('client'), dns: x('ns.lab.test'), x1: Number(first.getAttribute('x1')), x2: Number(first.getAttribute('x2')) };
  });
  expect(geometry.x1).toBe(geometry.client);
  expect(geometry.x2).toBeGreaterThan(geometry.client);
  expect(geometry.x2).toBeLessThanOrEqual(geometry.dns);
});

test('no secret appears anywhere in the page', async () => {
  await page.locator('details').evaluateAll((all) => all.forEach((d) => d.setAttribute('open', '')));
  const text = await page.locator('body').innerText();
  // Every text node, the diagrams' and the closed parts' too, and the markup itself (where & is &amp;).
  const allText = (await page.locator('html').textContent()) ?? '';
  const html = await page.content();
  for (const form of forbiddenForms(result)) {
    const leaks = [text.includes(form), allText.includes(form), html.includes(form), html.includes(form.replace(/&/g, '&amp;'))];
    expect([form, leaks]).toEqual([form, [false, false, false, false]]);
  }
  expect(text).toContain('AUTH PLAIN ****');
  expect(text).toContain('PASS ****');
});

test('"Only what did not pass" hides what passed; a screenshot reads well', async () => {
  await page.locator('#collapse-all').click();
  await page.locator('#expand-all').click();
  await page.locator('#only-problems').check();
  expect(await page.locator('#s1-1').isVisible()).toBe(false);
  expect(await page.locator('#s1-2').isVisible()).toBe(true);
  expect(await page.locator('details.scenario').nth(2).isVisible()).toBe(false);
  await page.locator('#only-problems').uncheck();
  expect(await page.locator('#s1-1').isVisible()).toBe(true);
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: SCREENSHOT });
  expect(existsSync(SCREENSHOT)).toBe(true);
});
