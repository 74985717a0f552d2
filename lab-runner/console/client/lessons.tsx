import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Checked, QuizForPage } from '../quizBook';
import type { ScenarioResult, StepResult } from '../../result';
import type { WireEvent } from '../../wire';
import { get, newId, on, post } from './api';
import { announce } from './live';
import { Ladder, StepView } from './step';

/**
 * Lessons and Quizzes: each quiz file is a short lesson, perhaps a walk through a real
 * exchange in the student's own lab (its probe steps, run here), and questions whose
 * answers, where they can be, come from that run. An answer is checked by the console,
 * which then says whether it was right, the right answer, and why.
 */

/** A lesson's text: paragraphs, lists ("- "), `code` and **bold**; built as elements, never as markup. */
export function Prose({ text }: { text: string }) {
  const inline = (line: string): ComponentChildren[] =>
    line.split(/(`[^`]+`|\*\*[^*]+\*\*)/g).map((part, i) => (part.startsWith('`') && part.length > 1 ? <code key={i}>{part.slice(1, -1)}</code> : part.startsWith('**') ? <b key={i}>{part.slice(2, -2)}</b> : part));
  return (
    <div class="prose">
      {text
        .trim()
        .split(/\n\s*\n/)
        .map((block, i) => {
          const lines = block.split('\n');
          if (lines.every((l) => /^\s*- /.test(l))) return <ul key={i}>{lines.map((l, j) => <li key={j}>{inline(l.replace(/^\s*- /, ''))}</li>)}</ul>;
          return <p key={i}>{inline(lines.join(' '))}</p>;
        })}
    </div>
  );
}

const matches = (e: WireEvent, show: Record<string, unknown>): boolean => Object.entries(show).every(([k, v]) => String((e as unknown as Record<string, unknown>)[k]) === String(v));

/** "Run it in my lab": the quiz's probe steps, their results arriving one by one. */
function useProbe(quiz: QuizForPage) {
  const [steps, setSteps] = useState<StepResult[]>([]);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string>();
  const id = useRef<string | undefined>(undefined);
  useEffect(() => on('run', (d: { id: string; type: string; step: StepResult }) => {
    if (d.id === id.current && d.type === 'step') setSteps((s) => [...s, d.step]);
  }), []);
  const run = async (): Promise<void> => {
    id.current = newId();
    setSteps([]);
    setRunning(true);
    setError(undefined);
    try {
      const result = await post<ScenarioResult>(`/api/quizzes/${quiz.id}/probe`, { id: id.current });
      setSteps(result.steps);
      announce(`ran in your lab: ${result.steps.length} steps`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setRunning(false);
    }
  };
  return { steps, running, error, run };
}

function Question({ quiz, q, n }: { quiz: QuizForPage; q: QuizForPage['questions'][number]; n: number }) {
  const [answer, setAnswer] = useState('');
  const [checked, setChecked] = useState<Checked>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const id = `q-${quiz.id}-${q.id}`;
  const check = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const given = q.type === 'truefalse' ? answer === 'true' : answer;
      const result = await post<Checked>(`/api/quizzes/${quiz.id}/check`, { question: q.id, answer: given, id: newId() });
      setChecked(result);
      announce(result.correct ? 'Right.' : `Not quite. The answer is ${String(result.answer)}.`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const options = q.type === 'truefalse' ? ['true', 'false'] : q.options;
  return (
    <li class={`question${checked ? (checked.correct ? ' right' : ' wrong') : ''}`} data-question={q.id}>
      <form
        aria-labelledby={`${id}-text`}
        onSubmit={(e) => {
          e.preventDefault();
          void check();
        }}
      >
        <p class="qtext" id={`${id}-text`}>
          <span class="qn">{n}.</span> {q.text} {q.fromLab ? <span class="badge">from your lab</span> : null}
        </p>
        {options ? (
          <fieldset class="options">
            <legend class="sr-only">{q.text}</legend>
            {options.map((o, i) => (
              <label key={o} class="option">
                <input type="radio" name={id} value={o} id={`${id}-${i}`} checked={answer === o} onChange={() => setAnswer(o)} /> {o}
              </label>
            ))}
          </fieldset>
        ) : (
          <div class="field">
            <label for={`${id}-answer`}>your answer</label>
            <input id={`${id}-answer`} type="text" inputMode={q.type === 'number' ? 'numeric' : undefined} value={answer} spellcheck={false} onInput={(e) => setAnswer(e.currentTarget.value)} />
          </div>
        )}
        <button type="submit" disabled={busy || answer === ''}>
          {busy ? 'Checking…' : 'Check'}
        </button>
      </form>
      {error ? (
        <p class="problem" role="alert">
          {error}
        </p>
      ) : null}
      {checked ? (
        <div class="feedback" role="status">
          <p class="verdict">{checked.correct ? '✓ Right.' : `✗ Not quite. The answer is ${checked.answer === undefined ? '(not in your lab\'s run)' : String(checked.answer)}.`}</p>
          <p class="explain">{checked.explain}</p>
          {checked.fromStep ? <p class="dim">The answer is what your lab did, in the step "{checked.fromStep}".</p> : null}
        </div>
      ) : null}
    </li>
  );
}

export function QuizView({ quiz }: { quiz: QuizForPage }) {
  return (
    <section class="quiz" aria-labelledby={`quiz-${quiz.id}`}>
      <h3 id={`quiz-${quiz.id}`}>Quiz: {quiz.title}</h3>
      <ol class="questions">
        {quiz.questions.map((q, i) => (
          <Question key={q.id} quiz={quiz} q={q} n={i + 1} />
        ))}
      </ol>
    </section>
  );
}

/** The probe steps: a button to run them, and their results. */
function Probe({ quiz, probe }: { quiz: QuizForPage; probe: ReturnType<typeof useProbe> }) {
  if (!quiz.probe.length) return null;
  return (
    <section class="probe" aria-label="in your lab">
      <p>
        <button type="button" class="primary" disabled={probe.running} onClick={() => void probe.run()}>
          {probe.running ? 'Running…' : 'Run it in my lab'}
        </button>{' '}
        <span class="dim">{quiz.probe.map((s) => s.name).join(' · ')}</span>
      </p>
      {probe.error ? (
        <p class="problem" role="alert">
          {probe.error}
        </p>
      ) : null}
      {probe.steps.length && !quiz.walk ? (
        <ol class="steps">
          {probe.steps.map((s, i) => (
            <StepView key={i} step={s} />
          ))}
        </ol>
      ) : null}
    </section>
  );
}

/** A walk through a real exchange, stage by stage; each stage opens the messages that are its part. */
function Walk({ quiz, steps }: { quiz: QuizForPage; steps: StepResult[] }) {
  const [open, setOpen] = useState(0);
  const walk = quiz.walk ?? [];
  const stage = walk[open];
  const step = stage && steps.find((s) => s.name === stage.step);
  const picked = step && stage ? step.transcript.filter((e) => matches(e, stage.show)) : [];
  return (
    <section class="walk" aria-label="step by step">
      <ol class="stages">
        {walk.map((st, i) => (
          <li key={i}>
            <button type="button" class={i === open ? 'stage current' : 'stage'} aria-pressed={i === open} onClick={() => setOpen(i)}>
              <span class="n">{i + 1}</span> {st.title}
            </button>
          </li>
        ))}
      </ol>
      {stage ? (
        <div class="stage-body" data-stage={open + 1}>
          <h4>
            {open + 1}. {stage.title}
          </h4>
          <Prose text={stage.text} />
          {step ? (
            picked.length ? (
              <>
                <p class="dim">
                  What your lab did at this stage ({picked.length} of the {step.transcript.length} events of "{step.name}"):
                </p>
                <Ladder events={picked} />
              </>
            ) : (
              <p class="dim">Your run has no message for this stage.</p>
            )
          ) : (
            <p class="dim">Run it in your lab (above) to see your own exchange here.</p>
          )}
        </div>
      ) : null}
    </section>
  );
}

export function LessonPage({ quiz }: { quiz: QuizForPage }) {
  const probe = useProbe(quiz);
  return (
    <article class="lesson" aria-labelledby="lesson-h">
      <h2 id="lesson-h">{quiz.title}</h2>
      {quiz.lesson ? <Prose text={quiz.lesson} /> : null}
      <Probe quiz={quiz} probe={probe} />
      {quiz.walk ? <Walk quiz={quiz} steps={probe.steps} /> : null}
      <QuizView quiz={quiz} />
    </article>
  );
}

export function useQuizzes(): { quizzes?: QuizForPage[]; errors: string[] } {
  const [state, setState] = useState<{ quizzes?: QuizForPage[]; errors: string[] }>({ errors: [] });
  useEffect(() => void get<{ quizzes: QuizForPage[]; errors: string[] }>('/api/quizzes').then(setState), []);
  return state;
}

export function LessonsPage({ lesson, go }: { lesson?: string; go(path: string): void }) {
  const { quizzes, errors } = useQuizzes();
  if (!quizzes) return <p class="loading">Loading the lessons…</p>;
  const current = quizzes.find((q) => q.id === lesson);
  if (current) return <LessonPage key={current.id} quiz={current} />;
  return (
    <section aria-labelledby="lessons-h">
      <h2 id="lessons-h">Lessons</h2>
      {errors.map((e) => (
        <p class="problem" key={e}>
          {e}
        </p>
      ))}
      <ul class="lessons">
        {quizzes.map((q) => (
          <li key={q.id}>
            <a href={`#/lessons/${q.id}`} onClick={(e) => {
              e.preventDefault();
              go(`/lessons/${q.id}`);
            }}>
              {q.title}
            </a>
            <span class="dim"> {q.summary}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function QuizzesPage() {
  const { quizzes, errors } = useQuizzes();
  if (!quizzes) return <p class="loading">Loading the quizzes…</p>;
  return (
    <section aria-labelledby="quizzes-h">
      <h2 id="quizzes-h">Quizzes</h2>
      <p class="intro">Questions marked "from your lab" are answered by what your own lab does: the console runs the lesson's steps in it to check.</p>
      {errors.map((e) => (
        <p class="problem" key={e}>
          {e}
        </p>
      ))}
      {quizzes.map((q) => (
        <QuizView key={q.id} quiz={q} />
      ))}
    </section>
  );
}
