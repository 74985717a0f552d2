import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_DIR } from '../../helpers/paths';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { answerFromRun, isRight, rightAnswer } from '../../../lab-runner/console/quiz/answer';
import { giftEscape, giftExport, giftQuestion } from '../../../lab-runner/console/quiz/gift';
import { loadQuizzes, parseQuiz } from '../../../lab-runner/console/quiz/load';
import { questionSchema, quizJsonSchema } from '../../../lab-runner/console/quiz/schema';
import type { ScenarioResult, StepResult } from '../../../lab-runner/result';
import { wirelab } from '../../helpers/process';

/**
 * Quiz files: the loader's messages (file, line, what is wrong), the right answer taken
 * from a run, how an answer is judged, Moodle's GIFT, the JSON Schema, and every
 * shipped quiz (its probes run on a fresh lab by `wirelab quiz export`).
 */

const QUIZZES = path.join(REPO_DIR, 'quizzes');

const problemsOf = (text: string): string[] => {
  try {
    parseQuiz(text, 'q.yaml');
    return [];
  } catch (err) {
    return (err as Error).message.split('\n');
  }
};

const base = `title: T
summary: S
probe:
  - name: Fetch
    http: { url: "http://www.lab.test/" }
questions:
`;

describe('loading', () => {
  test('a good file loads, with its probe as a scenario', () => {
    const quiz = parseQuiz(`${base}  - { id: a, type: number, text: Which status?, from: { step: Fetch, path: status }, explain: "\${answer}" }\n`, 'quizzes/x.yaml');
    expect(quiz.id).toBe('x');
    expect(quiz.probeScenario?.steps.map((s) => [s.name, s.action, s.line])).toEqual([['Fetch', 'http', 4]]);
  });

  test('each mistake is named with its line: a from that names no probe step, an answer that is not an option, a repeated id', () => {
    const text = `${base}  - { id: a, type: number, text: Q, from: { step: Fecth, path: status }, explain: E }
  - { id: a, type: choice, text: Q, options: [x, y], answer: z, explain: E }
  - { id: c, type: truefalse, text: Q, explain: E }
`;
    expect(problemsOf(text)).toEqual([
      'q.yaml:7:51: questions[0].from.step: no probe step is named "Fecth" (the probe steps: Fetch)',
      'q.yaml:8:11: questions[1].id: "a" is used by another question of this quiz',
      'q.yaml:8:62: questions[1].answer: "z" is not one of the options',
      "q.yaml:9:5: questions[2]: give the right answer (answer:) or where it is in the student's run (from:), one of them",
    ]);
  });

  test("a probe step is checked as a scenario's step, at its line in the quiz file", () => {
    const text = `title: T
summary: S
probe:
  - name: Ask
    dns: { query: www.lab.test, type: AAA }
questions:
  - { id: a, type: short, text: Q, answer: x, explain: E }
`;
    expect(problemsOf(text)).toEqual([expect.stringMatching(/^q\.yaml:5:\d+: probe\[0\]\.dns\.type: expected one of .*got "AAA"$/)]);
  });

  test('a question without explain, and an unknown key, are refused by the schema', () => {
    expect(problemsOf(`title: T\nsummary: S\nquestions:\n  - { id: a, type: short, text: Q, answer: x }\nextra: 1\n`)).toEqual([
      'q.yaml:4:5: questions[0].explain: expected string, received undefined',
      'q.yaml:1:1: Unrecognized key: "extra"',
    ]);
  });
});

describe('answers', () => {
  const step = (over: Partial<StepResult>): StepResult => ({ name: 'Fetch', action: 'http', summary: '', file: '', line: 1, status: 'passed', points: 0, maxPoints: 0, durationMs: 1, attempts: 1, checks: [], saved: {}, transcript: [], ...over });
  const run: ScenarioResult = {
    file: 'x',
    title: 'x',
    tags: [],
    status: 'passed',
    points: 0,
    maxPoints: 0,
    durationMs: 1,
    steps: [
      step({
        output: { status: 502, headers: { 'x-proxy-error': 'ECONNREFUSED' } },
        transcript: [
          { at: 1, kind: 'send', from: 'client', to: 'ns.lab.test:53', protocol: 'dns', summary: 'A? www.lab.test' },
          { at: 2, kind: 'connect', from: 'client', to: 'www.lab.test:80', protocol: 'http', summary: 'connect' },
        ],
      }),
    ],
  };
  const q = (over: object) => questionSchema.parse({ id: 'q', type: 'short', text: 'Q', explain: 'E', ...over });

  test('from: a path, the first list item that matches, a field, a regular expression', () => {
    expect(answerFromRun({ step: 'Fetch', path: 'status' }, run)).toBe(502);
    expect(answerFromRun({ step: 'Fetch', path: 'headers.X-Proxy-Error' }, run)).toBe('ECONNREFUSED');
    expect(answerFromRun({ step: 'Fetch', path: 'transcript', where: { kind: 'connect' }, field: 'to', match: ':(\\d+)$' }, run)).toBe('80');
    expect(rightAnswer(q({ type: 'number', from: { step: 'Fetch', path: 'transcript', where: { kind: 'connect' }, field: 'to', match: ':(\\d+)$' } }), run)).toBe(80);
    expect(answerFromRun({ step: 'Fetch', path: 'nothing' }, run)).toBeUndefined();
    expect(answerFromRun({ step: 'Other' }, run)).toBeUndefined();
  });

  test('numbers within the tolerance, text without regard to case and spaces, other accepted answers', () => {
    expect(isRight(q({ type: 'number' }), 80, ' 80 ')).toBe(true);
    expect(isRight(q({ type: 'number' }), 80, '8080')).toBe(false);
    expect(isRight(q({ type: 'number' }), 80, '')).toBe(false);
    expect(isRight(q({ type: 'number', tolerance: 5 }), 80, 84)).toBe(true);
    expect(isRight(q({ accept: ['connection refused'] }), 'ECONNREFUSED', 'econnrefused')).toBe(true);
    expect(isRight(q({ accept: ['connection refused'] }), 'ECONNREFUSED', 'Connection   Refused')).toBe(true);
    expect(isRight(q({}), 'ECONNREFUSED', 'refused')).toBe(false);
    expect(isRight(q({ type: 'truefalse' }), false, false)).toBe(true);
    expect(isRight(q({ type: 'truefalse' }), false, 'true')).toBe(false);
  });
});

describe("Moodle's GIFT", () => {
  const quiz = parseQuiz(`${base}  - { id: st, type: number, text: "Status: which?", from: { step: Fetch, path: status }, explain: "It was \${answer} {really}" }
  - { id: ch, type: choice, text: Pick, options: [a=b, c], answer: c, feedback: { "a=b": "no ~ no" }, explain: E }
  - { id: tf, type: truefalse, text: Yes?, answer: false, explain: E }
  - { id: sh, type: short, text: Word?, answer: "+OK", accept: [ok], explain: E }
`, 'quizzes/t.yaml');
  const run = { steps: [{ name: 'Fetch', output: { status: 200 }, transcript: [] }] } as unknown as ScenarioResult;

  test('special characters are escaped', () => {
    expect(giftEscape('a~b=c#d{e}f:g\\h\nnext')).toBe('a\\~b\\=c\\#d\\{e\\}f\\:g\\\\h\\nnext');
  });

  test('each type in its GIFT form, with the explanation as general feedback', () => {
    expect(giftQuestion(quiz, quiz.questions[0]!, run)).toBe('::t/st::[markdown]Status\\: which? {#200\n\t####It was 200 \\{really\\}\n}');
    expect(giftQuestion(quiz, quiz.questions[1]!, run)).toBe('::t/ch::[markdown]Pick {\n\t~a\\=b#no \\~ no\n\t=c\n\t####E\n}');
    expect(giftQuestion(quiz, quiz.questions[2]!, run)).toBe('::t/tf::[markdown]Yes? {FALSE####E}');
    expect(giftQuestion(quiz, quiz.questions[3]!, run)).toBe('::t/sh::[markdown]Word? {\n\t=+OK\n\t=ok\n\t####E\n}');
  });

  test('a right answer the run does not have is an error that names the question', () => {
    expect(() => giftQuestion(quiz, quiz.questions[0]!, undefined)).toThrow('quizzes/t.yaml: st: the right answer comes from the probe step "Fetch", and the probe\'s run did not have it');
  });

  test('a category per quiz', () => {
    expect(giftExport([quiz], new Map([['t', run]]))).toContain('$CATEGORY: $course$/wirelab/T\n');
  });
});

describe('the shipped quizzes', () => {
  const files = readdirSync(QUIZZES).filter((f) => f.endsWith('.yaml')).sort();

  test('load, each with a lesson and questions; there are lessons on every topic the console teaches', async () => {
    const { quizzes, errors } = await loadQuizzes([QUIZZES]);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(quizzes.map((q) => q.id)).toEqual(['hit-enter', 'status-codes', 'proxy-502', 'tokens', 'mail', 'ftp-vs-sftp', 'tls']);
    for (const q of quizzes) expect(q.lesson).toBeTruthy();
  });

  test('quiz.schema.json is the schema the loader uses (regenerate with `npm run schema`), and every shipped quiz is valid against it', () => {
    const committed = JSON.parse(readFileSync(path.join(REPO_DIR, 'quiz.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(quizJsonSchema())));
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(committed);
    for (const file of files) {
      validate(parse(readFileSync(path.join(QUIZZES, file), 'utf8')));
      expect([file, validate.errors ?? []]).toEqual([file, []]);
    }
  });

  test('`wirelab quiz check` and `wirelab quiz export --gift`: the probes run on a fresh lab and give every answer', async () => {
    const check = await wirelab(['quiz', 'check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('quizzes/proxy-502.yaml: ok, 3 questions (2 answered by the lab), 3 probe steps');
    const gift = await wirelab(['quiz', 'export', '--gift']);
    expect(gift.stderr).toBe('');
    expect(gift.code).toBe(0);
    expect(gift.stdout).toContain('::proxy-502/answer::[markdown]What did the proxy answer when app was stopped? {#502\n');
    expect(gift.stdout).toContain('::mail/received::[markdown]Which server added the top Received header of the mail bob read? {\n\t=mail.lab.test\n');
    expect(gift.stdout).toContain('::hit-enter/port::[markdown]Which port did your browser connect to on www.lab.test? {#80\n');
    expect(gift.stdout.match(/^::/gm)).toHaveLength(25);
    expect((await wirelab(['quiz', 'export'])).stderr).toContain('say which format: --gift');
  }, 60000);
});
