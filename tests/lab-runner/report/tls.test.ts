import { httpExecutor } from '../../../lab-runner/executors/http';
import type { RunResult, StepResult } from '../../../lab-runner/result';
import { renderReport } from '../../../lab-runner/report';
import { colorsFor } from '../../../lab-runner/report/colors';
import { ladderSvg } from '../../../lab-runner/report/ladder';
import { formatTranscript } from '../../../lab-runner/report/transcript';
import type { WireEvent } from '../../../lab-runner/wire';
import { startLab, type Lab } from '../../helpers/lab';

/**
 * The handshake as a step of its own in every report, from real transcripts (an HTTPS
 * request, and one refused under the expired-certificate lesson): a `⇄` line and the
 * connection laid out in the terminal, a band between the two lifelines in the ladder,
 * a padlock on what went inside TLS, and the JSON keeping it all.
 */

let lab: Lab;
let fetched: WireEvent[];
let refused: WireEvent[];
beforeAll(async () => {
  lab = await startLab();
  fetched = (await lab.step(httpExecutor, { url: 'https://www.lab.test/' })).events;
  await lab.fault('http', 'expired');
  refused = (await lab.step(httpExecutor, { url: 'https://www.lab.test/' })).events;
  await lab.fault('http', 'none');
});
afterAll(() => lab.stop());

const plain = colorsFor({ isTTY: false } as NodeJS.WriteStream);

test('terminal: the handshake on a line of its own, laid out like openssl s_client; messages inside TLS marked 🔒', () => {
  const text = formatTranscript(fetched, plain);
  expect(text).toMatch(/ms {2}tls\/tcp {2}client ⇄ www\.lab\.test:443 {2}TLSv1\.3 TLS_AES_256_GCM_SHA384 · SNI www\.lab\.test · ALPN http\/1\.1 · certificate trusted\n/);
  expect(text).toContain('    │ verified     yes: the chain leads to a CA the client trusts');
  expect(text).toMatch(/    │  0 s: CN=www\.lab\.test, O=wirelab \(lab use only\)\n    │    i: CN=wirelab lab intermediate CA/);
  expect(text).toMatch(/ms {2}http\/tcp {2}\d+ B 🔒 {2}client → www\.lab\.test:443 {2}GET \/ HTTP\/1\.1\n    │ GET \/ HTTP\/1\.1\\r\\n/);
  expect(text).toMatch(/ms {2}http\/tcp {2}\d+ B 🔒 {2}client ← www\.lab\.test:443 {2}200 OK/);
  // Before the handshake nothing is marked.
  expect(text).toMatch(/ms {2}http\/tcp {2}client · www\.lab\.test:443 {2}connect from port \d+/);
  expect(formatTranscript(refused, plain)).toMatch(/client ⇄ www\.lab\.test:443 {2}TLSv1\.3 .* · certificate refused: certificate has expired\n[\s\S]*verified     no: certificate has expired \(CERT_HAS_EXPIRED\); the client refused it/);
});

test('ladder: a band between the client and the server, padlocks on the encrypted arrows, red when refused', () => {
  const svg = ladderSvg(fetched, 's1-1');
  expect(svg).toContain('<g class="message handshake" data-event="s1-1-e4" data-from="client" data-to="www.lab.test" tabindex="0">');
  expect(svg.match(/class="tls-band"\/>/g)).toHaveLength(1);
  expect(svg).toMatch(/class="label tls-label start">TLS handshake: TLSv1\.3 TLS_AES_256_GCM_SHA384<\/text>/);
  // The request and the response went inside TLS: each arrow has its padlock; the DNS lookup before it has none.
  expect(svg.match(/<g class="message m-(send|recv) enc"/g)).toHaveLength(2);
  expect(svg.match(/<g class="padlock"/g)).toHaveLength(3); // the band's, and one per encrypted arrow
  expect(svg).toMatch(/<g class="message m-send" data-event="s1-1-e1"/);

  const red = ladderSvg(refused, 's1-2');
  expect(red).toMatch(/<g class="message handshake refused"/);
  expect(red).toMatch(/class="label tls-label start">TLSv1\.3 · untrusted: CERT_HAS_EXPIRED<\/text>/);
  expect(red).not.toMatch(/ enc"/);
});

test('HTML and JSON: the handshake event and its fields, the encrypted mark', () => {
  const step = (name: string, transcript: WireEvent[]): StepResult => ({
    name,
    action: 'http',
    file: 'tls.yaml',
    line: 3,
    points: 1,
    maxPoints: 1,
    checks: [],
    saved: {},
    transcript,
    status: 'passed',
    durationMs: 5,
    attempts: 1,
    summary: 'GET https://www.lab.test/',
    visibility: 'visible',
  });
  const result: RunResult = {
    backend: 'embedded',
    startedAt: new Date().toISOString(),
    durationMs: 10,
    passed: true,
    points: 2,
    maxPoints: 2,
    scenarios: [{ file: 'tls.yaml', title: 'HTTPS', tags: [], status: 'passed', points: 2, maxPoints: 2, durationMs: 10, visibility: 'visible', steps: [step('fetch', fetched), step('refused', refused)] }],
  };
  const html = renderReport('html', result);
  expect(html).toMatch(/<li class="ev ev-tls" id="s1-1-e4"><div class="ev-head">.*client <span class="arrow">⇄<\/span> www\.lab\.test:443.*<b class="sum">TLSv1\.3 TLS_AES_256_GCM_SHA384 · SNI www\.lab\.test/);
  expect(html).toMatch(/<li class="ev ev-tls refused" id="s1-2-e4">/);
  expect(html.match(/<span class="enc" [^>]*>🔒 in TLS<\/span>/g)).toHaveLength(2);
  expect(html).toContain('inside TLS</span>'); // the legend, since some step used TLS
  const json = JSON.parse(renderReport('json', result)) as RunResult;
  const handshake = json.scenarios[0]!.steps[0]!.transcript.find((e) => e.kind === 'tls')!;
  expect(handshake.tls).toMatchObject({ version: 'TLSv1.3', authorized: true, chain: [{ subject: expect.stringMatching(/^CN=www\.lab\.test/) }, {}, {}] });
  expect(json.scenarios[0]!.steps[0]!.transcript.filter((e) => e.encrypted)).toHaveLength(2);
});
