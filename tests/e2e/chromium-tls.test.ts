import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from '../helpers/browser';
import type { TlsFault } from '../../services/common/tlsFaults';
import { startLab, type Lab } from '../helpers/lab';

/**
 * A real browser and the lab CA: Debian's Chromium, whose certificate store (NSS, in
 * $HOME/.pki/nssdb on Linux) has been told to trust the lab CA the way the README tells
 * a student to (`certutil -A -t "C,,"`), loads https://www.lab.test/ without a warning:
 * a secure context, and "secure" in its own security state. Under a certificate lesson
 * it shows its error page instead, with Chromium's own error; and without the CA in its
 * store (a second, empty one) the same lab is untrusted: the trust comes from the CA,
 * not from a flag. The server is the embedded lab's www (its HTTPS port, its lab CA, its
 * `tls-fault` lessons); www.lab.test is sent to that port on 127.0.0.1 by
 * --host-resolver-rules, so the URL (and so SNI and the name checked) is the lab's.
 */

const CERTUTIL = '/usr/bin/certutil';

let lab: Lab;
let httpsPort: number;
let home: string;
beforeAll(async () => {
  for (const tool of [CHROMIUM, CERTUTIL]) if (!existsSync(tool)) throw new Error(`${tool} is missing: apt-get install -y chromium libnss3-tools`);
  lab = await startLab({ only: ['dns', 'http'] });
  httpsPort = Number(lab.backend.status().find((s) => s.name === 'http')!.endpoints.https!.split(':').pop());
  home = await mkdtemp(path.join(os.tmpdir(), 'wirelab-chromium-'));
});
afterAll(async () => {
  await lab?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});
afterEach(() => lab.fault('http', 'none'));

/** A home folder whose NSS database trusts `caFile` (or nothing) for websites, as `certutil` sets it up. */
async function nssHome(name: string, caFile?: string): Promise<string> {
  const dir = path.join(home, name);
  const db = path.join(dir, '.pki', 'nssdb');
  await mkdir(db, { recursive: true });
  execFileSync(CERTUTIL, ['-d', `sql:${db}`, '-N', '--empty-password']);
  if (caFile) execFileSync(CERTUTIL, ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'wirelab lab CA', '-i', caFile]);
  return dir;
}

async function launch(userHome: string): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    env: { ...process.env, HOME: userHome },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      // The lab's name, the lab's HTTPS port: what the lab DNS and the embedded backend's routes do for the runner.
      `--host-resolver-rules=MAP www.lab.test:443 127.0.0.1:${httpsPort}`,
    ],
  });
}

interface SecurityState {
  securityState: string;
  certificateSecurityState?: { protocol: string; cipher: string; issuer: string; subjectName: string; certificateHasWeakSignature: boolean; validTo: number };
}

/** Open `url` with the DevTools Security domain on: the page, and the last security state Chromium showed for it. */
async function visit(browser: Browser, url: string): Promise<{ page: Page; state?: SecurityState; error?: string; status?: number }> {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  let state: SecurityState | undefined;
  cdp.on('Security.visibleSecurityStateChanged', (e: { visibleSecurityState: SecurityState }) => (state = e.visibleSecurityState));
  await cdp.send('Security.enable');
  try {
    const response = await page.goto(url, { waitUntil: 'load' });
    return { page, state, status: response?.status() };
  } catch (err) {
    return { page, state, error: (err as Error).message };
  }
}

let trusting: Browser;
beforeAll(async () => {
  trusting = await launch(await nssHome('trusting', lab.caFile));
}, 60000);
afterAll(() => trusting?.close());

test('with the lab CA in its store, Chromium loads https://www.lab.test/ as secure: no warning, the lock', async () => {
  const { page, state, status, error } = await visit(trusting, 'https://www.lab.test/');
  expect(error).toBeUndefined();
  expect(status).toBe(200);
  expect(await page.title()).toBe('The lab · wirelab');
  expect(await page.evaluate('window.isSecureContext')).toBe(true);
  expect(state).toMatchObject({
    securityState: 'secure',
    certificateSecurityState: { protocol: 'TLS 1.3', subjectName: 'www.lab.test', issuer: expect.stringMatching(/^wirelab lab intermediate CA [0-9a-f]{6}$/), certificateHasWeakSignature: false },
  });
  await page.close();
});

test.each([
  ['expired', 'net::ERR_CERT_DATE_INVALID'],
  ['wrong-name', 'net::ERR_CERT_COMMON_NAME_INVALID'],
  ['self-signed', 'net::ERR_CERT_AUTHORITY_INVALID'],
  ['missing-intermediate', 'net::ERR_CERT_AUTHORITY_INVALID'],
] as [TlsFault, string][])('under the %s lesson Chromium shows its error page: %s', async (fault, code) => {
  await lab.fault('http', fault);
  // A new browser context: no session to resume from the good certificate.
  const context = await trusting.newContext();
  const page = await context.newPage();
  const error = await page.goto('https://www.lab.test/').then(
    () => undefined,
    (err: Error) => err.message,
  );
  expect(error).toContain(code);
  // What the student sees: Chromium's warning page, naming the error (once it has replaced the failed load).
  const shown = code.replace('net::', 'NET::');
  await page.waitForFunction(`document.body !== null && document.body.innerText.includes(${JSON.stringify(shown)})`, undefined, { timeout: 10000 });
  const warning = (await page.evaluate('document.body.innerText')) as string;
  expect(warning).toMatch(/^Your connection is not private\n/);
  expect(warning).toContain(`from www.lab.test`);
  expect(warning).toContain(shown);
  await context.close();
});

test('under the tls1.0-only lesson there is no version in common: Chromium says so, no warning page to click through', async () => {
  await lab.fault('http', 'tls1.0-only');
  const context = await trusting.newContext();
  const page = await context.newPage();
  const error = await page.goto('https://www.lab.test/').then(
    () => undefined,
    (err: Error) => err.message,
  );
  expect(error).toContain('net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH');
  await context.close();
});

test('without the lab CA in its store the same page is untrusted: the lock comes from the CA, not from a flag', async () => {
  const stranger = await launch(await nssHome('stranger'));
  try {
    const { error } = await visit(stranger, 'https://www.lab.test/');
    expect(error).toContain('net::ERR_CERT_AUTHORITY_INVALID');
  } finally {
    await stranger.close();
  }
}, 60000);
