import path from 'node:path';
import { LineCounter, isMap, isPair, isScalar, parseDocument } from 'yaml';
import { findScenarioFiles, parseScenario, positionOf, readSourceFile, ScenarioError, type Problem, type Scenario } from '../../scenario/load';
import { quizFileSchema, type QuizData } from './schema';

/**
 * Loading a quiz file: YAML with line numbers, the zod schema, then what no schema can
 * say (a `from:` that names no probe step, a choice whose answer is not an option, ids
 * used twice). The probe steps are loaded by the scenario loader itself, so they are
 * checked exactly as a scenario's steps are, at their own lines in the quiz file.
 * Every problem names the file, line and column, like a scenario's.
 */

export interface Quiz extends QuizData {
  /** The file's name without .yaml: how the console and the GIFT export name the quiz. */
  id: string;
  file: string;
  /** The probe steps as a scenario the runner can run (absent: the quiz has none). */
  probeScenario?: Scenario;
}

export async function loadQuizFile(file: string): Promise<Quiz> {
  return parseQuiz(await readSourceFile(file), file);
}

export function parseQuiz(text: string, file: string): Quiz {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const pos = lineCounter.linePos(doc.errors[0]!.pos[0]);
    throw new ScenarioError(file, [{ line: pos.line, column: pos.col, message: `YAML: ${doc.errors[0]!.message.split('\n')[0]}` }]);
  }
  const locate = (keys: (string | number)[], message: string): Problem => ({ ...positionOf(doc, lineCounter, keys), message });
  const parsed = quizFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    // The probe steps' own problems come from the scenario loader below, with better words.
    const issues = parsed.error.issues.filter((i) => i.path[0] !== 'probe');
    const problems = issues.map((i) => locate(i.path as (string | number)[], `${pathText(i.path as (string | number)[])}${i.message.replace(/^Invalid (input|option): /, '')}`));
    const probeProblems = probeIssues(text, file);
    if (problems.length || probeProblems.length) throw new ScenarioError(file, [...problems, ...probeProblems]);
  }
  const data = parsed.success ? parsed.data : quizFileSchema.parse(doc.toJS());
  const probeScenario = data.probe ? probeOf(text, file) : undefined;
  const problems: Problem[] = [];
  const stepNames = new Set((data.probe ?? []).map((s) => s.name));
  const ids = new Set<string>();
  data.questions.forEach((q, i) => {
    const at = (...keys: (string | number)[]): (string | number)[] => ['questions', i, ...keys];
    if (ids.has(q.id)) problems.push(locate(at('id'), `questions[${i}].id: "${q.id}" is used by another question of this quiz`));
    ids.add(q.id);
    if ((q.answer === undefined) === (q.from === undefined)) problems.push(locate(at(), `questions[${i}]: give the right answer (answer:) or where it is in the student's run (from:), one of them`));
    if (q.from && !stepNames.has(q.from.step)) problems.push(locate(at('from', 'step'), `questions[${i}].from.step: no probe step is named "${q.from.step}"${stepNames.size ? ` (the probe steps: ${[...stepNames].join(', ')})` : ' (the quiz has no probe:)'}`));
    if (q.from?.match !== undefined) {
      try {
        new RegExp(q.from.match);
      } catch (err) {
        problems.push(locate(at('from', 'match'), `questions[${i}].from.match: ${(err as Error).message}`));
      }
    }
    if (q.type === 'choice' && !q.options) problems.push(locate(at(), `questions[${i}]: a choice question needs options:`));
    if (q.type === 'choice' && q.answer !== undefined && !q.options?.includes(String(q.answer))) problems.push(locate(at('answer'), `questions[${i}].answer: "${String(q.answer)}" is not one of the options`));
    if (q.type === 'number' && q.answer !== undefined && typeof q.answer !== 'number') problems.push(locate(at('answer'), `questions[${i}].answer: a number question's answer is a number`));
    if (q.type === 'truefalse' && q.answer !== undefined && typeof q.answer !== 'boolean') problems.push(locate(at('answer'), `questions[${i}].answer: true or false`));
  });
  (data.walk ?? []).forEach((stage, i) => {
    if (!stepNames.has(stage.step)) problems.push(locate(['walk', i, 'step'], `walk[${i}].step: no probe step is named "${stage.step}"`));
  });
  if (problems.length) throw new ScenarioError(file, problems);
  return { ...data, id: path.basename(file).replace(/\.ya?ml$/, ''), file, probeScenario };
}

/** Every quiz in these files and folders; a file that does not load is a problem, the others load. */
export async function loadQuizzes(paths: string[]): Promise<{ quizzes: Quiz[]; errors: ScenarioError[] }> {
  const quizzes: Quiz[] = [];
  const errors: ScenarioError[] = [];
  for (const file of await findScenarioFiles(paths)) {
    try {
      quizzes.push(await loadQuizFile(file));
    } catch (err) {
      if (err instanceof ScenarioError) errors.push(err);
      else throw err;
    }
  }
  quizzes.sort((a, b) => a.order - b.order || a.title.localeCompare(b.title));
  return { quizzes, errors };
}

const pathText = (keys: (string | number)[]): string => {
  const text = keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '');
  return text ? `${text}: ` : '';
};

/**
 * The quiz file as a scenario of its title and probe steps, at the same lines and
 * columns: every other top-level key is blanked out, and `probe` (five letters) is
 * renamed `steps` (five letters). So the scenario loader checks the probe steps and
 * its messages point into the quiz file.
 */
function asScenarioText(text: string): string | undefined {
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) return undefined;
  const chars = text.split(''); // UTF-16 code units, as the YAML parser's ranges count
  let probe = false;
  for (const pair of doc.contents.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    const start = pair.key.range![0];
    const end = (pair.value as { range?: [number, number, number] } | null)?.range?.[2] ?? pair.key.range![2];
    if (key === 'probe') {
      probe = true;
      chars.splice(start, 5, ...'steps');
    } else if (key !== 'title') {
      for (let i = start; i < end; i++) if (chars[i] !== '\n') chars[i] = ' ';
    }
  }
  return probe ? chars.join('') : undefined;
}

function probeOf(text: string, file: string): Scenario | undefined {
  const scenarioText = asScenarioText(text);
  if (!scenarioText) return undefined;
  try {
    return parseScenario(scenarioText, file);
  } catch (err) {
    if (err instanceof ScenarioError) throw new ScenarioError(file, renamed(err.problems));
    throw err;
  }
}

function probeIssues(text: string, file: string): Problem[] {
  try {
    probeOf(text, file);
    return [];
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
}

/** The scenario loader's words for the probe steps: `steps[0]` is `probe[0]` in a quiz file. */
function renamed(problems: Problem[]): Problem[] {
  return problems.map((p) => ({ ...p, message: p.message.replace(/\bsteps(?=[[.:])/g, 'probe') }));
}
