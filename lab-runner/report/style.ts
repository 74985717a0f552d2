/**
 * The HTML report's look, inline: the file must open with no network at all, so no
 * stylesheet to fetch and only system fonts. Three parts: the colours and fonts
 * (THEME_CSS), the page (PAGE_CSS), and the ladder diagram (LADDER_CSS), which the web
 * console uses as it is together with ladder.ts. Plain strings: no Node, no DOM.
 */

/** Colours and fonts, as CSS variables the page and the ladder both use. */
export const THEME_CSS = `
:root {
  --bg: #f6f7f9; --card: #fff; --ink: #1f2933; --dim: #66788a; --line: #dde3ea;
  --pass: #1a7f37; --pass-bg: #e9f7ee; --fail: #c62828; --fail-bg: #fdecec; --err: #b45309; --err-bg: #fff4e5;
  --skip: #8a6d00; --skip-bg: #fdf8e1; --send: #1d5fd1; --recv: #0f7b6c; --mark: #8795a5; --hint-bg: #eef4ff;
  --tls: #2e7d4f; --tls-bg: #e6f4ec; --tls-bad: #c62828; --tls-bad-bg: #fdecec;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
`;

/** The page: header, score, scenarios, steps, problems, raw transcripts. */
export const PAGE_CSS = `
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
.facts .target { color: #ffd58a; }
.facts .target code { font: 13px var(--mono); }
.facts .stopped { color: #ff9b8f; }
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
details.raw, details.logs, details.tcp-layer { margin: 4px 0 0 34px; }
details.tcp-layer > summary { cursor: pointer; color: #5b3cc4; font-size: 14px; width: max-content; }
details.tcp-layer > figure.ladder { margin-left: 0; }
details.tcp-layer[open] ~ figure.ladder.plain { display: none; }
p.pcap { margin: 2px 0 0 34px; font-size: 13px; display: flex; flex-wrap: wrap; gap: 2px 14px; align-items: baseline; }
p.pcap a { color: var(--send); }
p.pcap code { font: 12px var(--mono); background: var(--bg); padding: 0 4px; border-radius: 3px; }
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
.ev-tls .sum, .ev-tls .arrow { color: var(--tls); } .ev-tls.refused .sum, .ev-tls.refused .arrow { color: var(--tls-bad); }
.ev-head .enc { color: var(--tls); font-size: 11.5px; border: 1px solid #b9dcc7; background: var(--tls-bg); border-radius: 4px; padding: 0 5px; }
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

/** The ladder diagram (ladder.ts): hosts, lifelines, arrows for messages, marks for connects and closes. */
export const LADDER_CSS = `
.ladder-svg { display: block; font-family: var(--mono); }
.ladder-svg .hostbox { fill: #eef2f6; stroke: #b8c4d0; }
.ladder-svg .hostbox.client { fill: #e7efff; stroke: #9db6e6; }
.ladder-svg .hostname { font: 600 12.5px var(--mono); text-anchor: middle; fill: var(--ink); }
.ladder-svg .ports { font: 11px var(--mono); text-anchor: middle; fill: var(--dim); }
.ladder-svg .hostbox.target { fill: #fff4e0; stroke: #d99a2b; stroke-width: 1.5; }
.ladder-svg .target-mark { font: 600 11px var(--mono); text-anchor: middle; fill: #8a5a00; }
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
.ladder-svg .tls-band { fill: var(--tls-bg); stroke: var(--tls); stroke-width: 1.4; }
.ladder-svg .refused .tls-band { fill: var(--tls-bad-bg); stroke: var(--tls-bad); }
.ladder-svg .tls-label { fill: #1d5236; font-weight: 600; stroke: var(--tls-bg); }
.ladder-svg .refused .tls-label { fill: #8e1c1c; stroke: var(--tls-bad-bg); }
.ladder-svg .padlock path { stroke: var(--tls); stroke-width: 1.5; } .ladder-svg .padlock rect { fill: var(--tls); }
.ladder-svg .refused .padlock path { stroke: var(--tls-bad); } .ladder-svg .refused .padlock rect { fill: var(--tls-bad); }
.ladder-svg .message:hover .tls-band, .ladder-svg .message:focus .tls-band { stroke-width: 2.4; }
.l-pkt { stroke: #8a99aa; stroke-width: 1; } .h-pkt { fill: #8a99aa; }
.ladder-svg .pkt-label { font: 10px var(--mono); text-anchor: middle; fill: #4a5866; paint-order: stroke; stroke: #fbfcfd; stroke-width: 4px; stroke-linejoin: round; }
.ladder-svg .pkt-time { font-size: 9.5px; fill: #a9b6c3; }
.ladder-svg .retrans .l-pkt { stroke: var(--fail); stroke-dasharray: 4 2; } .ladder-svg .retrans .h-pkt { fill: var(--fail); } .ladder-svg .retrans .pkt-label { fill: var(--fail); font-weight: 700; }
.ladder-svg .conv { font: 600 10.5px var(--mono); fill: #5b3cc4; paint-order: stroke; stroke: #fbfcfd; stroke-width: 4px; stroke-linejoin: round; }
`;
