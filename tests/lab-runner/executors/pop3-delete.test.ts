import path from 'node:path';
import { runScenario } from '../../../lab-runner/run';
import { loadScenarioFile, parseScenario } from '../../../lab-runner/scenario/load';
import { problems, SCENARIOS_DIR, startLab } from '../../helpers/lab';
import { session, type PoplibResult } from '../../services/pop3/clients';
import { python, SMTPLIB_SEND } from '../../services/smtp/harness';

/**
 * A student uses the lab (their own mail is in the mailboxes), then runs the scenarios
 * against it (`docker compose run --rm client wirelab run`): a `pop3:` step's
 * `delete: retrieved` must delete only what the scenario itself sent. The student's
 * mail goes in with Python's smtplib and is looked for afterwards with Python's poplib.
 */

let lab: Awaited<ReturnType<typeof startLab>>;
let submissionPort: number;
let pop3Port: number;
beforeAll(async () => {
  lab = await startLab();
  const smtp = lab.backend.status().find((s) => s.name === 'smtp')!.endpoints;
  submissionPort = Number(smtp.submission!.split(':')[1]);
  pop3Port = Number(lab.backend.status().find((s) => s.name === 'pop3')!.endpoints.pop3!.split(':')[1]);
});
afterAll(() => lab.stop());

/** The student's own mail, sent as any mail program would (port 587, logged in). */
async function studentMail(user: string, to: string, subject: string): Promise<void> {
  const sent = await python(SMTPLIB_SEND, String(submissionPort), `${user}@lab.test`, to, user, user, subject, 'my own mail, keep it');
  expect(JSON.parse(sent.stdout)).toEqual({ ok: true, refused: {} });
}

/** The subjects in a mailbox, read with poplib (and nothing deleted: QUIT after reading). */
async function subjects(user: string): Promise<string[]> {
  const results = await session(pop3Port, user, [['list']], { password: user });
  const list = results.find((r) => r.op === 'list') as PoplibResult;
  const count = (list.ok as [string, string[]])[1].length;
  const ops: ['retr', number][] = Array.from({ length: count }, (_, i) => ['retr', i + 1]);
  const read = await session(pop3Port, user, ops, { password: user });
  return read
    .filter((r) => r.op === 'retr')
    .map((r) => ((r.ok as [string, string[]])[1].find((l) => l.startsWith('Subject: ')) ?? '').slice('Subject: '.length));
}

test("delete: retrieved removes the scenario's message and leaves the student's, even when both were retrieved", async () => {
  await studentMail('alice', 'bob@lab.test', 'My notes to bob');
  const scenario = parseScenario(
    `title: send, then read everything
steps:
  - name: the scenario sends bob a message
    smtp: { port: 25, from: carol@example.test, to: bob@lab.test, subject: From the scenario, body: hello }
    expect: { sent: true }
  - name: bob reads every message, and deletes what he read
    pop3: { user: bob, password: bob, retrieve: all, delete: retrieved }
    expect:
      retrieved: { length: 2 }
      deleted: { length: 1 }
      kept: { length: 1 }
`,
    'delete-retrieved.yaml',
  );
  const result = await runScenario(scenario, lab.backend);
  expect(problems(result)).toEqual([]);
  // The executor gave the message its Message-ID, and deleted the message with it.
  const messageId = result.steps[0]!.output!.messageId as string;
  expect(messageId).toMatch(/^<[0-9a-z]+\.[0-9a-f]{12}@client\.lab\.test>$/);
  const read = result.steps[1]!.output!.retrieved as { number: number; headers: Record<string, string> }[];
  const ours = read.find((m) => m.headers['message-id'] === messageId)!;
  expect(result.steps[1]!.output!.deleted).toEqual([ours.number]);
  expect(await subjects('bob')).toEqual(['My notes to bob']);
});

test("the shipped mail scenarios clean up their own mail (bounces included) and nothing else", async () => {
  await studentMail('alice', 'alice@lab.test', 'A note to myself');
  await studentMail('bob', 'bob@lab.test', "bob's reminder");
  for (const file of ['send-and-read.yaml', 'unknown-user.yaml']) {
    const result = await runScenario(await loadScenarioFile(path.join(SCENARIOS_DIR, file)), lab.backend);
    expect(problems(result)).toEqual([]);
  }
  // unknown-user's bounce named the message alice sent in the scenario: it is gone; her own note stays.
  expect(await subjects('alice')).toEqual(['A note to myself']);
  expect(await subjects('bob')).toEqual(['My notes to bob', "bob's reminder"]);
});
