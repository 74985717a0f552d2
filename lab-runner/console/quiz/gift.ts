import type { ScenarioResult } from '../../result';
import { explanation, rightAnswer } from './answer';
import type { Quiz } from './load';
import type { Question } from './schema';

/**
 * Quizzes in Moodle's GIFT format, for a course to import (Question bank > Import >
 * GIFT format). Each quiz is a category (`$CATEGORY:`), each question is named
 * `::quiz-id/question-id::`, its text is Markdown (`[markdown]`), and the explanation
 * is the general feedback (`####`), shown after an answer as in the console.
 *
 *   choice     {=right ~wrong#feedback ~wrong}
 *   short      {=answer =other answer}
 *   number     {#80:0}        (answer:tolerance)
 *   truefalse  {TRUE} / {FALSE}
 *
 * A right answer taken from the student's run (`from:`) is exported as the lab gave
 * it in `probes` (`wirelab quiz export` runs the probes on a fresh lab: the answers of
 * a lab in its first state).
 */

/** GIFT's special characters, escaped with a backslash wherever text goes: ~ = # { } : and \ itself. */
export function giftEscape(text: string): string {
  return text.replace(/[\\~=#{}:]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n');
}

/** One question in GIFT; throws when its right answer is not known. */
export function giftQuestion(quiz: Quiz, question: Question, probe?: ScenarioResult): string {
  const right = rightAnswer(question, probe);
  if (right === undefined) {
    throw new Error(`${quiz.file}: ${question.id}: the right answer comes from the probe step "${question.from?.step}", and the probe's run did not have it`);
  }
  const general = `####${giftEscape(explanation(question, right))}`;
  const head = `::${giftEscape(`${quiz.id}/${question.id}`)}::[markdown]${giftEscape(question.text.trim())}`;
  switch (question.type) {
    case 'choice': {
      const options = question.options ?? [];
      const all = options.includes(String(right)) ? options : [String(right), ...options];
      const lines = all.map((o) => {
        if (o === String(right)) return `\t=${giftEscape(o)}`;
        const feedback = question.feedback?.[o];
        return `\t~${giftEscape(o)}${feedback ? `#${giftEscape(feedback)}` : ''}`;
      });
      return `${head} {\n${lines.join('\n')}\n\t${general}\n}`;
    }
    case 'short':
      return `${head} {\n${[right, ...question.accept].map((a) => `\t=${giftEscape(String(a))}`).join('\n')}\n\t${general}\n}`;
    case 'number':
      return `${head} {#${Number(right)}${question.tolerance ? `:${question.tolerance}` : ''}\n\t${general}\n}`;
    case 'truefalse':
      return `${head} {${right === true ? 'TRUE' : 'FALSE'}${general}}`;
  }
}

/** Every quiz in one GIFT file: a category per quiz, a blank line between questions. */
export function giftExport(quizzes: Quiz[], probes: ReadonlyMap<string, ScenarioResult> = new Map()): string {
  const parts = ['// wirelab quizzes, in Moodle\'s GIFT format: Question bank > Import > GIFT format.', '// Answers taken from the lab are those of a lab in its first state.', ''];
  for (const quiz of quizzes) {
    parts.push(`$CATEGORY: $course$/wirelab/${quiz.title.replace(/[/\n]/g, ' ')}`, '');
    parts.push(`// ${quiz.file}: ${quiz.summary.replace(/\n/g, ' ')}`);
    for (const question of quiz.questions) parts.push(giftQuestion(quiz, question, probes.get(quiz.id)), '');
  }
  return parts.join('\n');
}
