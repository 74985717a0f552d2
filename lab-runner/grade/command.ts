import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { colorsFor } from '../report/colors';
import { DEFAULT_JOBS, DEFAULT_OUT, DEFAULT_STARTUP_TIMEOUT_MS, DEFAULT_TIME_LIMIT_MS, gradeClass, GradeError } from './grade';

/**
 * `wirelab grade SUBMISSIONS_DIR`: grade every student's server in its own lab and
 * write the reports and the gradebook. Exit status: 0 when every submission was graded
 * (whatever it scored; one that did not start is graded 0), 2 on a usage error.
 */
export function registerGradeCommand(program: Command): void {
  program
    .command('grade')
    .description("grade a class: each folder of SUBMISSIONS_DIR is a student's server (its submission.yaml says where), graded in a lab of its own")
    .argument('<submissions-dir>', 'a folder with one folder per student: <student>/submission.yaml')
    .option('--out <dir>', 'where the reports (<student>/result.json, report.html) and gradebook.csv, gradebook.json go', DEFAULT_OUT)
    .option('--jobs <n>', 'how many submissions are graded at once', positiveInteger('--jobs'), DEFAULT_JOBS)
    .option('--startup-timeout <ms>', "how long a student's server may take to answer after it is started", positiveInteger('--startup-timeout'), DEFAULT_STARTUP_TIMEOUT_MS)
    .option(
      '--time-limit <ms>',
      "how long one submission's scenarios may run in all; then the step running is stopped and the rest are not run (the points earned count)",
      positiveInteger('--time-limit'),
      DEFAULT_TIME_LIMIT_MS,
    )
    .option('--roster <file>', "a CSV naming each folder's student in the learning platform: folder,id[,name,email,sis_user_id,sis_login_id,section]; adds them to the gradebook and writes canvas.csv")
    .option('--assignment <name>', 'canvas.csv: the assignment column, as Canvas exports it ("HTTP server (12345)"); default: the scenario\'s title')
    .option('--scenarios <dir>', 'where the scenario names in submission.yaml are looked up (default: wirelab\'s scenarios/)')
    .option('--lab <dir>', "the lab world each submission's lab serves (default: wirelab's lab/)")
    // A usage error exits with 2, as every wirelab command does (Commander's own is 1).
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (dir: string, opts: { out: string; jobs: number; startupTimeout: number; timeLimit: number; roster?: string; assignment?: string; scenarios?: string; lab?: string }) => {
      const c = colorsFor(process.stdout);
      // Ctrl+C: exit, so the programs started for grading are stopped (they listen to process 'exit').
      const interrupted = (): never => process.exit(130);
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      const started = Date.now();
      let width = 0;
      try {
        const book = await gradeClass(dir, {
          out: opts.out,
          jobs: opts.jobs,
          startupTimeoutMs: opts.startupTimeout,
          timeLimitMs: opts.timeLimit,
          roster: opts.roster,
          assignment: opts.assignment,
          scenariosDir: opts.scenarios,
          labDir: opts.lab,
          onStart(students) {
            width = Math.max(...students.map((s) => s.length));
            process.stdout.write(c.dim(`wirelab: grading ${students.length} submission(s) in ${dir}, ${Math.min(opts.jobs, students.length)} at a time\n`));
          },
          onGraded(entry, done, total) {
            // A score of 0 is a failure, however the server behaved: never "partly right".
            const mark = entry.outcome === 'failed' ? c.red('✗') : entry.outcome === 'full' ? c.green('✓') : c.yellow('~');
            const count = `[${done}/${total}]`.padStart(2 * String(total).length + 3);
            const score = `${entry.score}/${entry.max}`.padStart(7);
            const time = `${(entry.durationMs / 1000).toFixed(1)} s`.padStart(7);
            process.stdout.write(`  ${count} ${mark} ${entry.student.padEnd(width)} ${score} ${c.dim(time)}${entry.reason ? `  ${c.red(oneLine(entry.reason))}` : ''}\n`);
          },
        });
        const submitted = book.students.filter((s) => s.status !== 'missing');
        const count = (status: string): number => submitted.filter((s) => s.status === status).length;
        const graded = count('graded') + count('time-limit');
        const notGraded = submitted.length - graded;
        const failed = submitted.filter((s) => s.outcome === 'failed').length;
        const relative = path.relative(process.cwd(), book.out);
        const out = relative.startsWith('..') ? book.out : relative || '.';
        const missing = book.students.filter((s) => s.status === 'missing').map((s) => s.student);
        for (const s of missing) process.stdout.write(`  ${c.red('✗')} ${s.padEnd(width)} ${`0/${book.students.find((x) => x.student === s)!.max}`.padStart(7)}  ${c.red('no submission folder (the roster names it)')}\n`);
        process.stdout.write(
          `${submitted.length} submission(s): ${graded} graded${count('time-limit') ? ` (${count('time-limit')} stopped at the time limit)` : ''}` +
            `${notGraded ? `, ${notGraded} scored 0 without grading (see the reason)` : ''}; ${failed} failed (0 points), in ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
            (book.roster?.notInRoster.length ? c.yellow(`not in the roster (no id in the gradebook): ${book.roster.notInRoster.join(', ')}\n`) : '') +
            `gradebook: ${path.join(out, 'gradebook.csv')}, ${path.join(out, 'gradebook.json')}${book.roster ? `, ${path.join(out, 'canvas.csv')}` : ''}; reports: ${path.join(out, '<student>')}/\n`,
        );
        process.exitCode = 0;
      } catch (err) {
        if (!(err instanceof GradeError)) throw err;
        process.stderr.write(`wirelab: ${err.message}\n`);
        process.exitCode = 2;
      } finally {
        process.off('SIGINT', interrupted);
        process.off('SIGTERM', interrupted);
      }
    });
}

/** A reason in one line: its first, and its last when there are more (a traceback's last line says the most). */
function oneLine(reason: string): string {
  const lines = reason.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length > 1 ? `${lines[0]} … ${lines[lines.length - 1]}` : (lines[0] ?? '');
}

function positiveInteger(option: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${option} takes a whole number of at least 1`);
    return n;
  };
}
