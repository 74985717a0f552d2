import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { readCapture } from '../../lab-runner/packets/pcapng';
import type { StepResult } from '../../lab-runner/result';
import { openConsole, type OpenedPage } from '../helpers/browser';
import type { UpLab } from '../helpers/cli';
import { REPO_DIR } from '../helpers/paths';
import { rootOnly, tsharkRows } from '../lab-runner/packets/helpers';

/**
 * The console's TCP layer in a real browser (Debian's chromium, playwright-core), on a
 * lab started by `wirelab up --capture` (as root: tcpdump on lo): Try it and the
 * Scenarios page take each step's packets from the lab's one capture, as `wirelab run
 * --capture` does. The ladder keeps its TCP layer closed until its button is pressed,
 * then draws one packet per row, as many as tshark counts in the step's pcapng, which
 * the page offers as a download; the scenarios that check packets run.
 * `WIRELAB_SCREENSHOTS=1` writes the README's screenshot into docs/console.
 */

const SHOTS = process.env.WIRELAB_SCREENSHOTS ? path.join(REPO_DIR, 'docs/console') : undefined;

rootOnly('the TCP layer in the console, on a lab started with --capture', () => {
  let up: UpLab;
  let data: string;
  let opened: OpenedPage;
  let page: Page;

  beforeAll(async () => {
    data = await mkdtemp(path.join(os.tmpdir(), 'wirelab-console-packets-'));
    ({ up, opened } = await openConsole(data, (request) => request.startsWith('blob:'), ['--capture', path.join(data, 'lab.pcapng')]));
    page = opened.page;
  }, 60000);

  afterAll(async () => {
    await opened?.close();
    await up?.stop();
    if (data) await rm(data, { recursive: true, force: true });
  });

  test('Try it over HTTP: the TCP layer opens with a click and draws every packet tshark counts', async () => {
    expect(up.output()).toMatch(/capturing the lab's packets with \S+ on lo into /);
    await page.locator('li.service[data-service="http"] .health', { hasText: 'up' }).waitFor();
    expect(await page.locator('header .where').innerText()).toBe('embedded lab, capturing packets');
    await page.locator('header nav a', { hasText: 'Try it' }).click();
    await page.locator('.subnav a', { hasText: 'HTTP' }).click();
    // The console's own answer, read as it passes (not changed): the step with the packets it drew.
    const [answer] = await Promise.all([page.waitForResponse('**/api/try'), page.locator('[data-panel="http"] button[type=submit]').click()]);
    const tried = (await answer.json()) as { step: StepResult };
    const step = page.locator('[data-panel="http"] li.step');
    await step.waitFor();
    expect(await step.getAttribute('data-status')).toBe('passed');
    const packets = tried.step.packets!;
    const rows = packets.rows;
    // The lookup of www.lab.test over UDP, then the connection to it, its handshake in this step.
    expect(packets.conversations.map((c) => `${c.transport} ${c.serverLabel} ${c.handshake}`)).toEqual(['udp ns.lab.test:53 false', 'tcp www.lab.test:80 true']);
    expect(await step.locator('p.no-packets').count()).toBe(0);

    // Closed: the plain ladder, and a button that says what it opens.
    const toggle = step.getByRole('button', { name: /the TCP layer/ });
    expect(await toggle.innerText()).toBe(`Show the TCP layer (${rows.length} packets, 1 TCP connection)`);
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await step.locator('.ladder-svg g.packet').count()).toBe(0);
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const drawn = await step.locator('.ladder-svg g.packet').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-flags'), Number(g.getAttribute('data-seq')), Number(g.getAttribute('data-ack')), Number(g.getAttribute('data-len'))]));
    expect(drawn).toEqual(rows.map((r) => [r.flags.join(','), r.seq, r.ack, r.length]));
    expect(drawn.filter((d) => d[0] !== '').slice(0, 3).map((d) => d[0])).toEqual(['SYN', 'SYN,ACK', 'ACK']);
    // The request's segment right under the request's arrow (placed by its offset in the stream).
    const requestEvent = tried.step.transcript.findIndex((e) => e.kind === 'send' && e.protocol === 'http');
    const order = await step.locator('.ladder-svg g.message, .ladder-svg g.packet').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-event') ?? g.getAttribute('data-flags')));
    const request = order.findIndex((o) => o?.endsWith(`-e${requestEvent + 1}`));
    expect([request > 0, order[request + 1]]).toEqual([true, 'PSH,ACK']);

    // The download: the same packets, as many as tshark counts.
    const [download] = await Promise.all([page.waitForEvent('download'), step.locator('a.pcapng').click()]);
    const file = path.join(data, 'try.pcapng');
    await download.saveAs(file);
    expect(readCapture(await readFile(file)).packets.length).toBe(rows.length);
    expect((await tsharkRows(file, ['frame.number'])).length).toBe(drawn.length);
    if (SHOTS) await step.screenshot({ path: path.join(SHOTS, 'try-http-packets.png') });
    expect(opened.problems).toEqual([]);
  }, 60000);

  test('a scenario that checks packets runs, and its steps carry their TCP layer', async () => {
    await page.locator('header nav a', { hasText: 'Scenarios' }).click();
    const scenario = page.locator('li.scenario[data-file="packets/tcp-handshake.yaml"]');
    expect(await scenario.locator('p.skipped').count()).toBe(0);
    const total = Number(await scenario.locator('.sc-head .pts').innerText().then((t) => /(\d+) points/.exec(t)![1]));
    await scenario.locator('button', { hasText: 'Run' }).click();
    await page.locator('.downloads b[data-total]').waitFor();
    expect(await page.locator('.downloads b[data-total]').innerText()).toBe(`${total}/${total} points`);
    const steps = scenario.locator('li.step');
    expect(await scenario.locator('li.step[data-status="passed"]').count()).toBe(await steps.count());
    expect(await steps.first().getByRole('button', { name: /^Show the TCP layer \(\d+ packets, 1 TCP connection\)$/ }).count()).toBe(1);
    expect(opened.problems).toEqual([]);
  }, 60000);

  test('Ctrl+C: the lab\'s capture file holds what the console\'s runs sent', async () => {
    expect(await up.stop()).toBe(0);
    expect(up.output()).toMatch(/\d+ packets captured into /);
    expect((await stat(path.join(data, 'lab.pcapng'))).size).toBeGreaterThan(0);
    expect((await tsharkRows(path.join(data, 'lab.pcapng'), ['frame.number'], ['-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0'])).length).toBeGreaterThanOrEqual(4);
  }, 30000);
});
