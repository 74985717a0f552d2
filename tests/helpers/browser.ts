import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startUp, type UpLab } from './cli';

/**
 * A report file in a real browser: Debian's chromium driven by playwright-core, with
 * every request but the file itself refused (a report must need no network), and what
 * went wrong on the page collected for the test to check.
 */

export const CHROMIUM = process.env.WIRELAB_CHROMIUM ?? '/usr/bin/chromium';

export interface OpenedPage {
  browser: Browser;
  page: Page;
  /** Requests the page made besides its own file: there must be none. */
  refused: string[];
  /** Console errors and warnings, and uncaught errors. */
  problems: string[];
  /** alert() and friends: a server's reply must never run. */
  dialogs: string[];
  close(): Promise<void>;
}

export async function openFile(file: string): Promise<OpenedPage> {
  const url = pathToFileURL(file).href;
  return openUrl(url, (request) => request === url);
}

/**
 * A page in Debian's chromium, where only the requests `allowed` says yes to go out
 * (the others are refused and listed): a report's own file, a console's own origin.
 */
export async function openUrl(url: string, allowed: (request: string) => boolean): Promise<OpenedPage> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set WIRELAB_CHROMIUM`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const refused: string[] = [];
  const problems: string[] = [];
  const dialogs: string[] = [];
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.route('**/*', (route) => {
    if (allowed(route.request().url())) return route.continue();
    refused.push(route.request().url());
    return route.abort();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url, { waitUntil: 'load' });
  return { browser, page, refused, problems, dialogs, close: () => browser.close() };
}

/** A lab started by `wirelab up` with its console, and the console's page opened at the address it printed. */
export interface ConsolePage {
  up: UpLab;
  /** The address with its one-time token, and its origin. */
  url: string;
  origin: string;
  opened: OpenedPage;
}

/**
 * `wirelab up --free-ports --quiet --data DATA [ARGS]`, then its console in chromium, where
 * the page may reach its own console and nothing else (`also`: what else it may, a blob: URL).
 */
export async function openConsole(data: string, also: (request: string) => boolean = () => false, args: string[] = []): Promise<ConsolePage> {
  const up = await startUp(['--free-ports', '--quiet', '--data', data, ...args]);
  const line = /^console: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(up.output());
  if (!line) {
    await up.stop();
    throw new Error(`wirelab up printed no console address:\n${up.output()}`);
  }
  const url = line[1]!;
  const origin = new URL(url).origin;
  const opened = await openUrl(url, (request) => request.startsWith(`${origin}/`) || also(request));
  return { up, url, origin, opened };
}
