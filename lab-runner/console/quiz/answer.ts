import type { ScenarioResult, StepResult } from '../../result';
import { getPath } from '../../scenario/path';
import type { AnswerFrom, Question } from './schema';

/**
 * The right answer to a question, and whether a student's answer is it. Pure
 * functions: the console checks answers with them, the GIFT export writes the right
 * answers with them, and a test reads them without a lab.
 */

/** What a step's result looks like to a path: the executor's output, and its transcript. */
export function stepView(step: StepResult): Record<string, unknown> {
  return { ...(step.output ?? {}), transcript: step.transcript };
}

/**
 * The value `from` points at in a run of the quiz's probe: the step's result, down the
 * path, the first list item that matches `where`, its `field`, and `match`'s first group.
 * Undefined when the run does not have it (the step failed, the field is absent).
 */
export function answerFromRun(from: AnswerFrom, probe: ScenarioResult): unknown {
  const step = probe.steps.find((s) => s.name === from.step);
  if (!step) return undefined;
  let value: unknown = from.path ? getPath(stepView(step), from.path) : stepView(step);
  if (from.where) {
    const wanted = Object.entries(from.where);
    value = Array.isArray(value) ? value.find((item) => wanted.every(([k, v]) => String(getPath(item, k)) === String(v))) : undefined;
  }
  if (from.field !== undefined) value = getPath(value, from.field);
  if (from.match !== undefined && value !== undefined) {
    const m = new RegExp(from.match).exec(typeof value === 'string' ? value : JSON.stringify(value));
    value = m ? (m[1] ?? m[0]) : undefined;
  }
  return value;
}

/** The right answer: written in the quiz, or found in the probe's run (undefined when the run lacks it). */
export function rightAnswer(question: Question, probe?: ScenarioResult): string | number | boolean | undefined {
  if (question.answer !== undefined) return question.answer;
  if (!question.from || !probe) return undefined;
  const value = answerFromRun(question.from, probe);
  if (value === undefined || value === null) return undefined;
  if (question.type === 'number') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  if (question.type === 'truefalse') return value === true || value === 'true';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Text compared as a person means it: case, spaces at the ends and runs of spaces do not matter. */
const normal = (text: unknown): string => String(text).trim().replace(/\s+/g, ' ').toLowerCase();

/** Whether `given` is the right answer to the question. */
export function isRight(question: Question, right: string | number | boolean, given: unknown): boolean {
  switch (question.type) {
    case 'number': {
      const n = typeof given === 'number' ? given : Number(String(given).trim());
      return String(given).trim() !== '' && Number.isFinite(n) && Math.abs(n - Number(right)) <= question.tolerance;
    }
    case 'truefalse':
      return (given === true || normal(given) === 'true') === (right === true);
    case 'choice':
      return normal(given) === normal(right);
    case 'short':
      return [right, ...question.accept].some((a) => normal(a) === normal(given));
  }
}

/** The explanation shown after an answer, with `${answer}` filled in. */
export function explanation(question: Question, right: string | number | boolean | undefined): string {
  return question.explain.replace(/\$\{answer\}/g, right === undefined ? '(your lab did not show it)' : String(right));
}
