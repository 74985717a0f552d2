import type { ScenarioResult } from '../result';
import { explanation, isRight, rightAnswer } from './quiz/answer';
import { loadQuizzes, type Quiz } from './quiz/load';
import type { ScenarioRuns } from './runs';

/**
 * The Lessons and Quizzes pages: the quiz files of the lab's quizzes folder (read
 * afresh each time: an instructor may be editing them), their probes run in the
 * student's own lab, and answers checked here. The page never gets a right answer
 * before the student has answered: it gets the questions, and for each answer whether
 * it is right, the right one and why.
 */

/** A quiz as the page gets it: no right answers. */
export interface QuizForPage {
  id: string;
  title: string;
  summary: string;
  order: number;
  lesson?: string;
  walk?: Quiz['walk'];
  probe: { name: string; action: string }[];
  questions: { id: string; type: string; text: string; options?: string[]; fromLab: boolean }[];
}

export interface Checked {
  correct: boolean;
  /** The right answer: written in the quiz, or what the student's lab did. */
  answer?: string | number | boolean;
  explain: string;
  /** The answer came from the student's lab: the probe step it is in. */
  fromStep?: string;
}

export class QuizBook {
  /** The last run of each quiz's probe: the student's own lab, as it answered. */
  private readonly probes = new Map<string, ScenarioResult>();

  constructor(
    private readonly dir: string,
    private readonly runs: ScenarioRuns,
  ) {}

  async list(): Promise<{ quizzes: QuizForPage[]; errors: string[] }> {
    const { quizzes, errors } = await loadQuizzes([this.dir]).catch((err: Error) => ({ quizzes: [] as Quiz[], errors: [{ message: err.message }] }));
    return { quizzes: quizzes.map(forPage), errors: errors.map((e) => e.message) };
  }

  /** Run a quiz's probe steps in the lab now; their results arrive as `run` events under `id`. */
  async probe(quizId: unknown, id: string): Promise<ScenarioResult> {
    const quiz = await this.find(quizId);
    if (!quiz.probeScenario) throw new TypeError(`the quiz ${quiz.id} has no probe steps`);
    const result = await this.runs.runOne(id, quiz.probeScenario, quiz.id);
    this.probes.set(quiz.id, result);
    return result;
  }

  /** Check an answer; a question whose answer is in the lab runs the probe first if it has not run yet. */
  async check(quizId: unknown, questionId: unknown, given: unknown, id: string): Promise<Checked> {
    const quiz = await this.find(quizId);
    const question = quiz.questions.find((q) => q.id === questionId);
    if (!question) throw new TypeError(`the quiz ${quiz.id} has no question ${JSON.stringify(questionId)}`);
    let probe = this.probes.get(quiz.id);
    if (question.from && !probe) probe = await this.probe(quiz.id, id);
    const right = rightAnswer(question, probe);
    const explain = explanation(question, right);
    const feedback = question.type === 'choice' && typeof given === 'string' ? question.feedback?.[given] : undefined;
    return {
      correct: right !== undefined && isRight(question, right, given),
      answer: right,
      explain: feedback ? `${feedback} ${explain}` : explain,
      ...(question.from ? { fromStep: question.from.step } : {}),
    };
  }

  private async find(quizId: unknown): Promise<Quiz> {
    const { quizzes } = await loadQuizzes([this.dir]);
    const quiz = quizzes.find((q) => q.id === quizId);
    if (!quiz) throw new TypeError(`no quiz named ${JSON.stringify(quizId)} in the quizzes folder`);
    return quiz;
  }
}

function forPage(quiz: Quiz): QuizForPage {
  return {
    id: quiz.id,
    title: quiz.title,
    summary: quiz.summary,
    order: quiz.order,
    lesson: quiz.lesson,
    walk: quiz.walk,
    probe: (quiz.probeScenario?.steps ?? []).map((s) => ({ name: s.name, action: s.action })),
    questions: quiz.questions.map((q) => ({ id: q.id, type: q.type, text: q.text, options: q.options, fromLab: Boolean(q.from) })),
  };
}
