import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { defaultLabDir, packageRoot } from '../../services/common/paths';
import { EmbeddedBackend } from '../backends/embedded';
import type { ScenarioResult } from '../result';
import { runScenario } from '../run';
import { giftExport } from './quiz/gift';
import { loadQuizzes, type Quiz } from './quiz/load';
import { quizJsonSchema } from './quiz/schema';

/**
 * `wirelab quiz check | export --gift | schema`: the quiz files an instructor writes,
 * checked, exported for Moodle, and their JSON Schema for editors. And how `wirelab up
 * --backend docker` learns the console's address: from the console container's log.
 */

/** The folders named, or the package's quizzes/ (as a relative path from here when it is below: messages stay short). */
const quizDirs = (paths: string[]): string[] => {
  if (paths.length) return paths;
  const dir = path.join(packageRoot(), 'quizzes');
  const relative = path.relative(process.cwd(), dir);
  return [relative && !relative.startsWith('..') ? relative : dir];
};

async function loadOrFail(paths: string[]): Promise<Quiz[]> {
  const { quizzes, errors } = await loadQuizzes(quizDirs(paths));
  if (errors.length) throw new Error(errors.map((e) => e.message).join('\n'));
  if (!quizzes.length) throw new Error(`no quiz files (*.yaml) in ${quizDirs(paths).join(', ')}`);
  return quizzes;
}

/**
 * The probes of these quizzes run on a fresh embedded lab (free ports, a throw-away
 * data folder): the answers a lab in its first state gives, for an export.
 */
export async function runProbesOnFreshLab(quizzes: Quiz[], labDir = defaultLabDir()): Promise<Map<string, ScenarioResult>> {
  const results = new Map<string, ScenarioResult>();
  const needed = quizzes.filter((q) => q.probeScenario && q.questions.some((question) => question.from));
  if (!needed.length) return results;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-quiz-'));
  const backend = new EmbeddedBackend({ labDir, dataDir, freePorts: true });
  try {
    await backend.start();
    for (const quiz of needed) results.set(quiz.id, await runScenario(quiz.probeScenario!, backend));
  } finally {
    await backend.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  return results;
}

export function registerQuizCommand(program: Command): void {
  const quiz = program.command('quiz').description('lessons and quizzes (quizzes/*.yaml): check them, export them to Moodle, their JSON Schema');
  quiz
    .command('check')
    .description('validate quiz files')
    .argument('[paths...]', 'quiz files or folders (default: quizzes/)')
    .action(async (paths: string[]) => {
      for (const q of await loadOrFail(paths)) {
        const fromLab = q.questions.filter((x) => x.from).length;
        console.log(`${q.file}: ok, ${q.questions.length} questions (${fromLab} answered by the lab), ${q.probeScenario?.steps.length ?? 0} probe steps`);
      }
    });
  quiz
    .command('export')
    .description("write the quizzes in Moodle's GIFT format; answers from the lab are those of a fresh lab")
    .argument('[paths...]', 'quiz files or folders (default: quizzes/)')
    .option('--gift', "Moodle's GIFT format (the only one so far)")
    .option('--out <file>', 'write it here instead of standard output')
    .option('--lab <dir>', 'the lab world the probes run in', defaultLabDir())
    .action(async (paths: string[], opts: { gift?: boolean; out?: string; lab: string }) => {
      if (!opts.gift) throw new Error('say which format: --gift (Moodle)');
      const quizzes = await loadOrFail(paths);
      const text = giftExport(quizzes, await runProbesOnFreshLab(quizzes, opts.lab));
      if (opts.out) {
        await writeFile(opts.out, text);
        process.stderr.write(`${quizzes.reduce((n, q) => n + q.questions.length, 0)} questions of ${quizzes.length} quizzes written to ${opts.out} (GIFT)\n`);
      } else process.stdout.write(text);
    });
  quiz
    .command('schema')
    .description('write the JSON Schema of quiz files (for editors)')
    .option('--out <file>', 'write it here instead of standard output')
    .action(async (opts: { out?: string }) => {
      const text = JSON.stringify(quizJsonSchema(), null, 2) + '\n';
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });
}

/** The address the console logged (`console: http://127.0.0.1:8000/?token=...`), the last one, waiting up to `deadlineMs` for it. */
export async function consoleUrlFromLogs(logs: (since?: Date) => Promise<string[]>, deadlineMs = 30_000): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    try {
      const found = (await logs()).map((l) => /console: (http:\/\/\S+\?token=\S+)/.exec(l)?.[1]).filter(Boolean);
      if (found.length) return found.at(-1)!;
      last = 'it has not logged its address yet';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`no "console: http://...?token=..." line in its log within ${deadlineMs / 1000} s: ${last}`);
    await delay(500);
  }
}
