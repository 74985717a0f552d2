import { useEffect, useRef, useState } from 'preact/hooks';
import type { Panel } from '../panels';
import type { StepResult } from '../../result';
import type { WireEvent } from '../../wire';
import { get, newId, on, post } from './api';
import { Fields, type JsonSchema, type Value } from './form';
import { announce } from './live';
import { Ladder, StepView } from './step';

/**
 * Try it: one panel per protocol (one per executor), a form made from the executor's
 * input schema, run through the same executor a scenario step uses. The exchange shows
 * live as it happens (the ladder grows), then the step's result, and the exchange as a
 * scenario step in YAML, to copy.
 */

interface Tried {
  step: StepResult;
  yaml: string;
}

function PanelForm({ panel }: { panel: Panel }) {
  const [input, setInput] = useState<Value>((panel.presets[0]?.input as Value | undefined) ?? {});
  const [name, setName] = useState('');
  const [running, setRunning] = useState(false);
  const [live, setLive] = useState<WireEvent[]>([]);
  const [tried, setTried] = useState<Tried>();
  const [error, setError] = useState<string>();
  const [inspected, setInspected] = useState<string>();
  const [yamlMode, setYamlMode] = useState(false);
  const [yamlText, setYamlText] = useState('');
  const runId = useRef<string | undefined>(undefined);
  useEffect(() => on('wire', (d: { id: string; event: WireEvent }) => {
    if (d.id === runId.current) setLive((l) => [...l, d.event]);
  }), []);

  const send = async (): Promise<void> => {
    const id = newId();
    runId.current = id;
    setRunning(true);
    setLive([]);
    setTried(undefined);
    setError(undefined);
    announce(`sending the ${panel.title} request`);
    try {
      const body = yamlMode ? { id, yaml: yamlText } : { id, action: panel.action, input, name: name || undefined };
      const result = await post<Tried>('/api/try', body);
      setTried(result);
      announce(`${panel.title}: ${result.step.status}${result.step.error ? `: ${result.step.error}` : ''}`);
    } catch (err) {
      setError((err as Error).message);
      announce(`${panel.title} failed: ${(err as Error).message}`);
    } finally {
      setRunning(false);
    }
  };
  const inspect = async (): Promise<void> => {
    try {
      const r = await post<{ text: string; size: number }>('/api/inspect', { input });
      setInspected(`${r.size} bytes:\n${r.text.replace(/\r\n/g, '\\r\\n\n')}`);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const id = `try-${panel.action}`;
  return (
    <div class="panel" data-panel={panel.action}>
      <p class="intro">{panel.blurb}</p>
      {panel.presets.length ? (
        <div class="presets" role="group" aria-label="examples">
          <span class="dim">Examples:</span>
          {panel.presets.map((p) => (
            <button type="button" class="preset" key={p.label} onClick={() => {
              setInput(p.input as Value);
              setInspected(undefined);
              setYamlMode(false);
            }}>
              {p.label}
            </button>
          ))}
        </div>
      ) : null}
      <form
        class="try-form"
        aria-label={`${panel.title} request`}
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <div class="mode" role="group" aria-label="how to write the step">
          <label>
            <input type="checkbox" checked={yamlMode} onChange={(e) => {
              setYamlMode(e.currentTarget.checked);
              if (e.currentTarget.checked && !yamlText) setYamlText(tried?.yaml ?? `- name: ${name || `Try ${panel.action}`}\n  ${panel.action}: ${JSON.stringify(input)}\n`);
            }} /> write the step as YAML
          </label>
        </div>
        {yamlMode ? (
          <div class="field">
            <label for={`${id}-yaml`}>the step, as in a scenario file</label>
            <textarea id={`${id}-yaml`} rows={8} class="yaml" spellcheck={false} value={yamlText} onInput={(e) => setYamlText(e.currentTarget.value)} />
          </div>
        ) : (
          <>
            <div class="field">
              <label for={`${id}-name`}>step name</label>
              <input id={`${id}-name`} type="text" value={name} placeholder={`Try ${panel.action}`} onInput={(e) => setName(e.currentTarget.value)} />
            </div>
            <Fields id={id} schema={panel.schema as JsonSchema} value={input} set={setInput} first={panel.fields} hidden={panel.hidden} textareas={panel.textareas} />
          </>
        )}
        <div class="buttons">
          <button type="submit" class="primary" disabled={running}>
            {running ? 'Sending…' : 'Send'}
          </button>
          {panel.inspect && !yamlMode ? (
            <button type="button" onClick={() => void inspect()}>
              Inspect
            </button>
          ) : null}
        </div>
      </form>
      {inspected ? (
        <section class="inspect" aria-label="the bytes that will be sent">
          <h3>The bytes that will be sent</h3>
          <pre tabIndex={0}>{inspected}</pre>
        </section>
      ) : null}
      {error ? (
        <p class="problem" role="alert">
          {error}
        </p>
      ) : null}
      <section class="result" aria-live="off" aria-busy={running}>
        {running && live.length ? (
          <div class="live">
            <h3>On the wire, live</h3>
            <Ladder events={live} />
          </div>
        ) : null}
        {tried ? (
          <>
            <h3>Result</h3>
            <ol class="steps">
              <StepView step={tried.step} />
            </ol>
            <details class="output">
              <summary>The result's fields (what expect: and save: read)</summary>
              <pre tabIndex={0}>{JSON.stringify(tried.step.output, null, 2)}</pre>
            </details>
            <section class="as-yaml" aria-label="as a scenario step">
              <h3>As a scenario step</h3>
              <pre tabIndex={0} class="yaml" data-yaml>
                {tried.yaml}
              </pre>
              <button type="button" onClick={() => {
                void navigator.clipboard?.writeText(tried.yaml).then(() => announce('the step is copied'), () => announce('copy it from the box above'));
              }}>
                Copy the step
              </button>
            </section>
          </>
        ) : null}
      </section>
    </div>
  );
}

export function TryPage({ action, go }: { action?: string; go(path: string): void }) {
  const [panels, setPanels] = useState<Panel[]>();
  useEffect(() => void get<Panel[]>('/api/panels').then(setPanels), []);
  if (!panels) return <p class="loading">Loading the protocols…</p>;
  const current = panels.find((p) => p.action === action) ?? panels[0]!;
  return (
    <section aria-labelledby="try-h">
      <h2 id="try-h">Try it</h2>
      <nav class="subnav" aria-label="protocols">
        <ul>
          {panels.map((p) => (
            <li key={p.action}>
              <a href={`#/try/${p.action}`} aria-current={p.action === current.action ? 'page' : undefined} onClick={(e) => {
                e.preventDefault();
                go(`/try/${p.action}`);
              }}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <h3 class="panel-title">{current.title}</h3>
      <PanelForm key={current.action} panel={current} />
    </section>
  );
}
