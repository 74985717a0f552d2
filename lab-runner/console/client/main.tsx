import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { LabView } from '../labView';
import { get, on } from './api';
import { LabPage } from './lab';
import { LessonsPage, QuizzesPage } from './lessons';
import { ScenariosPage } from './scenarios';
import { CaptureOn } from './step';
import { TryPage } from './tryit';

/**
 * The lab console's page: five pages behind a header (Lab, Try it, Scenarios, Lessons,
 * Quizzes), chosen by the address's #fragment so the browser's back button and links
 * work. Preact draws it; everything it shows comes from the console's own API.
 */

const PAGES = [
  ['lab', 'Lab'],
  ['try', 'Try it'],
  ['scenarios', 'Scenarios'],
  ['lessons', 'Lessons'],
  ['quizzes', 'Quizzes'],
] as const;

const route = (): string[] => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);

function App() {
  const [path, setPath] = useState(route());
  const [lab, setLab] = useState<LabView>();
  useEffect(() => {
    const onHash = (): void => setPath(route());
    addEventListener('hashchange', onHash);
    void get<LabView>('/api/lab').then(setLab);
    const off = on('lab', setLab);
    return () => {
      removeEventListener('hashchange', onHash);
      off();
    };
  }, []);
  const go = (to: string): void => {
    location.hash = `#${to}`;
  };
  const page = path[0] ?? 'lab';
  useEffect(() => {
    const title = PAGES.find(([k]) => k === page)?.[1] ?? 'Lab';
    document.title = `${title} · wirelab console`;
    // A new page: its heading gets the focus, so a screen reader (and the Tab key) starts there.
    const heading = document.querySelector<HTMLElement>('main h2');
    heading?.setAttribute('tabindex', '-1');
    heading?.focus();
  }, [page, path[1]]);
  const down = lab?.services.filter((s) => s.state !== 'running').length ?? 0;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to the page
      </a>
      <header class="top">
        <div class="brand">
          wirelab <span>console</span>
        </div>
        <nav aria-label="pages">
          <ul>
            {PAGES.map(([key, label]) => (
              <li key={key}>
                <a href={`#/${key}`} aria-current={page === key ? 'page' : undefined}>
                  {label}
                  {key === 'lab' && down ? <span class="count" aria-label={`${down} not running`}>{down}</span> : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p class="where">{lab ? `${lab.backend} lab${lab.capture ? ', capturing packets' : ''}` : ''}</p>
      </header>
      <CaptureOn.Provider value={lab?.capture ?? false}>
        <main id="main" tabIndex={-1}>
          {page === 'try' ? (
            <TryPage action={path[1]} go={go} />
          ) : page === 'scenarios' ? (
            <ScenariosPage />
          ) : page === 'lessons' ? (
            <LessonsPage lesson={path[1]} go={go} />
          ) : page === 'quizzes' ? (
            <QuizzesPage />
          ) : (
            <LabPage view={lab} onLoaded={() => performance.mark('console-interactive')} />
          )}
        </main>
      </CaptureOn.Provider>
      <div id="announce" class="sr-only" aria-live="polite" />
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading…" line the page shows until this script runs
render(<App />, root);
