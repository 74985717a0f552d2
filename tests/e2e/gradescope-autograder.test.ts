import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gradescopeSpec } from '../helpers/gradescope';
import { FIXTURES_DIR, REPO_DIR } from '../helpers/paths';
import { succeeds } from '../helpers/process';

/**
 * examples/gradescope/run_autograder as Gradescope runs it: in a folder laid out like
 * /autograder (source/ holds the example and wirelab, submission/ a student's files),
 * on the sample submissions in tests/fixtures/submissions, real Python servers graded
 * by scenarios/http-basics.yaml. results.json must follow Gradescope's specification.
 */

const EXAMPLE = path.join(REPO_DIR, 'examples/gradescope');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-gradescope-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** /autograder for one submission; resolves with results.json and what run_autograder printed. */
async function autograde(student: string): Promise<{ results: ReturnType<typeof gradescopeSpec.parse>; stdout: string }> {
  const root = path.join(tmp, student);
  await mkdir(path.join(root, 'source'), { recursive: true });
  for (const file of ['run_autograder', 'results.js', 'submission.yaml', 'setup.sh']) await cp(path.join(EXAMPLE, file), path.join(root, 'source', file));
  // What setup.sh makes on Gradescope: wirelab, built and installed, in source/wirelab.
  await symlink(REPO_DIR, path.join(root, 'source/wirelab'));
  // The student's upload: their server (without the submission.yaml the fixture has: the instructor's is used).
  await mkdir(path.join(root, 'submission'));
  await cp(path.join(FIXTURES_DIR, 'submissions', student, 'server.py'), path.join(root, 'submission/server.py'));
  // Gradescope copies run_autograder to /autograder and runs it there.
  await cp(path.join(EXAMPLE, 'run_autograder'), path.join(root, 'run_autograder'));
  const { stdout } = await succeeds(path.join(root, 'run_autograder'), [], { cwd: root, env: { ...process.env, AUTOGRADER: root, NO_COLOR: '1' }, ms: 120_000 });
  const results = gradescopeSpec.parse(JSON.parse(await readFile(path.join(root, 'results/results.json'), 'utf8')));
  return { results, stdout };
}

describe('examples/gradescope: run_autograder on a sample submission', () => {
  jest.setTimeout(150_000);

  test('a server that does everything right gets every point, a test per step', async () => {
    const { results, stdout } = await autograde('good');
    const tests = results.tests!;
    expect(tests.length).toBeGreaterThan(5);
    expect(tests.every((t) => t.status === 'passed')).toBe(true);
    expect(results.score).toBe(tests.reduce((s, t) => s + t.max_score!, 0));
    expect(tests[0]!.name).toMatch(/^An HTTP server from scratch › /);
    expect(stdout).toMatch(/results\.json: \d+ points/);
  });

  test('a partial server gets the points of the steps it passed, and the hints of the others', async () => {
    const { results } = await autograde('partial');
    const failed = results.tests!.filter((t) => t.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(results.score).toBe(results.tests!.reduce((s, t) => s + t.score!, 0));
    expect(results.score).toBeGreaterThan(0);
    expect(failed[0]!.output).toMatch(/expected .* got /);
  });

  test('a server that does not start gets 0 and the reason, which the student sees', async () => {
    const { results } = await autograde('broken');
    expect(results).toMatchObject({ score: 0, tests: [], visibility: 'visible' });
    expect(results.output).toMatch(/^Not graded: did not start: .*SyntaxError/s);
  });

  test('the autograder zip has the files Gradescope looks for at its root', async () => {
    const zip = path.join(tmp, 'autograder.zip');
    await succeeds(path.join(EXAMPLE, 'make-autograder.sh'), [zip], { cwd: tmp, ms: 120_000 });
    const { stdout } = await succeeds('python3', ['-m', 'zipfile', '-l', zip]);
    const names = stdout.split('\n').map((l) => l.split(/\s+/)[0]);
    for (const file of ['setup.sh', 'run_autograder', 'results.js', 'submission.yaml', 'wirelab/package.json', 'wirelab/dist/lab-runner/cli.js', 'wirelab/scenarios/http-basics.yaml']) {
      expect(names).toContain(file);
    }
    await succeeds('bash', ['-n', path.join(EXAMPLE, 'setup.sh')]);
  });
});
