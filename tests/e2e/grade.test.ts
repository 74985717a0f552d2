import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { gradeClass, type Gradebook, type GradebookEntry } from '../../lab-runner/grade';
import { waitUntilUp } from '../../lab-runner/grade/target';
import type { RunResult } from '../../lab-runner/result';
import { loadScenarioFile } from '../../lab-runner/scenario/load';
import { renderReport } from '../../lab-runner/report';
import { FIXTURES_DIR, SCENARIOS_DIR } from '../helpers/paths';
import { freePort } from '../helpers/ports';
import { Child, wirelab } from '../helpers/process';

/**
 * `wirelab grade` over sample submissions (tests/fixtures/submissions): a careful HTTP
 * server on raw sockets (good), a typical first attempt (partial), one that does not
 * start (broken), and one that accepts connections and never answers (hangs), each a
 * Python program the grader starts on a free port. Then the other kinds of target (a
 * running server, a Docker image), submissions that are wrong in other ways, and a
 * roster that puts the learning platform's ids in the gradebook.
 */

const FIXTURES = path.join(FIXTURES_DIR, 'submissions');
/**
 * The samples' time limit: 13 times what good and partial take here (about 0.3 s), far
 * below the 35 s hangs would take waiting out each step's timeout. The reports say it
 * ran out ("time limit 4 s reached"): no test times the grader.
 */
const TIME_LIMIT_MS = 4000;

const dockerImage = 'wirelab/lab:latest';
const hasDockerLab = ((): boolean => {
  try {
    execFileSync('docker', ['image', 'inspect', dockerImage], { stdio: 'ignore', timeout: 10000 });
    return true;
  } catch {
    return false;
  }
})();

let tmp: string;
let httpBasicsMax: number;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-grade-test-'));
  httpBasicsMax = (await loadScenarioFile(path.join(SCENARIOS_DIR, 'http-basics.yaml'))).maxPoints;
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const entryOf = (book: Gradebook, student: string): GradebookEntry => book.students.find((s) => s.student === student)!;

describe('gradeClass over the four sample submissions', () => {
  let out: string;
  let book: Gradebook;
  const progress: [string, number, number][] = [];
  beforeAll(async () => {
    out = path.join(tmp, 'fixtures-out');
    book = await gradeClass(FIXTURES, { out, timeLimitMs: TIME_LIMIT_MS, onGraded: (entry, done, total) => progress.push([entry.student, done, total]) });
  });

  test('every submission is in the gradebook, by name', () => {
    expect(book.students.map((s) => s.student)).toEqual(['broken', 'good', 'hangs', 'partial']);
    expect(book.columns).toEqual([{ file: 'http-basics.yaml', title: 'An HTTP server from scratch', maxPoints: httpBasicsMax, label: 'An HTTP server from scratch' }]);
    for (const s of book.students) expect(s.max).toBe(httpBasicsMax);
  });

  test('good gets full marks', () => {
    expect(entryOf(book, 'good')).toMatchObject({ status: 'graded', outcome: 'full', score: httpBasicsMax, max: httpBasicsMax });
    expect(entryOf(book, 'good').reason).toBeUndefined();
  });

  test('partial gets some points, and loses exactly the steps its bugs fail', async () => {
    const partial = entryOf(book, 'partial');
    expect(partial).toMatchObject({ status: 'graded', outcome: 'partial' });
    expect(partial.score).toBeGreaterThan(0);
    expect(partial.score).toBeLessThan(partial.max);
    const result = JSON.parse(await readFile(path.join(out, 'partial/result.json'), 'utf8')) as RunResult;
    const failed = result.scenarios[0]!.steps.filter((s) => s.status !== 'passed');
    expect(failed.map((s) => s.name)).toEqual([
      'A request line that is not HTTP gets 400 Bad Request', // it answers 404: "HELLO THERE" has no third part, and it never checks
      'Content-Length is the length of the body in bytes', // len() of the text: the page has é, ï, “ ”
      'HEAD gets the headers of GET and no body', // it sends the page anyway
      'The second request goes over the same connection', // the 6 bytes Content-Length left out come before the next status line
      'A request that arrives in several pieces is read to its end', // one recv() taken for a whole request: two answers
    ]);
    // The first of the keep-alive pair passes: it keeps the connection open, it just cannot frame its responses.
    expect(result.scenarios[0]!.steps.find((s) => s.name === 'The first request of two leaves the connection open')?.status).toBe('passed');
    expect(partial.score).toBe(5);
    // Each failure carries what was expected and the hint that teaches it.
    const split = failed.find((s) => s.name.startsWith('A request that arrives'))!;
    expect(split.hint).toMatch(/answered before the empty line that ends the headers/);
    expect(failed.find((s) => s.name.startsWith('Content-Length'))!.hint).toMatch(/must count bytes, not characters/);
    expect(failed.find((s) => s.name.startsWith('HEAD'))!.hint).toMatch(/no body/);
  });

  test('broken gets 0 with the reason: the command exited, and what Python said', async () => {
    const broken = entryOf(book, 'broken');
    expect(broken).toMatchObject({ status: 'not-started', outcome: 'failed', score: 0, max: httpBasicsMax });
    expect(broken.reason).toMatch(/^did not start: python3 server\.py \d+ exited with code 1 before it listened on 127\.0\.0\.1:\d+; its last output:\n/);
    expect(broken.reason).toMatch(/SyntaxError/);
    expect(await readFile(path.join(out, 'broken/reason.txt'), 'utf8')).toBe(broken.reason + '\n');
    // Its report shows every step at 0, with the reason in place of a result.
    const result = JSON.parse(await readFile(path.join(out, 'broken/result.json'), 'utf8')) as RunResult;
    expect(result).toMatchObject({ points: 0, maxPoints: httpBasicsMax, passed: false });
    expect(result.scenarios[0]!.steps.every((s) => s.status === 'error' && s.points === 0 && s.error === broken.reason)).toBe(true);
  });

  test('hangs (accepts, never answers) is stopped at its time limit and fails with 0: every report says why', async () => {
    const hangs = entryOf(book, 'hangs');
    expect(hangs).toMatchObject({ status: 'time-limit', outcome: 'failed', score: 0, max: httpBasicsMax });
    expect(hangs.reason).toMatch(/^time limit 4 s reached during "GET \/ answers 200 with a page" \(.*http-basics\.yaml:11\)$/);
    const result = JSON.parse(await readFile(path.join(out, 'hangs/result.json'), 'utf8')) as RunResult;
    expect(result.stopped).toBe(hangs.reason);
    const [first, ...rest] = result.scenarios[0]!.steps;
    expect(first).toMatchObject({ status: 'error', stopped: 'during', error: 'stopped: time limit 4 s reached' });
    // It was stopped at the limit, not at the step's own 5 s timeout: the rest never ran.
    expect(first!.durationMs).toBeLessThan(5000);
    expect(rest.map((s) => [s.status, s.stopped, s.error, s.attempts])).toEqual(rest.map(() => ['error', 'before', 'not run: time limit 4 s reached', 0]));
    // JUnit: every step an <error>, and the suite says why the run stopped; Gradescope: every test failed, and the overview says it.
    const junit = renderReport('junit', result);
    expect(junit).toMatch(new RegExp(`<testsuites[^>]* tests="${result.scenarios[0]!.steps.length}" failures="0" errors="${result.scenarios[0]!.steps.length}"`));
    expect(junit).toContain(`<property name="stopped" value="time limit 4 s reached during &quot;GET / answers 200 with a page&quot;`);
    const gradescope = JSON.parse(renderReport('gradescope', result)) as { score: number; output: string; tests: { status: string; score: number }[] };
    expect(gradescope.score).toBe(0);
    expect(gradescope.tests.every((t) => t.status === 'failed' && t.score === 0)).toBe(true);
    expect(gradescope.output).toMatch(/^target: www\.lab\.test:80 \(http\) was the server at 127\.0\.0\.1:\d+\nstopped: time limit 4 s reached during /);
    expect(await readFile(path.join(out, 'hangs/reason.txt'), 'utf8')).toBe(hangs.reason + '\n');
    expect(await readFile(path.join(out, 'hangs/report.html'), 'utf8')).toContain('<li class="stopped">stopped: time limit 4 s reached during &quot;GET / answers 200 with a page&quot;');
    // Its program was stopped with it: the log has its one line.
    expect(await readFile(path.join(out, 'hangs/server.log'), 'utf8')).toMatch(/^listening on 127\.0\.0\.1:\d+\n$/);
  });

  test('each student gets result.json (a RunResult), report.html and the server log', async () => {
    for (const student of ['good', 'partial', 'broken', 'hangs']) {
      const result = JSON.parse(await readFile(path.join(out, student, 'result.json'), 'utf8')) as RunResult;
      expect(result.points).toBe(entryOf(book, student).score);
      expect(result.scenarios.map((s) => s.title)).toEqual(['An HTTP server from scratch']);
      expect(existsSync(path.join(out, student, 'report.html'))).toBe(true);
      expect(entryOf(book, student).files).toContain(path.join(student, 'result.json'));
    }
    expect(await readFile(path.join(out, 'good/server.log'), 'utf8')).toMatch(/^listening on 127\.0\.0\.1:\d+/);
    expect(await readFile(path.join(out, 'broken/server.log'), 'utf8')).toMatch(/SyntaxError/);
    expect(await readFile(path.join(out, 'good/report.html'), 'utf8')).toMatch(/An HTTP server from scratch/);
  });

  test('gradebook.csv parses back: student, score, max, a column per scenario, the reason', async () => {
    const text = await readFile(path.join(out, 'gradebook.csv'), 'utf8');
    expect(text).toMatch(/^student,score,max,outcome,An HTTP server from scratch,reason\r\n/); // RFC 4180: CRLF
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const max = String(httpBasicsMax);
    expect(rows).toEqual([
      { student: 'broken', score: '0', max, outcome: 'failed', 'An HTTP server from scratch': '0', reason: expect.stringMatching(/^did not start: .* \| .*SyntaxError/) },
      { student: 'good', score: max, max, outcome: 'full', 'An HTTP server from scratch': max, reason: '' },
      { student: 'hangs', score: '0', max, outcome: 'failed', 'An HTTP server from scratch': '0', reason: expect.stringMatching(/^time limit 4 s reached during /) },
      { student: 'partial', score: '5', max, outcome: 'partial', 'An HTTP server from scratch': '5', reason: '' },
    ]);
    // The reason quotes Python's line, `server.bind(("127.0.0.1", port)`: quotes doubled inside a quoted field.
    expect(text).toMatch(/"did not start: [^\r\n]*""127\.0\.0\.1""[^\r\n]*"\r\n/);
  });

  test('gradebook.json has the same scores', async () => {
    const json = JSON.parse(await readFile(path.join(out, 'gradebook.json'), 'utf8')) as Gradebook;
    expect(json.timeLimitMs).toBe(TIME_LIMIT_MS);
    expect(json.students.map((s) => [s.student, s.status, s.outcome, s.score, s.max])).toEqual([
      ['broken', 'not-started', 'failed', 0, httpBasicsMax],
      ['good', 'graded', 'full', httpBasicsMax, httpBasicsMax],
      ['hangs', 'time-limit', 'failed', 0, httpBasicsMax],
      ['partial', 'graded', 'partial', 5, httpBasicsMax],
    ]);
  });

  test('progress: one call per submission as it finishes', () => {
    expect(progress.map(([, done, total]) => [done, total])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    expect(progress.map(([student]) => student).sort()).toEqual(['broken', 'good', 'hangs', 'partial']);
  });
});

describe('a roster: the learning platform\'s ids in the gradebook, and canvas.csv', () => {
  let book: Gradebook;
  let out: string;
  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmp, 'roster-class-'));
    for (const [folder, sample] of [['good', 'good'], ['broken', 'broken'], ['extra', 'broken']]) await cp(path.join(FIXTURES, sample!), path.join(dir, folder!), { recursive: true });
    const roster = path.join(tmp, 'roster.csv');
    // As a spreadsheet saves it: a byte order mark, CRLF, a quoted name with a comma.
    await writeFile(
      roster,
      '\ufefffolder,id,name,email,sis_login_id,section\r\ngood,48213,"Wong, Alice",alice@uni.example,awong,Lab A\r\nbroken,48214,Bob Li,bob@uni.example,bli,Lab A\r\ndora,48215,Dora Quinn,dora@uni.example,dquinn,Lab B\r\n',
    );
    out = path.join(tmp, 'roster-out');
    book = await gradeClass(dir, { out, roster, assignment: 'HTTP server (9917)' });
  });

  test('each entry carries its student; one the roster names without a folder scores 0 as missing; a folder it does not name is listed', () => {
    expect(book.students.map((s) => [s.student, s.roster?.id, s.status, s.outcome, s.score])).toEqual([
      ['broken', '48214', 'not-started', 'failed', 0],
      ['extra', undefined, 'not-started', 'failed', 0],
      ['good', '48213', 'graded', 'full', httpBasicsMax],
      ['dora', '48215', 'missing', 'failed', 0],
    ]);
    expect(entryOf(book, 'dora')).toMatchObject({ max: httpBasicsMax, reason: 'no submission: the roster names dora, and there is no such folder' });
    expect(entryOf(book, 'good').roster).toEqual({ id: '48213', name: 'Wong, Alice', email: 'alice@uni.example', sis_login_id: 'awong', section: 'Lab A' });
    expect(book.roster).toMatchObject({ columns: ['id', 'name', 'email', 'sis_login_id', 'section'], notInRoster: ['extra'] });
  });

  test("gradebook.csv has the roster's columns (what Moodle's import identifies a user by)", async () => {
    const rows = parse(await readFile(path.join(out, 'gradebook.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual(['student', 'id', 'name', 'email', 'sis_login_id', 'section', 'score', 'max', 'outcome', 'An HTTP server from scratch', 'reason']);
    expect(rows.map((r) => [r.student, r.id, r.email, r.score])).toEqual([
      ['broken', '48214', 'bob@uni.example', '0'],
      ['extra', '', '', '0'],
      ['good', '48213', 'alice@uni.example', String(httpBasicsMax)],
      ['dora', '48215', 'dora@uni.example', '0'],
    ]);
  });

  test("canvas.csv is Canvas's gradebook import: its columns, the Points Possible row, a row per student it knows", async () => {
    const text = await readFile(path.join(out, 'canvas.csv'), 'utf8');
    expect(text.split('\r\n')[0]).toBe('Student,ID,SIS User ID,SIS Login ID,Section,HTTP server (9917)');
    expect(parse(text)).toEqual([
      ['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section', 'HTTP server (9917)'],
      ['    Points Possible', '', '', '', '', String(httpBasicsMax)],
      ['Bob Li', '48214', '', 'bli', 'Lab A', '0'],
      ['Wong, Alice', '48213', '', 'awong', 'Lab A', String(httpBasicsMax)],
      ['Dora Quinn', '48215', '', 'dquinn', 'Lab B', '0'],
    ]);
  });
});

describe('other targets and broken submissions', () => {
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((child) => child.stop()));
  });

  async function submissions(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(path.join(tmp, 'class-'));
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    return dir;
  }

  test('a running server (address), one that never answers, one that never listens, and submission.yaml mistakes', async () => {
    // A running server: the good sample, started here.
    const port = await freePort();
    const good = Child.start('python3', ['server.py', String(port)], { cwd: path.join(FIXTURES, 'good') });
    children.push(good);
    await waitUntilUp('http', '127.0.0.1', port, 10000, () => (good.running ? undefined : `exited with ${good.exitStatus?.code}: ${good.output.tail()}`), good.exited);
    const nobody = await freePort();

    const dir = await submissions({
      'alice/submission.yaml': `target: { service: http, address: "127.0.0.1:${port}" }\n`,
      'bob/submission.yaml': `target: { service: http, address: "127.0.0.1:${nobody}" }\n`,
      // Never listens; writes its pid in its folder (where the grader starts it) so we can check it was stopped.
      'carol/submission.yaml': `target:\n  service: http\n  command: [python3, -c, "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(60)", "{port}"]\n`,
      'dave/submission.yaml': `target:\n  service: http\n  comand: [python3, server.py, "{port}"]\n`,
      'erin/submission.yaml': `target: { service: http, command: [python3, server.py] }\nscenarios: [no-such-scenario.yaml]\n`,
      'frank/server.py': 'print("forgot submission.yaml")\n',
      'grace/submission.yaml': `target: { service: http, command: [definitely-not-a-program-here, "{port}"] }\n`,
      'out/from-last-time.txt': 'the grades folder, inside the submissions folder: not a submission\n',
      '.git/HEAD': 'hidden folders are not submissions either\n',
    });
    const out = path.join(dir, 'out');
    const started = Date.now();
    const book = await gradeClass(dir, { out, jobs: 3, startupTimeoutMs: 1500 });
    expect(Date.now() - started).toBeLessThan(15000);
    expect(book.students.map((s) => [s.student, s.status, s.score])).toEqual([
      ['alice', 'graded', httpBasicsMax],
      ['bob', 'not-started', 0],
      ['carol', 'not-started', 0],
      ['dave', 'invalid', 0],
      ['erin', 'invalid', 0],
      ['frank', 'invalid', 0],
      ['grace', 'not-started', 0],
    ]);
    expect(entryOf(book, 'bob').reason).toBe(`did not start: nothing answered on 127.0.0.1:${nobody} within 1.5 s`);
    expect(entryOf(book, 'carol').reason).toMatch(/^did not start: nothing answered on 127\.0\.0\.1:\d+ within 1\.5 s$/);
    // The file and line of the mistake, as the scenario loader reports them; its max is still the class's.
    expect(entryOf(book, 'dave').reason).toBe(
      `submission.yaml: ${path.join(dir, 'dave/submission.yaml')}:2:3: target: unknown key "comand"\n${path.join(dir, 'dave/submission.yaml')}:2:3: target: say where the server is: address, command or image`,
    );
    expect(entryOf(book, 'dave').max).toBe(httpBasicsMax);
    expect(entryOf(book, 'erin').reason).toMatch(/^a scenario it names cannot be used: .*no-such-scenario\.yaml:1:1: cannot read the file: ENOENT$/);
    expect(entryOf(book, 'frank').reason).toMatch(/submission\.yaml: missing/);
    expect(entryOf(book, 'grace').reason).toBe(`did not start: cannot run definitely-not-a-program-here: no such program (in ${path.join(dir, 'grace')})`);

    // carol's program ran in its own folder, and was stopped after the startup timeout.
    const pid = Number(await readFile(path.join(dir, 'carol/pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    // A running server is left running: it is not the grader's.
    expect(good.running).toBe(true);
  });

  (hasDockerLab ? test : test.skip)('a Docker image runs in place of the lab service (published on 127.0.0.1), and its container is removed afterwards', async () => {
    // A student's image, made from the lab's own (no registry needed): its HTTP server on port 80.
    const tag = `wirelab-grade-test/student-http:${process.pid}`;
    // (docker commit, not docker build: no builder needed, and nothing is looked up in a registry.)
    const made = execFileSync('docker', ['create', dockerImage], { encoding: 'utf8', timeout: 30000 }).trim();
    execFileSync('docker', ['commit', '--change', 'CMD ["http"]', made, tag], { stdio: 'ignore', timeout: 30000 });
    execFileSync('docker', ['rm', made], { stdio: 'ignore', timeout: 30000 });
    try {
      const dir = await submissions({
        'ida/submission.yaml': `target: { service: http, image: "${tag}", port: 80 }\n`,
        'jon/submission.yaml': `target: { service: http, image: "wirelab-grade-test/no-such-image:0" }\n`,
      });
      const book = await gradeClass(dir, { out: path.join(tmp, 'docker-out'), startupTimeoutMs: 20000 });
      expect(entryOf(book, 'ida')).toMatchObject({ status: 'graded', score: httpBasicsMax });
      expect(entryOf(book, 'jon')).toMatchObject({ status: 'not-started', score: 0 });
      expect(entryOf(book, 'jon').reason).toMatch(/no Docker image wirelab-grade-test\/no-such-image:0 on this machine/);
      // Its containers are gone.
      const left = execFileSync('docker', ['ps', '-aq', '--filter', 'label=wirelab.grade=ida'], { encoding: 'utf8' });
      expect(left.trim()).toBe('');
    } finally {
      execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
    }
  }, 90000);
});

describe('wirelab grade (the built CLI)', () => {
  test('grades the samples, prints a line per submission, writes the gradebook, exit 0', async () => {
    const out = path.join(tmp, 'cli-out');
    const { code, stdout, stderr } = await wirelab(['grade', 'tests/fixtures/submissions', '--out', out, '--jobs', '4', '--time-limit', String(TIME_LIMIT_MS)]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(new RegExp(`\\[\\d/4\\] ✓ good +${httpBasicsMax}/${httpBasicsMax} +\\d+\\.\\d s\\n`));
    expect(stdout).toMatch(new RegExp(`\\[\\d/4\\] ~ partial +5/${httpBasicsMax} `));
    expect(stdout).toMatch(new RegExp(`\\[\\d/4\\] ✗ broken +0/${httpBasicsMax} +\\d+\\.\\d s  did not start: python3 server\\.py \\d+ exited with code 1 .* … SyntaxError: `));
    // A server that never answers scored 0: failed (✗), not "partly right" (~), and stopped at its time limit.
    expect(stdout).toMatch(new RegExp(`\\[\\d/4\\] ✗ hangs +0/${httpBasicsMax} +\\d+\\.\\d s  time limit 4 s reached during "GET / answers 200 with a page"`));
    expect(stdout).toMatch(/4 submission\(s\): 3 graded \(1 stopped at the time limit\), 1 scored 0 without grading \(see the reason\); 2 failed \(0 points\)/);
    const rows = parse(await readFile(path.join(out, 'gradebook.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.student, r.score, r.outcome])).toEqual([
      ['broken', '0', 'failed'],
      ['good', String(httpBasicsMax), 'full'],
      ['hangs', '0', 'failed'],
      ['partial', '5', 'partial'],
    ]);
  });

  test('usage errors exit 2: no such folder, a bad --jobs, no folder given', async () => {
    const missing = await wirelab(['grade', path.join(tmp, 'nothing-here'), '--out', path.join(tmp, 'x')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nothing-here: no such folder/);
    expect((await wirelab(['grade', 'tests/fixtures/submissions', '--jobs', '0'])).code).toBe(2);
    const limit = await wirelab(['grade', 'tests/fixtures/submissions', '--time-limit', '2s']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/--time-limit takes a whole number of at least 1/);
    const roster = await wirelab(['grade', 'tests/fixtures/submissions', '--roster', path.join(tmp, 'no-roster.csv'), '--out', path.join(tmp, 'y')]);
    expect(roster.code).toBe(2);
    expect(roster.stderr).toMatch(/--roster: .*no-roster\.csv: no such file/);
    expect((await wirelab(['grade'])).code).toBe(2);
  });
});
