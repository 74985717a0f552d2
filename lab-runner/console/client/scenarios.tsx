import { useEffect, useState } from 'preact/hooks';
import type { ScenarioInfo } from '../runs';
import type { StepResult } from '../../result';
import { get, newId, on, post } from './api';
import { announce } from './live';
import { StepView } from './step';

/**
 * The Scenarios page: every scenario of the lab's folder, run one or all; each step's
 * result appears as the runner finishes it (the same content as the HTML report), and
 * the finished run's HTML, JUnit and JSON reports can be downloaded. A scenario that
 * checks packets, on a lab without capture, says why it is not run.
 */

interface RunState {
  id: string;
  steps: Record<string, { step: StepResult; endedAt: number }[]>;
  ended?: { points: number; maxPoints: number; passed: boolean };
  failed?: string;
}

export function ScenariosPage() {
  const [list, setList] = useState<{ scenarios: ScenarioInfo[]; errors: string[] }>();
  const [run, setRun] = useState<RunState>();
  const [error, setError] = useState<string>();
  useEffect(() => void get<{ scenarios: ScenarioInfo[]; errors: string[] }>('/api/scenarios').then(setList), []);
  useEffect(
    () =>
      on('run', (d: { id: string; type: string; file: string; step: StepResult; endedAt: number; points: number; maxPoints: number; passed: boolean; error: string }) => {
        setRun((r) => {
          if (!r || r.id !== d.id) return r;
          if (d.type === 'step') return { ...r, steps: { ...r.steps, [d.file]: [...(r.steps[d.file] ?? []), { step: d.step, endedAt: d.endedAt }] } };
          if (d.type === 'end') {
            announce(`run finished: ${d.points} of ${d.maxPoints} points`);
            return { ...r, ended: { points: d.points, maxPoints: d.maxPoints, passed: d.passed } };
          }
          if (d.type === 'failed') return { ...r, failed: d.error };
          return r;
        });
      }),
    [],
  );
  const start = async (files?: string[]): Promise<void> => {
    const id = newId();
    setRun({ id, steps: {} });
    setError(undefined);
    try {
      await post('/api/runs', { id, files });
      announce(files ? `running ${files.join(', ')}` : 'running every scenario');
    } catch (err) {
      setRun(undefined);
      setError((err as Error).message);
    }
  };
  if (!list) return <p class="loading">Loading the scenarios…</p>;
  const running = Boolean(run && !run.ended && !run.failed);
  const shown = list.scenarios.filter((s) => !run || Object.keys(run.steps).length === 0 || run.steps[s.file] || !run.ended);
  return (
    <section aria-labelledby="sc-h">
      <h2 id="sc-h">Scenarios</h2>
      <p class="intro">
        The scenarios in your lab's folder. Run one, or all: each step's result shows as soon as it is done, with its ladder diagram.
      </p>
      <div class="buttons">
        <button type="button" class="primary" disabled={running} onClick={() => void start()}>
          Run all ({list.scenarios.filter((s) => !s.skipped).length})
        </button>
        {run?.ended ? (
          <span class="downloads">
            <b class={run.ended.passed ? 'pass' : 'fail'} data-total>
              {run.ended.points}/{run.ended.maxPoints} points
            </b>{' '}
            Reports: <a href={`/api/runs/${run.id}/report.html`} download="report.html">HTML</a> · <a href={`/api/runs/${run.id}/report.xml`} download="junit.xml">JUnit</a> · <a href={`/api/runs/${run.id}/report.json`} download="result.json">JSON</a>
          </span>
        ) : null}
      </div>
      {error || run?.failed ? (
        <p class="problem" role="alert">
          {error ?? run?.failed}
        </p>
      ) : null}
      {list.errors.map((e) => (
        <p class="problem" key={e}>
          {e}
        </p>
      ))}
      <ul class="scenarios">
        {shown.map((s) => {
          const steps = run?.steps[s.file] ?? [];
          const points = steps.reduce((n, x) => n + x.step.points, 0);
          const done = steps.length === s.steps.length;
          const status = !steps.length ? '' : steps.every((x) => x.step.status === 'passed') ? (done ? 'passed' : 'running') : 'failed';
          return (
            <li key={s.file} class={`scenario sc-${status || 'idle'}`} data-file={s.file}>
              <div class="sc-head">
                <h3>{s.title}</h3>
                <span class="file">{s.file}</span>
                <span class="pts">{steps.length ? `${points}/${s.maxPoints}` : `${s.maxPoints} points`}</span>
                <button type="button" disabled={running || Boolean(s.skipped)} aria-label={`run ${s.title}`} onClick={() => void start([s.file])}>
                  Run
                </button>
              </div>
              {s.description ? <p class="desc">{s.description.trim()}</p> : null}
              {s.skipped ? <p class="skipped">Not run on this lab: {s.skipped}.</p> : null}
              {steps.length ? (
                <ol class="steps" aria-label={`steps of ${s.title}`}>
                  {steps.map((x, i) => (
                    <StepView key={i} step={x.step} endedAt={x.endedAt} />
                  ))}
                  {running && steps.length < s.steps.length ? <li class="step pending">{s.steps[steps.length]?.name}…</li> : null}
                </ol>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
