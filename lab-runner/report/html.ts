import { eventBytes, type WireEvent } from '../wire';
import type { RunResult, ScenarioResult, StepPackets, StepResult, TargetInfo } from '../result';
import { decodeAsSettings, tsharkDecodeAs } from './decodeAs';
import { problemsOf, visibilityOf } from './explain';
import { ladderSvg, targetColumns } from './ladder';
import { esc, ms } from './markup';
import { LADDER_CSS, PAGE_CSS, THEME_CSS } from './style';
import { hexdump } from './transcript';

/**
 * The HTML report: one self-contained file a student opens from disk. It needs no
 * network (inline CSS and JS, system fonts, and a Content-Security-Policy that forbids
 * loading anything), shows the score, each scenario and its steps with what failed and
 * the hint, and draws each step's transcript as a ladder diagram (ladder.ts): the hosts
 * as columns with lifelines, the messages as arrows in time order. Clicking an arrow,
 * or the "Raw transcript" line, shows the exchange itself (decoded text and bytes).
 * With `--capture`, each step also has its TCP layer (the packets under the messages,
 * one click to open) and its packets as a pcapng download. The look is style.ts.
 *
 * Everything from a result is escaped: a server's reply is data, never markup.
 * The caller masks secrets first (report/index.ts does).
 */

/** A decoded message longer than this is cut in the raw transcript (the JSON report has it all). */
const MAX_TEXT = 20000;

export function htmlReport(result: RunResult): string {
  const pct = result.maxPoints ? Math.round((result.points / result.maxPoints) * 100) : 100;
  const grade = pct === 100 ? 'good' : pct >= 50 ? 'fair' : 'poor';
  const steps = result.scenarios.flatMap((s) => s.steps);
  const countOf = (status: string): number => steps.filter((s) => s.status === status).length;
  const scenariosPassed = result.scenarios.filter((s) => s.status === 'passed').length;
  const started = new Date(result.startedAt);
  const when = Number.isNaN(started.getTime()) ? result.startedAt : started.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>wirelab report: ${num(result.points)}/${num(result.maxPoints)} points</title>
<style>${THEME_CSS}${PAGE_CSS}${LADDER_CSS}</style>
</head>
<body>
<header class="top">
  <div class="brand">wirelab <span>report</span></div>
  <div class="score-box grade-${grade}">
    <div class="score" id="score"><span class="got">${num(result.points)}</span><span class="sep">/</span><span class="max">${num(result.maxPoints)}</span> <span class="unit">points</span></div>
    <div class="bar"><i style="width:${pct}%"></i></div>
    <div class="pct">${pct}%</div>
  </div>
  <ul class="facts">
    <li><b>${scenariosPassed}</b> of <b>${result.scenarios.length}</b> scenarios passed</li>
    <li><span class="dot passed"></span>${plural(countOf('passed'), 'step')} passed</li>
    <li><span class="dot failed"></span>${countOf('failed')} failed</li>
    <li><span class="dot error"></span>${plural(countOf('error'), 'error')}</li>
    <li><span class="dot skipped"></span>${countOf('skipped')} skipped</li>
    <li class="dim">${esc(when)} · ${esc(result.backend)} lab · ${(result.durationMs / 1000).toFixed(1)} s</li>
${(result.targets ?? []).map((t) => `    <li class="target">target: <b>${esc(t.label)}</b> (${esc(t.service)}) was the server at <code>${esc(t.address)}</code></li>`).join('\n')}
${result.stopped ? `    <li class="stopped">stopped: ${esc(result.stopped)}</li>` : ''}
  </ul>
</header>
<nav class="tools">
  <button type="button" id="expand-all">Expand all</button>
  <button type="button" id="collapse-all">Collapse all</button>
  <label><input type="checkbox" id="only-problems"> Only what did not pass</label>
  <span class="legend"><svg width="34" height="10" aria-hidden="true"><line x1="2" y1="5" x2="26" y2="5" class="l-send"/><path d="M32,5 L24,1 L24,9 Z" class="h-send"/></svg> sent
  <svg width="34" height="10" aria-hidden="true"><line x1="2" y1="5" x2="26" y2="5" class="l-recv"/><path d="M32,5 L24,1 L24,9 Z" class="h-recv"/></svg> reply
  ${steps.some((s) => s.transcript.some((e) => e.kind === 'tls')) ? TLS_LEGEND : ''}</span>
</nav>
<main>
${result.scenarios.map((s, i) => scenarioHtml(s, `s${i + 1}`, result.targets)).join('\n')}
</main>
<footer>Made by wirelab. Click a scenario to open it, a message in a diagram to see its bytes.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function scenarioHtml(scenario: ScenarioResult, id: string, targets?: TargetInfo[]): string {
  const pct = scenario.maxPoints ? Math.round((scenario.points / scenario.maxPoints) * 100) : 100;
  const open = scenario.status === 'passed' ? '' : ' open';
  return `<details class="scenario sc-${scenario.status}" id="${id}"${open}>
<summary>
  <span class="icon">${scenario.status === 'passed' ? '✓' : '✗'}</span>
  <span class="title">${esc(scenario.title)}</span>
  ${badge(visibilityOf(scenario))}
  <span class="file">${esc(scenario.file)}</span>
  <span class="pts">${num(scenario.points)}/${num(scenario.maxPoints)}</span>
  <span class="minibar"><i style="width:${pct}%"></i></span>
</summary>
<div class="scenario-body">
${scenario.description ? `<p class="desc">${esc(scenario.description.trim())}</p>` : ''}
<ol class="steps">
${scenario.steps.map((step, j) => stepHtml(step, `${id}-${j + 1}`, scenario, targets)).join('\n')}
</ol>
</div>
</details>`;
}

const ICON = { passed: '✓', failed: '✗', error: '!', skipped: '–' } as const;

function stepHtml(step: StepResult, id: string, scenario: ScenarioResult, targets?: TargetInfo[]): string {
  const visibility = step.visibility ?? visibilityOf(scenario);
  const problems = problemsOf(step);
  const showHint = step.hint && (step.status === 'failed' || step.status === 'error');
  const parts: string[] = [];
  parts.push(`<div class="step-head">
  <span class="icon" title="${step.status}">${ICON[step.status]}</span>
  <span class="name">${esc(step.name)}</span>
  ${visibility !== visibilityOf(scenario) ? badge(visibility) : ''}
  <code class="what">${esc(step.summary)}</code>
  <span class="pts">${num(step.points)}/${num(step.maxPoints)}</span>
  <span class="dur">${step.durationMs} ms${step.attempts > 1 ? ` · ${step.attempts} tries` : ''}</span>
</div>`);
  if (problems.length || showHint) {
    parts.push(`<div class="problems">
${problems.map((p) => `<p class="problem"><span class="msg">${esc(p.message)}</span> <span class="where">${esc(p.where)}</span></p>`).join('\n')}
${showHint ? `<p class="hint"><b>Hint</b> ${esc(step.hint!)}</p>` : ''}
</div>`);
  }
  // Every check, when some held: what was right is worth seeing next to what was not.
  if (step.checks.some((c) => c.passed)) {
    parts.push(`<ul class="checks">${step.checks
      .map((c) => `<li class="${c.passed ? 'ok' : 'ko'}"><span>${c.passed ? '✓' : '✗'}</span> ${esc(c.message)}</li>`)
      .join('')}</ul>`);
  }
  if (step.packets) parts.push(tcpLayerHtml(step, step.packets, id, targets));
  if (step.transcript.length) {
    parts.push(`<figure class="ladder plain">${ladderSvg(step.transcript, id, { targets: targetColumns(step.transcript, targets) })}</figure>`);
    parts.push(`<details class="raw" id="${id}-raw"><summary>Raw transcript <span class="dim">(${step.transcript.length} events)</span></summary>
<ol class="events">
${step.transcript.map((e, k) => eventHtml(e, `${id}-e${k + 1}`)).join('\n')}
</ol>
</details>`);
  } else if (step.packets?.rows.length) {
    parts.push(`<p class="nowire">No message went through; the TCP layer above has the packets.</p>`);
  } else {
    parts.push(`<p class="nowire">Nothing crossed the wire${step.status === 'skipped' ? ': the step did not run' : ''}.</p>`);
  }
  const logs = Object.entries(step.logs ?? {});
  if (logs.length) {
    parts.push(`<details class="logs"><summary>Server log</summary>${logs
      .map(([service, lines]) => `<h4>${esc(service)}</h4><pre>${esc(lines.join('\n'))}</pre>`)
      .join('')}</details>`);
  }
  return `<li class="step st-${step.status}" id="${id}" data-status="${step.status}">\n${parts.join('\n')}\n</li>`;
}

/**
 * A step's TCP layer (`--capture`): the ladder again with every packet under the
 * message it carries, collapsed until the student opens it (then it takes the plain
 * diagram's place: PAGE_CSS); below, the packets as a pcapng file to download (a data:
 * URL, so the report stays one file) and the Decode As settings Wireshark needs for
 * the embedded lab's ports.
 */
function tcpLayerHtml(step: StepResult, packets: StepPackets, id: string, targets?: TargetInfo[]): string {
  const tcp = packets.conversations.filter((c) => c.transport === 'tcp').length;
  const udp = packets.conversations.length - tcp;
  const what = [plural(packets.rows.length, 'packet'), tcp ? plural(tcp, 'TCP connection') : '', udp ? plural(udp, 'UDP exchange') : ''].filter(Boolean).join(', ');
  const bytes = Math.floor((packets.pcapng.length * 3) / 4) - (packets.pcapng.match(/=+$/)?.[0].length ?? 0);
  const file = `${id}-${step.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'step'}.pcapng`;
  const decodeAs = decodeAsSettings(packets.conversations);
  const settings = decodeAs.length
    ? `<span class="decode-as">Wireshark: Analyze › Decode As… ${decodeAs.map((d) => `<code>${esc(d.field)} → ${esc(d.protocol)}</code>`).join(' ')} <span class="dim">(tshark: <code>${esc(tsharkDecodeAs(decodeAs).join(' '))}</code>)</span></span>`
    : '';
  return `<details class="tcp-layer" id="${id}-packets"><summary>TCP layer <span class="dim">(${what})</span></summary>
<figure class="ladder packets">${ladderSvg(step.transcript, id, { targets: targetColumns(step.transcript, targets), packets })}</figure>
</details>
<p class="pcap"><a class="pcapng" download="${esc(file)}" href="data:application/vnd.tcpdump.pcap;base64,${packets.pcapng}">Download the packets <span class="dim">(pcapng, ${bytes} bytes)</span></a> ${settings}</p>`;
}

function badge(visibility: string): string {
  if (visibility === 'visible') return '';
  const label = visibility.replace(/_/g, ' ');
  return `<span class="badge" title="Gradescope visibility: ${esc(visibility)}">${esc(label)}</span>`;
}

// ---------------------------------------------------------------------------
// The raw transcript

function eventHtml(e: WireEvent, id: string): string {
  const message = e.kind === 'send' || e.kind === 'recv';
  const route = message ? `${esc(e.from)} <span class="arrow">→</span> ${esc(e.to)}` : e.kind === 'tls' ? `${esc(e.from)} <span class="arrow">⇄</span> ${esc(e.to)}` : `${esc(e.from)} · ${esc(e.to)}`;
  const enc = e.encrypted ? ` <span class="enc" title="encrypted on the wire; shown as the client sent or read it inside TLS">🔒 in TLS</span>` : '';
  const head = `<div class="ev-head"><span class="t">${ms(e.at)}</span> <span class="route">${route}</span> <span class="proto">${esc(e.protocol)}${e.transport ? '/' + esc(e.transport) : ''}</span>${enc}${e.size !== undefined ? ` <span class="size">${e.size} B</span>` : ''} <b class="sum">${esc(message || e.kind === 'tls' ? e.summary : `${e.kind}: ${e.summary}`)}</b></div>`;
  const bytes = e.data ? eventBytes(e) : undefined;
  const body: string[] = [];
  if (e.text !== undefined) body.push(`<pre class="text">${visibleText(e.text)}</pre>`);
  if (bytes && bytes.length) {
    const dump = `<pre class="hex">${esc(hexdump(bytes.subarray(0, MAX_TEXT / 4)))}${bytes.length > MAX_TEXT / 4 ? `\n… ${bytes.length - MAX_TEXT / 4} more bytes` : ''}</pre>`;
    body.push(e.text !== undefined ? `<details class="bytes"><summary>bytes (hex)</summary>${dump}</details>` : dump);
  }
  const refused = e.kind === 'tls' && (!e.tls?.version || e.tls.authorized === false) ? ' refused' : '';
  return `<li class="ev ev-${e.kind}${refused}" id="${id}">${head}${body.join('')}</li>`;
}

/** Decoded text with its line ends shown (HTTP lines end in \r\n) and control characters made visible. */
function visibleText(text: string): string {
  const cut = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  const html = cut.replace(/([^\r\n]*)(\r\n|\r|\n|$)/g, (_all, line: string, end: string) => {
    const eol = end === '\r\n' ? '<span class="eol">\\r\\n</span>\n' : end === '\r' ? '<span class="eol">\\r</span>' : end;
    return esc(line) + eol;
  });
  return html + (text.length > cut.length ? `\n<span class="eol">… ${text.length - cut.length} more characters (the JSON report has them all)</span>` : '');
}

/** The padlock of ladder.ts, in the legend when some step used TLS. */
const TLS_LEGEND = `<svg width="16" height="12" aria-hidden="true" class="ladder-svg"><g class="padlock" transform="translate(8 5)"><path d="M-2.6,-1 v-2.2 a2.6,2.6 0 0 1 5.2,0 v2.2" fill="none"/><rect x="-4.2" y="-1" width="8.4" height="6.4" rx="1.2"/></g></svg> inside TLS`;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const num = (n: number): string => String(Math.round(n * 1000) / 1000);

// ---------------------------------------------------------------------------
// Behaviour, inline: the file must open with no network at all.

const SCRIPT = `
(function () {
  var all = function (sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); };
  document.getElementById('expand-all').addEventListener('click', function () { all('details.scenario').forEach(function (d) { d.open = true; }); });
  document.getElementById('collapse-all').addEventListener('click', function () { all('details').forEach(function (d) { d.open = false; }); });
  document.getElementById('only-problems').addEventListener('change', function (e) { document.body.classList.toggle('only-problems', e.target.checked); });
  // A message in a diagram opens the raw transcript at that message.
  var show = function (g) {
    var ev = document.getElementById(g.getAttribute('data-event'));
    if (!ev) return;
    for (var d = ev.parentElement; d; d = d.parentElement) if (d.tagName === 'DETAILS') d.open = true;
    ev.scrollIntoView({ block: 'center', behavior: 'smooth' });
    ev.classList.add('flash');
    setTimeout(function () { ev.classList.remove('flash'); }, 1500);
  };
  document.addEventListener('click', function (e) {
    var g = e.target.closest && e.target.closest('[data-event]');
    if (g) show(g);
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && e.target.closest && e.target.closest('[data-event]')) show(e.target.closest('[data-event]'));
  });
})();
`;
