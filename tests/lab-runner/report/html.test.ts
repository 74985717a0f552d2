import type { WireEvent } from '../../../lab-runner/wire';
import type { RunResult, StepResult } from '../../../lab-runner/result';
import { htmlReport } from '../../../lab-runner/report/html';
import { ladderHosts, splitEndpoint } from '../../../lab-runner/report/ladder';
import { esc } from '../../../lab-runner/report/markup';
import { decodeAsSettings, tsharkDecodeAs } from '../../../lab-runner/report/decodeAs';

/** The HTML report's pieces that need no browser: escaping and the ladder's columns. */

const ev = (over: Partial<WireEvent>): WireEvent => ({ at: 1, kind: 'send', from: 'client', to: 'www.lab.test:80', protocol: 'http', summary: 'GET /', ...over });

function resultWith(transcript: WireEvent[], over: Partial<StepResult> = {}): RunResult {
  const step: StepResult = {
    name: 'step',
    action: 'http',
    summary: 'GET http://www.lab.test/',
    file: 'x.yaml',
    line: 1,
    status: 'passed',
    points: 1,
    maxPoints: 1,
    durationMs: 1,
    attempts: 1,
    checks: [],
    saved: {},
    transcript,
    ...over,
  };
  return {
    backend: 'embedded',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
    passed: true,
    points: 1,
    maxPoints: 1,
    scenarios: [{ file: 'x.yaml', title: 't', tags: [], status: 'passed', points: 1, maxPoints: 1, durationMs: 1, steps: [step] }],
  };
}

test('endpoints group by host name; the client comes first, then hosts as they appear', () => {
  expect(splitEndpoint('ns.lab.test:53')).toEqual({ host: 'ns.lab.test', port: '53' });
  expect(splitEndpoint('client')).toEqual({ host: 'client' });
  expect(
    ladderHosts([
      ev({ from: 'mail.lab.test', to: 'ns.lab.test:53' }),
      ev({ from: 'client', to: 'mail.lab.test:587' }),
      ev({ kind: 'recv', from: 'mail.lab.test:25', to: 'client' }),
      ev({ kind: 'connect', from: 'client', to: 'ftp.lab.test:30001' }),
    ]),
  ).toEqual(['client', 'mail.lab.test', 'ns.lab.test', 'ftp.lab.test']);
});

test('a server reply is text, never markup: in the diagram, the raw transcript, names and attributes', () => {
  const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`;
  const html = htmlReport(
    resultWith(
      [
        ev({ summary: evil, text: `${evil}\r\n\u0000\u001b[31m`, data: Buffer.from(evil).toString('base64'), size: evil.length }),
        ev({ kind: 'recv', from: `ev"il<host>:80`, to: 'client', summary: '</svg></details>' }),
        ev({ kind: 'note', from: 'client', to: 'client', summary: '</text><script>alert(3)</script>' }),
      ],
      { name: evil, hint: evil, status: 'failed', error: evil, logs: { http: [evil] }, checks: [] },
    ),
  );
  expect(html.match(/<script/g)).toHaveLength(1); // the report's own
  expect(html).not.toMatch(/<img|<\/svg><\/details>|onerror=alert\(2\)>/);
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).toContain('data-from="ev&quot;il&lt;host&gt;"');
  expect(html).toContain('\\x00\\x1b[31m'); // control characters shown, not sent to the page
  expect(esc(`a&b<c>"d'`)).toBe('a&amp;b&lt;c&gt;&quot;d&#39;');
});

test('no network: a Content-Security-Policy that loads nothing, and no URL to fetch', () => {
  const html = htmlReport(resultWith([ev({})]));
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
  expect(html).not.toMatch(/<link|\ssrc=|@import|url\(/);
});

test('a step with no transcript says so; a long transcript is drawn up to a limit', () => {
  expect(htmlReport(resultWith([], { status: 'skipped', error: 'needs ${ip}' }))).toContain('Nothing crossed the wire: the step did not run.');
  const many = Array.from({ length: 450 }, (_, i) => ev({ at: i, summary: `line ${i}` }));
  const html = htmlReport(resultWith(many));
  expect(html.match(/class="message /g)).toHaveLength(400);
  expect(html).toContain('… 50 more events in the raw transcript');
  expect(html.match(/<li class="ev /g)).toHaveLength(450);
});

test("Decode As: the embedded lab's ports by their number, a target's by its lab name; standard ports need none", () => {
  const tcp = (server: string, serverLabel?: string) => ({ transport: 'tcp' as const, server, serverLabel });
  expect(
    decodeAsSettings([
      { transport: 'udp', server: '127.0.0.1:5353' },
      tcp('127.0.0.1:8080'),
      tcp('127.0.0.1:2525'),
      tcp('127.0.0.1:2525'), // a second connection: named once
      tcp('127.0.0.1:1110'),
      tcp('127.0.0.1:2121'),
      tcp('127.0.0.1:8443'),
      tcp('[::1]:2222'),
      tcp('127.0.0.1:9000', 'www.lab.test:80'), // --target http=127.0.0.1:9000
      tcp('172.28.0.80:80', 'www.lab.test:80'), // Docker: the standard port
      tcp('127.0.0.1:4000'), // not the lab's
    ]).map((d) => `${d.field} → ${d.protocol}`),
  ).toEqual(['udp.port==5353 → DNS', 'tcp.port==8080 → HTTP', 'tcp.port==2525 → SMTP', 'tcp.port==1110 → POP', 'tcp.port==2121 → FTP', 'tcp.port==8443 → TLS', 'tcp.port==2222 → SSH', 'tcp.port==9000 → HTTP']);
  expect(tsharkDecodeAs(decodeAsSettings([tcp('127.0.0.1:2587')]))).toEqual(['-d', 'tcp.port==2587,smtp']);
});
