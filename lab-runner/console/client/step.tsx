import { createContext } from 'preact';
import { useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { StepPackets, StepResult } from '../../result';
import type { WireEvent } from '../../wire';
import { problemsOf } from '../../report/explain';
import { ladderSvg } from '../../report/ladder';
import { ms } from '../../report/markup';

/**
 * A step's result as the HTML report shows it (report/html.ts), drawn live: status,
 * points, what failed and the hint, the checks, the ladder diagram (report/ladder.ts,
 * the very module the report uses) and, as its text alternative, the transcript.
 * A message clicked (or Enter on it) in the diagram opens its place in the transcript.
 * A step run with capture on has its TCP layer one click away, and its pcapng to download;
 * on a lab without capture, a step says how to get it.
 */

/** Whether the lab was started with capture on (LabView.capture): main.tsx provides it. */
export const CaptureOn = createContext(false);

/** What a step without packets says on a lab without capture: how to see its TCP layer. */
export const NO_CAPTURE = 'The TCP layer under these messages (the packets, their handshake, sequence numbers and flags) shows when the lab runs with capture on: start the lab with --capture (wirelab up --capture).';

const ICON = { passed: '✓', failed: '✗', error: '!', skipped: '–' } as const;

let ladders = 0;

/** The bytes of an event, for the hex view. */
function bytesOf(e: WireEvent): Uint8Array {
  const text = atob(e.data ?? '');
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function hex(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = [...bytes.subarray(i, i + 16)];
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(4, '0')}  ${row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

/** Text with its line ends shown: HTTP and mail lines end in \r\n. */
const visible = (text: string): string => text.replace(/\r\n/g, '\\r\\n\n').replace(/\r(?!\n)/g, '\\r');

export function Transcript({ events, id, highlight }: { events: WireEvent[]; id: string; highlight?: (e: WireEvent) => boolean }) {
  return (
    <ol class="events" aria-label="transcript">
      {events.map((e, k) => {
        const message = e.kind === 'send' || e.kind === 'recv';
        return (
          <li key={k} class={`ev ev-${e.kind}${highlight?.(e) ? ' picked' : ''}`} id={`${id}-e${k + 1}`} tabIndex={-1}>
            <div class="ev-head">
              <span class="t">{ms(e.at)}</span>{' '}
              <span class="route">
                {e.from} {message ? '→' : '·'} {e.to}
              </span>{' '}
              <span class="proto">
                {e.protocol}
                {e.transport ? `/${e.transport}` : ''}
              </span>
              {e.size !== undefined ? <span class="size"> {e.size} B</span> : null} <b class="sum">{message ? e.summary : `${e.kind}: ${e.summary}`}</b>
            </div>
            {e.text !== undefined ? <pre class="text">{visible(e.text)}</pre> : null}
            {e.data ? (
              <details class="bytes">
                <summary>bytes (hex)</summary>
                <pre class="hex">{hex(bytesOf(e))}</pre>
              </details>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

/** A pcapng file (base64) as a download link's address: a Blob, so the page fetches nothing. */
function pcapngUrl(base64: string): string {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: 'application/vnd.tcpdump.pcap' }));
}

/** The TCP layer's button and its download link, for a step with captured packets. */
function PacketsBar({ packets, open, toggle, id }: { packets: StepPackets; open: boolean; toggle(): void; id: string }) {
  const url = useMemo(() => pcapngUrl(packets.pcapng), [packets.pcapng]);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  const tcp = packets.conversations.filter((c) => c.transport === 'tcp').length;
  return (
    <div class="packets-bar">
      <button type="button" class="tcp-toggle" aria-expanded={open} aria-controls={`${id}-figure`} onClick={toggle}>
        {open ? 'Hide' : 'Show'} the TCP layer ({packets.rows.length} packets, {tcp} TCP connection{tcp === 1 ? '' : 's'})
      </button>
      <a class="pcapng" href={url} download={`${id}.pcapng`}>
        Download the packets (pcapng)
      </a>
    </div>
  );
}

/**
 * The ladder diagram of a transcript, and the transcript below it as its text
 * alternative. With `packets` (a step run with capture on), a button opens its TCP
 * layer: the same diagram with every packet under the message it carries.
 */
export function Ladder({ events, highlight, label, packets }: { events: WireEvent[]; highlight?: (e: WireEvent) => boolean; label?: string; packets?: StepPackets }) {
  const id = useRef(`l${++ladders}`).current;
  const [open, setOpen] = useState(false);
  const show = (target: EventTarget | null): void => {
    const g = (target as Element | null)?.closest?.('[data-event]');
    if (!g) return;
    const item = document.getElementById(g.getAttribute('data-event')!);
    if (!item) return;
    const raw = item.closest('details');
    if (raw) raw.open = true;
    item.classList.add('flash');
    item.focus();
    setTimeout(() => item.classList.remove('flash'), 1500);
  };
  if (!events.length && !packets?.rows.length) return <p class="nowire">Nothing crossed the wire.</p>;
  const withPackets = open && packets ? packets : undefined;
  return (
    <div class="ladder-block">
      {packets ? <PacketsBar packets={packets} open={open} toggle={() => setOpen(!open)} id={id} /> : null}
      <figure class={`ladder${withPackets ? ' packets' : ''}`} id={`${id}-figure`} aria-describedby={`${id}-raw`}>
        <div
          onClick={(e) => show(e.target)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === ' ') show(e.target);
          }}
          dangerouslySetInnerHTML={{ __html: ladderSvg(events, id, { packets: withPackets }) }}
        />
        <figcaption class="sr-only">{label ?? 'Ladder diagram; the transcript below lists the same messages as text.'}</figcaption>
      </figure>
      <details class="raw" id={`${id}-raw`} open={Boolean(highlight)}>
        <summary>
          Transcript <span class="dim">({events.length} events)</span>
        </summary>
        <Transcript events={events} id={id} highlight={highlight} />
      </details>
    </div>
  );
}

/** How long after the runner finished a step its result was on the page, in ms (the README's figure). */
export const latencies: number[] = [];
(window as unknown as { __consoleLatencies: number[] }).__consoleLatencies = latencies;

/** A step's result; `endedAt` (epoch ms, the server's clock on this machine): when the runner finished it. */
export function StepView({ step, endedAt }: { step: StepResult; endedAt?: number }) {
  const problems = problemsOf(step);
  const item = useRef<HTMLLIElement>(null);
  useEffect(() => {
    // After the browser painted the result: the time a student waited for it.
    if (endedAt === undefined) return;
    const latency = Date.now() - endedAt;
    latencies.push(latency);
    item.current?.setAttribute('data-latency', String(latency));
  }, []);
  const showHint = step.hint && (step.status === 'failed' || step.status === 'error');
  const capturing = useContext(CaptureOn);
  return (
    <li ref={item} class={`step st-${step.status}`} data-status={step.status}>
      <div class="step-head">
        <span class="icon" role="img" aria-label={step.status}>
          {ICON[step.status]}
        </span>
        <span class="name">{step.name}</span>
        <code class="what">{step.summary}</code>
        {step.maxPoints ? (
          <span class="pts">
            {step.points}/{step.maxPoints}
          </span>
        ) : (
          <span class="pts" />
        )}
        <span class="dur">
          {step.durationMs} ms{step.attempts > 1 ? ` · ${step.attempts} tries` : ''}
        </span>
      </div>
      {problems.length || showHint ? (
        <div class="problems">
          {problems.map((p, i) => (
            <p class="problem" key={i}>
              <span class="msg">{p.message}</span> <span class="where">{p.where}</span>
            </p>
          ))}
          {showHint ? (
            <p class="hint">
              <b>Hint</b> {step.hint}
            </p>
          ) : null}
        </div>
      ) : null}
      {step.checks.some((c) => c.passed) ? (
        <ul class="checks">
          {step.checks.map((c, i) => (
            <li key={i} class={c.passed ? 'ok' : 'ko'}>
              <span aria-hidden="true">{c.passed ? '✓' : '✗'}</span> {c.message}
            </li>
          ))}
        </ul>
      ) : null}
      {!step.packets && !capturing && step.transcript.length ? <p class="no-packets">{NO_CAPTURE}</p> : null}
      <Ladder events={step.transcript} packets={step.packets} />
    </li>
  );
}
