import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { readCapture } from '../../lab-runner/packets/pcapng';
import type { RunResult } from '../../lab-runner/result';
import { maskSecrets, renderReport } from '../../lab-runner/report';
import { openFile, type OpenedPage } from '../helpers/browser';
import { REPO_DIR } from '../helpers/paths';
import { capturedRun, PASSWORD, type CapturedRun } from '../lab-runner/report/captured';
import { rootOnly, tsharkProblems, tsharkRows } from '../lab-runner/packets/helpers';

/**
 * The HTML report's TCP layer in a real browser (Debian's chromium, playwright-core), on
 * a real run with a real capture (tests/lab-runner/report/captured.ts): collapsed until
 * clicked, then a packet per row under the message it carries; each step's pcapng
 * downloads from the file itself, reads back with our reader and with tshark, and the
 * Decode As settings the page names make tshark read the lab's ports. The README's
 * screenshot of the TCP layer is taken here (`WIRELAB_SCREENSHOTS=1` writes it into
 * docs/report; a plain run into a temporary folder).
 */

const SHOTS = process.env.WIRELAB_SCREENSHOTS ? path.join(REPO_DIR, 'docs/report') : path.join(os.tmpdir(), `wirelab-report-shots-${process.pid}`);

rootOnly('the TCP layer of the HTML report', () => {
  let run: CapturedRun;
  let shown: RunResult;
  let dir: string;
  let opened: OpenedPage;
  let page: Page;

  beforeAll(async () => {
    run = await capturedRun();
    shown = maskSecrets(run.result);
    dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-html-packets-'));
    const file = path.join(dir, 'report.html');
    await writeFile(file, renderReport('html', run.result));
    opened = await openFile(file);
    page = opened.page;
    await mkdir(SHOTS, { recursive: true });
  }, 90000);

  afterAll(async () => {
    await opened?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (!process.env.WIRELAB_SCREENSHOTS) await rm(SHOTS, { recursive: true, force: true });
  });

  const steps = (): RunResult['scenarios'][number]['steps'] => shown.scenarios[0]!.steps;

  test('collapsed by default; one click opens it in place of the plain diagram', async () => {
    await page.locator('details.scenario > summary').click(); // it passed: closed until opened
    const layer = page.locator('#s1-2-packets');
    expect(await layer.getAttribute('open')).toBeNull();
    expect(await page.locator('#s1-2 figure.ladder.plain').isVisible()).toBe(true);
    expect(await layer.locator('svg g.packet').first().isVisible()).toBe(false);
    expect(await layer.locator('summary').innerText()).toBe(`TCP layer (${steps()[1]!.packets!.rows.length} packets, 1 TCP connection, 1 UDP exchange)`);
    await layer.locator('summary').click();
    expect(await layer.getAttribute('open')).toBe('');
    expect(await layer.locator('svg g.packet').first().isVisible()).toBe(true);
    expect(await page.locator('#s1-2 figure.ladder.plain').isVisible()).toBe(false);
    await layer.locator('summary').click();
    expect(await page.locator('#s1-2 figure.ladder.plain').isVisible()).toBe(true);
    expect(opened.refused).toEqual([]);
    expect(opened.problems).toEqual([]);
  });

  test('a packet drawn per row, with its flags, seq, ack and length, each under the message it carries', async () => {
    for (const [j, step] of steps().entries()) {
      const svg = page.locator(`#s1-${j + 1}-packets svg`);
      const drawn = await svg.locator('g.packet').evaluateAll((gs) =>
        gs.map((g) => ({
          frame: Number(g.getAttribute('data-frame')),
          flags: g.getAttribute('data-flags'),
          seq: Number(g.getAttribute('data-seq')),
          ack: Number(g.getAttribute('data-ack')),
          length: Number(g.getAttribute('data-len')),
          from: g.getAttribute('data-from'),
          retransmission: g.classList.contains('retrans'),
          label: g.querySelector('text.pkt-label')!.textContent,
        })),
      );
      const rows = step.packets!.rows;
      expect(drawn.length).toBe(rows.length);
      expect(drawn.map(({ label: _label, ...d }) => d)).toEqual(rows.map((r) => ({ frame: r.frame, flags: r.flags.join(','), seq: r.seq, ack: r.ack, length: r.length, from: r.from, retransmission: r.retransmission })));
      // The label says the same: `PSH, ACK seq=1 ack=1 len=95`.
      for (const [k, d] of drawn.entries()) {
        const r = rows[k]!;
        expect(d.label).toBe(r.transport === 'udp' ? `UDP len=${r.length}` : `${r.flags.join(', ')} seq=${r.seq}${r.flags.includes('ACK') ? ` ack=${r.ack}` : ''}${r.length ? ` len=${r.length}` : ''}`);
      }
      // Top to bottom: a message, then the packets that carry it, before the next message.
      const order = await svg.locator('g.message, g.packet').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-event') ?? `carries ${g.getAttribute('data-carries') ?? ''}`));
      for (const [k, item] of order.entries()) {
        const carried = /^carries (\S+)$/.exec(item)?.[1];
        if (!carried) continue;
        const message = order.lastIndexOf(carried, k);
        expect([item, message >= 0 && order.slice(message + 1, k).every((o) => o.startsWith('carries'))]).toEqual([item, true]);
      }
    }
    // The POP3 step: the handshake first, every data segment placed on a message.
    const pop = steps()[2]!.packets!.rows.filter((r) => r.transport === 'tcp');
    expect(pop.slice(0, 3).map((r) => r.flags.join())).toEqual(['SYN', 'SYN,ACK', 'ACK']);
    expect(pop.filter((r) => r.length > 0).every((r) => r.event !== undefined)).toBe(true);
  });

  test("each step's pcapng downloads from the page; our reader and tshark read it; Decode As makes tshark read the lab's ports", async () => {
    for (const [j, step] of steps().entries()) {
      const link = page.locator(`#s1-${j + 1} a.pcapng`);
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const file = path.join(dir, `step${j + 1}.pcapng`);
      await download.saveAs(file);
      const bytes = await readFile(file);
      const read = readCapture(bytes);
      expect([read.format, read.packets.length]).toEqual(['pcapng', step.packets!.rows.length]);
      expect(await tsharkProblems(file)).toEqual([]);
      expect((await tsharkRows(file, ['frame.number'])).length).toBe(step.packets!.rows.length);
      // The password crossed the wire in clear text, and is masked in the report's file too.
      expect(bytes.includes(PASSWORD)).toBe(false);
    }
    const { dns, http, pop3 } = run.ports;
    const line = page.locator('#s1-3 .decode-as');
    expect(await line.innerText()).toContain(`udp.port==${dns} → DNS`);
    expect(await line.innerText()).toContain(`tcp.port==${pop3} → POP`);
    expect(await page.locator('#s1-2 .decode-as').innerText()).toContain(`tcp.port==${http} → HTTP`);
    // With the page's tshark options the POP3 dialogue reads as POP3, the password overwritten with as many `*` (alice is the user's name too).
    const options = (await line.locator('.dim code').innerText()).split(' ');
    const commands = await tsharkRows(path.join(dir, 'step3.pcapng'), ['pop.request.command', 'pop.request.parameter', 'dns.qry.name'], options);
    expect(commands.map((c) => [c['pop.request.command'], c['pop.request.parameter']]).filter(([c]) => c)).toEqual(
      expect.arrayContaining([['USER', '*'.repeat(PASSWORD.length)], ['PASS', '*'.repeat(PASSWORD.length)], ['QUIT', '']]),
    );
    expect(commands.map((c) => c['dns.qry.name']).filter(Boolean)).toEqual(['mail.lab.test', 'mail.lab.test']);
  });

  test('a screenshot of the TCP layer', async () => {
    await page.locator('#expand-all').click();
    const layer = page.locator('#s1-2-packets');
    if ((await layer.getAttribute('open')) === null) await layer.locator('summary').click();
    const shot = path.join(SHOTS, 'tcp-layer.png');
    await page.locator('#s1-2').screenshot({ path: shot });
    expect(existsSync(shot)).toBe(true);
  });
});
