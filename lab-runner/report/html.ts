import { eventBytes, type WireEvent } from '../wire';
import type { RunResult, ScenarioResult, StepResult } from '../result';
import { problemsOf, visibilityOf } from './explain';
import { hexdump } from './transcript';

/**
 * The HTML report: one self-contained file a student opens from disk. It needs no
 * network (inline CSS and JS, system fonts, and a Content-Security-Policy that forbids
 * loading anything), shows the score, each scenario and its steps with what failed and
 * the hint, and draws each step's transcript as a ladder diagram: the hosts as columns
 * with lifelines, the messages as arrows in time order. Clicking an arrow, or the
 * "Raw transcript" line, shows the exchange itself (decoded text and bytes).
 *
 * Everything from a result is escaped: a server's reply is data, never markup.
 * The caller masks secrets first (report/index.ts does).
 */

/** More messages than this and the diagram stops; the raw transcript still has them all. */
const MAX_LADDER_EVENTS = 400;
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
<style>${CSS}</style>
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
  </ul>
</header>
<nav class="tools">
  <button type="button" id="expand-all">Expand all</button>
  <button type="button" id="collapse-all">Collapse all</button>
  <label><input type="checkbox" id="only-problems"> Only what did not pass</label>
  <span class="legend"><svg width="34" height="10" aria-hidden="true"><line x1="2" y1="5" x2="26" y2="5" class="l-send"/><path d="M32,5 L24,1 L24,9 Z" class="h-send"/></svg> sent
  <svg width="34" height="10" aria-hidden="true"><line x1="2" y1="5" x2="26" y2="5" class="l-recv"/><path d="M32,5 L24,1 L24,9 Z" class="h-recv"/></svg> reply</span>
</nav>
<main>
${result.scenarios.map((s, i) => scenarioHtml(s, `s${i + 1}`)).join('\n')}
</main>
<footer>Made by wirelab. Click a scenario to open it, a message in a diagram to see its bytes.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function scenarioHtml(scenario: ScenarioResult, id: string): string {
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
${scenario.steps.map((step, j) => stepHtml(step, `${id}-${j + 1}`, scenario)).join('\n')}
</ol>
</div>
</details>`;
}

const ICON = { passed: '✓', failed: '✗', error: '!', skipped: '–' } as const;

function stepHtml(step: StepResult, id: string, scenario: ScenarioResult): string {
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
  if (step.transcript.length) {
    parts.push(`<figure class="ladder">${ladderSvg(step.transcript, id)}</figure>`);
    parts.push(`<details class="raw" id="${id}-raw"><summary>Raw transcript <span class="dim">(${step.transcript.length} events)</span></summary>
<ol class="events">
${step.transcript.map((e, k) => eventHtml(e, `${id}-e${k + 1}`)).join('\n')}
</ol>
</details>`);
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

function badge(visibility: string): string {
  if (visibility === 'visible') return '';
  const label = visibility.replace(/_/g, ' ');
  return `<span class="badge" title="Gradescope visibility: ${esc(visibility)}">${esc(label)}</span>`;
}

// ---------------------------------------------------------------------------
// The ladder diagram

interface Column {
  host: string;
  ports: string[];
  x: number;
}

/** `ns.lab.test:53` -> host `ns.lab.test`, port `53`; `client` has no port. */
export function splitEndpoint(endpoint: string): { host: string; port?: string } {
  const m = /^(.+):(\d+)$/.exec(endpoint);
  return m ? { host: m[1]!, port: m[2]! } : { host: endpoint };
}

/** The hosts a transcript talks between, the client first, then in order of appearance. */
export function ladderHosts(events: WireEvent[]): string[] {
  const hosts: string[] = [];
  for (const e of events) for (const end of [e.from, e.to]) {
    const { host } = splitEndpoint(end);
    if (!hosts.includes(host)) hosts.push(host);
  }
  const client = hosts.indexOf('client');
  if (client > 0) hosts.unshift(...hosts.splice(client, 1));
  return hosts;
}

/** The width a diagram tries to stay within, in pixels: the page's content width. */
const LADDER_WIDTH = 1080;
const CHAR = 7.25; // width of a 12px monospace character
const GUTTER = 64; // the time column on the left
const TOP = 58; // below the host boxes
const ROW = 30;
const MARK_ROW = 22;

function ladderSvg(all: WireEvent[], id: string): string {
  const events = all.slice(0, MAX_LADDER_EVENTS);
  const order = ladderHosts(events);
  const isMessage = (e: WireEvent): boolean => e.kind === 'send' || e.kind === 'recv';
  const longest = Math.max(12, ...events.filter(isMessage).map((e) => e.summary.length));
  // Wide enough for the labels, narrow enough that the hosts fit the page (a label that does not fit is cut; its tooltip has it all).
  const fitsPage = order.length > 1 ? (LADDER_WIDTH - GUTTER - 32 - 160) / (order.length - 1) : Infinity;
  const spacing = Math.round(Math.max(170, Math.min(340, longest * CHAR + 36, fitsPage)));
  const boxWidth = Math.min(spacing - 16, Math.max(110, ...order.map((h) => h.length * CHAR + 24)));
  const columns: Column[] = order.map((host, i) => ({ host, ports: [], x: GUTTER + boxWidth / 2 + 8 + i * spacing }));
  const column = (endpoint: string): Column => {
    const { host, port } = splitEndpoint(endpoint);
    const c = columns.find((col) => col.host === host)!;
    if (port && !c.ports.includes(port)) c.ports.push(port);
    return c;
  };

  const width = Math.round((columns.at(-1)?.x ?? GUTTER) + boxWidth / 2 + 24);
  const rows: string[] = [];
  let y = TOP + 2;
  events.forEach((e, k) => {
    const from = column(e.from);
    const to = column(e.to);
    const eventId = `${id}-e${k + 1}`;
    const tip = `${ms(e.at)}  ${e.from} → ${e.to}  ${e.protocol}${e.transport ? '/' + e.transport : ''}${e.size !== undefined ? `  ${e.size} B` : ''}\n${e.kind}: ${e.summary}`;
    if (isMessage(e)) {
      y += ROW;
      rows.push(`<g class="message m-${e.kind}" data-event="${eventId}" data-from="${esc(from.host)}" data-to="${esc(to.host)}" tabindex="0"><title>${esc(tip)}</title>
<text x="${GUTTER - 8}" y="${y + 4}" class="time">${ms(e.at)}</text>
${arrow(from.x, to.x, y, e.kind, e.summary)}</g>`);
    } else {
      y += MARK_ROW;
      rows.push(`<g class="marker k-${e.kind}" data-event="${eventId}"><title>${esc(tip)}</title>
<text x="${GUTTER - 8}" y="${y + 4}" class="time">${ms(e.at)}</text>
${marker(from.x, to.x, y, e.kind, e.summary, width)}</g>`);
    }
  });
  const height = y + 24;
  const heads = columns
    .map(
      (c) => `<g class="host" data-host="${esc(c.host)}">
<line x1="${c.x}" y1="${TOP - 8}" x2="${c.x}" y2="${height - 6}" class="lifeline"/>
<rect x="${c.x - boxWidth / 2}" y="6" width="${boxWidth}" height="${TOP - 14}" rx="7" class="hostbox${c.host === 'client' ? ' client' : ''}"/>
<text x="${c.x}" y="26" class="hostname">${esc(fit(c.host, Math.floor((boxWidth - 12) / CHAR)))}</text>
<text x="${c.x}" y="42" class="ports">${esc(fit(c.ports.length ? c.ports.map((p) => ':' + p).join(' ') : c.host === 'client' ? 'you' : '', Math.floor((boxWidth - 10) / 6.6)))}</text>
</g>`,
    )
    .join('\n');
  const more = all.length > events.length ? `<text x="${GUTTER}" y="${height - 4}" class="note">… ${all.length - events.length} more events in the raw transcript</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" class="ladder-svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="ladder diagram: ${events.filter(isMessage).length} messages between ${order.length} hosts">
${heads}
${rows.join('\n')}
${more}
</svg>`;
}

function arrow(x1: number, x2: number, y: number, kind: string, summary: string): string {
  const cls = kind === 'recv' ? 'recv' : 'send';
  if (x1 === x2) {
    // A host talking to itself (two ports of one host): a small loop to the right.
    const label = fit(summary, 40);
    return `<path d="M${x1},${y - 8} h28 v16 h-22" class="l-${cls}" fill="none"/><path d="M${x1 + 1},${y + 8} l8,-4 v8 z" class="h-${cls}"/>
<text x="${x1 + 36}" y="${y + 4}" class="label start">${esc(label)}</text>`;
  }
  const dir = x2 > x1 ? 1 : -1;
  const tipX = x2 - dir * 2;
  const label = fit(summary, Math.floor((Math.abs(x2 - x1) - 14) / CHAR));
  return `<line x1="${x1}" y1="${y}" x2="${tipX - dir * 8}" y2="${y}" class="l-${cls}"/>
<path d="M${tipX},${y} L${tipX - dir * 10},${y - 5} L${tipX - dir * 10},${y + 5} Z" class="h-${cls}"/>
<text x="${(x1 + x2) / 2}" y="${y - 7}" class="label">${esc(label)}</text>`;
}

/** connect, close, note: a small mark on the lifelines, not an arrow. */
function marker(x1: number, x2: number, y: number, kind: string, summary: string, width: number): string {
  const word = kind === 'note' || summary.startsWith(kind) ? '' : `${kind}${summary ? ': ' : ''}`;
  if (kind === 'note' || x1 === x2) {
    // A note reads from its lifeline towards the middle of the diagram.
    const right = x1 < width / 2;
    const room = right ? width - x1 - 16 : x1 - GUTTER - 16;
    return `<rect x="${x1 - 4}" y="${y - 4}" width="8" height="8" transform="rotate(45 ${x1} ${y})" class="mark"/>
<text x="${right ? x1 + 10 : x1 - 10}" y="${y + 4}" class="small ${right ? 'start' : 'end'}">${esc(fit(word + summary, Math.floor(room / 6.4)))}</text>`;
  }
  const symbol = kind === 'close' ? `<path d="M${x2 - 4},${y - 4} l8,8 m0,-8 l-8,8" class="mark-x"/>` : `<circle cx="${x2}" cy="${y}" r="4" class="mark"/>`;
  return `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" class="l-mark"/><circle cx="${x1}" cy="${y}" r="2.5" class="mark"/>${symbol}
<text x="${(x1 + x2) / 2}" y="${y - 5}" class="small">${esc(fit(word + summary, Math.floor((Math.abs(x2 - x1) - 10) / 6.2)))}</text>`;
}

// ---------------------------------------------------------------------------
// The raw transcript

function eventHtml(e: WireEvent, id: string): string {
  const route = e.kind === 'send' || e.kind === 'recv' ? `${esc(e.from)} <span class="arrow">→</span> ${esc(e.to)}` : `${esc(e.from)} · ${esc(e.to)}`;
  const head = `<div class="ev-head"><span class="t">${ms(e.at)}</span> <span class="route">${route}</span> <span class="proto">${esc(e.protocol)}${e.transport ? '/' + esc(e.transport) : ''}</span>${e.size !== undefined ? ` <span class="size">${e.size} B</span>` : ''} <b class="sum">${esc(e.kind === 'send' || e.kind === 'recv' ? e.summary : `${e.kind}: ${e.summary}`)}</b></div>`;
  const bytes = e.data ? eventBytes(e) : undefined;
  const body: string[] = [];
  if (e.text !== undefined) body.push(`<pre class="text">${visibleText(e.text)}</pre>`);
  if (bytes && bytes.length) {
    const dump = `<pre class="hex">${esc(hexdump(bytes.subarray(0, MAX_TEXT / 4)))}${bytes.length > MAX_TEXT / 4 ? `\n… ${bytes.length - MAX_TEXT / 4} more bytes` : ''}</pre>`;
    body.push(e.text !== undefined ? `<details class="bytes"><summary>bytes (hex)</summary>${dump}</details>` : dump);
  }
  return `<li class="ev ev-${e.kind}" id="${id}">${head}${body.join('')}</li>`;
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

// ---------------------------------------------------------------------------
// Small helpers

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML: markup characters escaped, control characters shown as \x00. */
export function esc(text: string): string {
  return String(text)
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!)
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function fit(text: string, chars: number): string {
  const oneLine = text.replace(/\s*\r?\n\s*/g, ' ⏎ ');
  const max = Math.max(4, chars);
  return oneLine.length > max ? oneLine.slice(0, max - 1) + '…' : oneLine;
}

const ms = (at: number): string => (at >= 10000 ? `${(at / 1000).toFixed(1)} s` : `${at.toFixed(1)} ms`);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const num = (n: number): string => String(Math.round(n * 1000) / 1000);

// ---------------------------------------------------------------------------
// Style and behaviour, inline: the file must open with no network at all.

const CSS = `
:root {
  --bg: #f6f7f9; --card: #fff; --ink: #1f2933; --dim: #66788a; --line: #dde3ea;
  --pass: #1a7f37; --pass-bg: #e9f7ee; --fail: #c62828; --fail-bg: #fdecec; --err: #b45309; --err-bg: #fff4e5;
  --skip: #8a6d00; --skip-bg: #fdf8e1; --send: #1d5fd1; --recv: #0f7b6c; --mark: #8795a5; --hint-bg: #eef4ff;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 36px; padding: 22px 32px; background: #17212b; color: #f3f6f9; }
.brand { font-size: 22px; font-weight: 700; letter-spacing: .3px; }
.brand span { font-weight: 400; color: #9fb3c8; }
.score-box { display: flex; align-items: center; gap: 14px; }
.score { font-size: 34px; font-weight: 700; font-variant-numeric: tabular-nums; }
.score .sep { color: #7b8fa3; margin: 0 4px; font-weight: 400; }
.score .unit { font-size: 15px; font-weight: 400; color: #9fb3c8; }
.bar { width: 160px; height: 10px; border-radius: 5px; background: #33414f; overflow: hidden; }
.bar i { display: block; height: 100%; background: #3fb950; }
.grade-fair .bar i { background: #d29922; } .grade-poor .bar i { background: #f85149; }
.pct { font-weight: 600; color: #cfd9e3; }
.facts { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0; padding: 0; color: #cfd9e3; font-size: 14px; }
.facts .dim { color: #8fa3b8; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; }
.dot.passed { background: #3fb950; } .dot.failed { background: #f85149; } .dot.error { background: #e3a008; } .dot.skipped { background: #c9b458; }
nav.tools { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 14px; padding: 12px 32px; border-bottom: 1px solid var(--line); background: var(--card); font-size: 14px; }
nav.tools button { font: inherit; padding: 4px 12px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); cursor: pointer; }
nav.tools button:hover { border-color: var(--dim); }
.legend { margin-left: auto; color: var(--dim); display: flex; align-items: center; gap: 6px; }
main { max-width: 1200px; margin: 18px auto 40px; padding: 0 20px; }
details.scenario { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--pass); border-radius: 8px; margin: 0 0 12px; }
details.scenario.sc-failed { border-left-color: var(--fail); }
details.scenario > summary { display: flex; align-items: center; gap: 12px; padding: 12px 16px; cursor: pointer; list-style: none; }
details.scenario > summary::-webkit-details-marker { display: none; }
details.scenario > summary::before { content: "▸"; color: var(--dim); transition: transform .15s; }
details.scenario[open] > summary::before { transform: rotate(90deg); }
summary .icon { font-weight: 700; }
.sc-passed > summary .icon { color: var(--pass); } .sc-failed > summary .icon { color: var(--fail); }
summary .title { font-weight: 600; font-size: 16px; }
summary .file { color: var(--dim); font: 12px var(--mono); }
summary .pts { margin-left: auto; font-weight: 600; font-variant-numeric: tabular-nums; }
.minibar { width: 70px; height: 6px; border-radius: 3px; background: var(--line); overflow: hidden; }
.minibar i { display: block; height: 100%; background: var(--pass); }
.sc-failed .minibar i { background: var(--fail); }
.scenario-body { padding: 0 16px 14px; border-top: 1px solid var(--line); }
.desc { color: var(--dim); margin: 10px 0 4px; max-width: 80ch; }
ol.steps { list-style: none; margin: 0; padding: 0; }
li.step { border-top: 1px dashed var(--line); padding: 12px 0 10px; }
li.step:first-child { border-top: 0; }
.step-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 12px; }
.step-head .icon { display: inline-grid; place-items: center; width: 22px; height: 22px; border-radius: 50%; font-size: 13px; font-weight: 700; color: #fff; background: var(--pass); flex: none; }
.st-failed .step-head .icon { background: var(--fail); } .st-error .step-head .icon { background: var(--err); } .st-skipped .step-head .icon { background: #b7a34a; }
.step-head .name { font-weight: 600; }
.step-head .what { font: 12.5px var(--mono); color: var(--dim); background: var(--bg); padding: 1px 6px; border-radius: 4px; overflow-wrap: anywhere; }
.step-head .pts { margin-left: auto; font-weight: 600; font-variant-numeric: tabular-nums; }
.st-passed .step-head .pts { color: var(--pass); } .st-failed .step-head .pts, .st-error .step-head .pts { color: var(--fail); } .st-skipped .step-head .pts { color: var(--skip); }
.step-head .dur { color: var(--dim); font-size: 12px; min-width: 60px; text-align: right; }
.badge { font-size: 11px; text-transform: uppercase; letter-spacing: .5px; padding: 1px 7px; border-radius: 10px; background: #ece7fb; color: #5b3cc4; font-weight: 600; }
.problems { margin: 8px 0 6px 34px; }
.problem { margin: 4px 0; padding: 6px 10px; border-radius: 6px; background: var(--fail-bg); color: #7d1a1a; }
.st-error .problem { background: var(--err-bg); color: #7a3e00; } .st-skipped .problem { background: var(--skip-bg); color: #5e4b00; }
.problem .msg { font: 13px/1.45 var(--mono); white-space: pre-wrap; overflow-wrap: anywhere; }
.problem .where { color: var(--dim); font: 12px var(--mono); margin-left: 6px; white-space: nowrap; }
.hint { margin: 6px 0; padding: 6px 10px; border-radius: 6px; background: var(--hint-bg); border-left: 3px solid var(--send); }
.hint b { color: var(--send); margin-right: 6px; }
ul.checks { list-style: none; margin: 4px 0 6px 34px; padding: 0; font: 12.5px/1.6 var(--mono); color: var(--dim); }
ul.checks li span { display: inline-block; width: 16px; font-weight: 700; }
ul.checks li.ok span { color: var(--pass); } ul.checks li.ko { color: var(--fail); }
figure.ladder { margin: 8px 0 4px 34px; overflow-x: auto; background: #fbfcfd; border: 1px solid var(--line); border-radius: 6px; }
.ladder-svg { display: block; font-family: var(--mono); }
.ladder-svg .hostbox { fill: #eef2f6; stroke: #b8c4d0; }
.ladder-svg .hostbox.client { fill: #e7efff; stroke: #9db6e6; }
.ladder-svg .hostname { font: 600 12.5px var(--mono); text-anchor: middle; fill: var(--ink); }
.ladder-svg .ports { font: 11px var(--mono); text-anchor: middle; fill: var(--dim); }
.ladder-svg .lifeline { stroke: #c3ccd6; stroke-width: 1.5; stroke-dasharray: 5 4; }
.ladder-svg .time { font: 10.5px var(--mono); text-anchor: end; fill: #94a3b3; }
.ladder-svg .label { font: 12px var(--mono); text-anchor: middle; fill: var(--ink); paint-order: stroke; stroke: #fbfcfd; stroke-width: 5px; stroke-linejoin: round; }
.ladder-svg .start { text-anchor: start; }
.ladder-svg .small { font: italic 10.5px var(--mono); text-anchor: middle; fill: var(--mark); paint-order: stroke; stroke: #fbfcfd; stroke-width: 4px; stroke-linejoin: round; }
.ladder-svg .small.start { text-anchor: start; } .ladder-svg .small.end { text-anchor: end; }
.ladder-svg .note { font: italic 11px var(--mono); fill: var(--dim); }
.l-send { stroke: var(--send); stroke-width: 1.8; } .h-send { fill: var(--send); }
.l-recv { stroke: var(--recv); stroke-width: 1.8; } .h-recv { fill: var(--recv); }
.m-recv .label { fill: #0b5a4f; }
.l-mark { stroke: var(--mark); stroke-width: 1; stroke-dasharray: 2 3; } .mark { fill: var(--mark); } .mark-x { stroke: var(--mark); stroke-width: 1.6; }
.ladder-svg .message { cursor: pointer; }
.ladder-svg .message:hover .label, .ladder-svg .message:focus .label { font-weight: 700; }
.ladder-svg .message:hover line, .ladder-svg .message:focus line { stroke-width: 3; }
details.raw, details.logs { margin: 4px 0 0 34px; }
details.raw > summary, details.logs > summary { cursor: pointer; color: var(--send); font-size: 14px; width: max-content; }
.dim { color: var(--dim); }
ol.events { list-style: none; margin: 6px 0 0; padding: 0; border: 1px solid var(--line); border-radius: 6px; background: #fbfcfd; }
li.ev { padding: 6px 10px; border-top: 1px solid var(--line); }
li.ev:first-child { border-top: 0; }
li.ev.flash { background: #fff6cc; transition: background .3s; }
.ev-head { font: 12.5px var(--mono); display: flex; flex-wrap: wrap; gap: 2px 10px; align-items: baseline; }
.ev-head .t { color: #94a3b3; min-width: 70px; }
.ev-head .route { color: var(--dim); }
.ev-send .ev-head .arrow, .ev-send .sum { color: var(--send); } .ev-recv .ev-head .arrow, .ev-recv .sum { color: var(--recv); }
.ev-connect .sum, .ev-close .sum, .ev-note .sum { color: var(--mark); font-weight: 400; font-style: italic; }
.ev-head .proto, .ev-head .size { color: #94a3b3; }
pre { margin: 6px 0 2px; padding: 8px 10px; background: #f1f4f7; border-radius: 5px; font: 12px/1.45 var(--mono); overflow-x: auto; white-space: pre; }
pre .eol { color: #b0bcc8; }
details.bytes > summary { cursor: pointer; font-size: 12px; color: var(--dim); }
details.logs h4 { margin: 6px 0 0; font-size: 13px; }
p.nowire { margin: 6px 0 0 34px; color: var(--dim); font-style: italic; font-size: 14px; }
body.only-problems li.step.st-passed, body.only-problems details.scenario.sc-passed { display: none; }
footer { text-align: center; color: var(--dim); font-size: 13px; padding: 10px 0 30px; }
@media print { nav.tools { display: none; } details.scenario { break-inside: avoid; } }
`;

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
