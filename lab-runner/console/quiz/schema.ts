import { z } from 'zod';
import { stepSchema } from '../../scenario/schema';

/**
 * The quiz file format (quizzes/*.yaml): a short lesson, an optional walk through an
 * exchange, probe steps run in the student's own lab, and questions. One zod schema
 * validates a file when it loads (`wirelab quiz check`) and is written out as
 * quiz.schema.json for editors (`wirelab quiz schema`).
 *
 * A question's right answer is either written in the file (`answer:`) or taken from
 * the student's own lab (`from:`): a path into the result of one of the probe steps,
 * the same paths `expect:` and `save:` use in scenarios.
 */

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const QUESTION_TYPES = ['choice', 'short', 'number', 'truefalse'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

/** Where in the student's run the right answer is. */
export const answerFromSchema = z
  .object({
    step: z.string().min(1).describe('The name of the probe step whose result holds the answer.'),
    path: z
      .string()
      .optional()
      .describe('A path into that step\'s result, as in expect: and save: (status, message.received[0], transcript). Default: the whole result.'),
    where: z
      .record(z.string(), scalar)
      .optional()
      .describe('When the path leads to a list (transcript, answers): the first item whose fields have these values, e.g. { kind: connect }.'),
    field: z.string().optional().describe('Then this path inside that item, e.g. to.'),
    match: z
      .string()
      .optional()
      .describe('Then a regular expression applied to the value as text: its first group (or the whole match) is the answer, e.g. ":(\\d+)$".'),
  })
  .strict();
export type AnswerFrom = z.infer<typeof answerFromSchema>;

export const questionSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'an id: lower-case letters, digits and -').describe('Unique in its quiz; Moodle shows it as the question name.'),
    type: z.enum(QUESTION_TYPES).describe('choice (one right option), short (a word or two), number, truefalse.'),
    text: z.string().min(1).describe('The question, as the student reads it.'),
    options: z.array(z.string().min(1)).min(2).optional().describe('choice: the options, in the order shown.'),
    answer: scalar.optional().describe('The right answer, written here: an option of a choice, a text, a number, true or false.'),
    from: answerFromSchema.optional().describe('Or: the right answer is what the student\'s own lab did, in the result of a probe step.'),
    accept: z.array(z.union([z.string(), z.number()])).default([]).describe('short: other answers that are right too (compared without regard to case and spaces).'),
    tolerance: z.number().min(0).default(0).describe('number: how far from the answer is still right.'),
    explain: z.string().min(1).describe('Shown after an answer, right or wrong: why. ${answer} is replaced by the right answer.'),
    feedback: z.record(z.string(), z.string()).optional().describe('choice: a word for a student who picks a wrong option, by option.'),
  })
  .strict();
export type Question = z.infer<typeof questionSchema>;

/** One stage of a walk through a probe step's exchange: "the DNS query", "the TCP connection"... */
export const walkStageSchema = z
  .object({
    title: z.string().min(1),
    text: z.string().min(1).describe('What happens at this stage, for the student.'),
    step: z.string().min(1).describe('The probe step whose transcript this stage shows.'),
    show: z
      .record(z.string(), scalar)
      .default({})
      .describe('Which events of its transcript belong to this stage: fields and values, e.g. { protocol: dns } or { kind: connect }.'),
  })
  .strict();
export type WalkStage = z.infer<typeof walkStageSchema>;

export const quizFileSchema = z
  .object({
    title: z.string().min(1).describe('The lesson\'s title.'),
    summary: z.string().min(1).describe('One line: what the lesson is about, for the list of lessons.'),
    order: z.number().default(100).describe('Lessons are listed by this number, then by title.'),
    lesson: z.string().optional().describe('The lesson itself: paragraphs separated by a blank line; `code`, **bold**, and lines starting "- " for lists.'),
    walk: z.array(walkStageSchema).optional().describe('A walk through the exchange of a probe step, stage by stage, each one clickable to its real messages.'),
    probe: z
      .array(stepSchema)
      .optional()
      .describe('Scenario steps run in the student\'s own lab before the questions are checked (a step that stops a service should start it again).'),
    questions: z.array(questionSchema).min(1),
  })
  .strict();
export type QuizData = z.infer<typeof quizFileSchema>;

/** quiz.schema.json, for editors: `# yaml-language-server: $schema=../quiz.schema.json`. */
export function quizJsonSchema(): object {
  return z.toJSONSchema(quizFileSchema, { io: 'input', unrepresentable: 'any' });
}
