import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { PacketCapture, portFilter } from '../../lab-runner/packets/capture';
import { conversations } from '../../lab-runner/packets/flows';
import { readCapture } from '../../lab-runner/packets/pcapng';
import type { StepPackets, StepResult } from '../../lab-runner/result';
import { nowMs } from '../../lab-runner/wire';
import { openConsole, type OpenedPage } from '../helpers/browser';
import type { UpLab } from '../helpers/cli';
import { REPO_DIR } from '../helpers/paths';
import { packetsOfStep } from '../helpers/stepPackets';
import { rootOnly, tsharkRows } from '../lab-runner/packets/helpers';

/**
 * The console's TCP layer in a real browser (Debian's chromium, playwright-core), on a
 * lab started by `wirelab up`: Try it sends a real HTTP request while tcpdump captures
 * lo, and the step the console receives is given the packets of its own flows (what
 * `--capture` will add to it; tests/helpers/stepPackets.ts). The ladder keeps its TCP
 * layer closed until its button is pressed, then draws one packet per row, as many as
 * tshark counts in the step's pcapng, which the page offers as a download.
 * `WIRELAB_SCREENSHOTS=1` writes the README's screenshot into docs/console.
 */

const SHOTS = process.env.WIRELAB_SCREENSHOTS ? path.join(REPO_DIR, 'docs/console') : undefined;

rootOnly('the TCP layer in the console', () => {
  let up: UpLab;
  let data: string;
  let opened: OpenedPage;
  let page: Page;

  beforeAll(async () => {
    data = await mkdtemp(path.join(os.tmpdir(), 'wirelab-console-packets-'));
    ({ up, opened } = await openConsole(data, (request) => request.startsWith('blob:')));
    page = opened.page;
  }, 60000);

  afterAll(async () => {
    await opened?.close();
    await up?.stop();
    if (data) await rm(data, { recursive: true, force: true });
  });

  test('Try it over HTTP: the TCP layer opens with a click and draws every packet tshark counts', async () => {
    await page.locator('li.service[data-service="http"] .health', { hasText: 'up' }).waitFor();
    const port = (service: string): number => Number(up.endpoint(service).split(':').pop());
    const ports = { dns: port('dns'), http: port('http') };

    // The step the console gets back is given its real packets, captured while it ran.
    const capture = await PacketCapture.start({ filter: portFilter(Object.values(ports)) });
    let packets: StepPackets | undefined;
    let from = 0;
    let requestEvent = -1;
    let stopped = false;
    await page.route('**/api/try', async (route) => {
      const response = await route.fetch();
      const to = nowMs();
      await capture.stop();
      stopped = true;
      const body = (await response.json()) as { step: StepResult };
      packets = packetsOfStep(conversations(capture.packets), capture.interfaces, body.step, { from, to }, to - body.step.durationMs, [{ port: ports.dns, label: 'ns.lab.test:53' }]);
      body.step.packets = packets;
      requestEvent = body.step.transcript.findIndex((e) => e.kind === 'send' && e.protocol === 'http');
      await route.fulfill({ response, json: body });
    });
    try {
      await page.locator('header nav a', { hasText: 'Try it' }).click();
      await page.locator('.subnav a', { hasText: 'HTTP' }).click();
      from = nowMs();
      await page.locator('[data-panel="http"] button[type=submit]').click();
      const step = page.locator('[data-panel="http"] li.step');
      await step.waitFor();
      expect(await step.getAttribute('data-status')).toBe('passed');
      const rows = packets!.rows;
      expect(packets!.conversations.map((c) => `${c.transport} ${c.serverLabel} ${c.handshake}`)).toEqual(['udp ns.lab.test:53 false', 'tcp www.lab.test:80 true']);

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
      // The request's segment right under the request's arrow.
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
    } finally {
      if (!stopped) await capture.stop();
    }
  }, 60000);
});
