import { NEEDS_CAPTURE } from '../../../lab-runner/console/runs';
import type { StepResult } from '../../../lab-runner/result';
import { events, startConsole, type TestConsole } from '../../helpers/console';
import { rootOnly } from '../packets/helpers';

/**
 * The console and the lab's packet capture (`wirelab up --capture`): without it, the
 * scenarios that check packets are listed with why they do not run and are refused; with
 * it (as root: tcpdump on lo), Try it and scenario runs carry each step's packets, taken
 * from the one capture the way `wirelab run --capture` takes them, and a Try it going on
 * beside a scenario run takes nothing of its steps' packets.
 */

const HANDSHAKE = 'packets/tcp-handshake.yaml';

describe('a lab without capture', () => {
  let c: TestConsole;
  beforeAll(async () => {
    c = await startConsole();
  });
  afterAll(() => c?.stop());

  test('the lab says capture is off; a tried step has no packets', async () => {
    expect((await c.api('GET', '/api/lab')).json().capture).toBe(false);
    const step = (await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://www.lab.test/' } })).json().step as StepResult;
    expect([step.status, step.packets]).toEqual(['passed', undefined]);
  });

  test('the scenarios that check packets say why they are not run, and are refused; Run all leaves them out', async () => {
    const { scenarios } = (await c.api('GET', '/api/scenarios')).json() as { scenarios: { file: string; skipped?: string }[] };
    const skipped = scenarios.filter((s) => s.skipped).map((s) => s.file);
    expect(skipped).toEqual(expect.arrayContaining([HANDSHAKE, 'packets/passwords-on-the-wire.yaml']));
    expect(skipped.every((f) => f.startsWith('packets/'))).toBe(true);
    expect(scenarios.find((s) => s.file === HANDSHAKE)!.skipped).toBe(NEEDS_CAPTURE);
    const refused = await c.api('POST', '/api/runs', { files: [HANDSHAKE] });
    expect(refused.status).toBe(400);
    expect(refused.json().error).toBe(`${HANDSHAKE}: ${NEEDS_CAPTURE}`);
    // Asked for with another: the other one runs.
    const id = 'no-capture-run-01';
    const stream = events(c, 'the end of the run', (type, data) => type === 'run' && data.id === id && data.type === 'end');
    await stream.ready;
    const both = await c.api('POST', '/api/runs', { id, files: ['resolve-then-fetch.yaml', HANDSHAKE] });
    expect(both.json().scenarios.map((s: { file: string }) => s.file)).toEqual(['resolve-then-fetch.yaml']);
    const run = (await stream.done).filter((e) => e.data.id === id);
    expect(run.filter((e) => e.data.type === 'scenario').map((e) => e.data.file)).toEqual(['resolve-then-fetch.yaml']);
    expect(run.at(-1)!.data).toMatchObject({ type: 'end', passed: true });
  });
});

rootOnly('a lab with capture', () => {
  let c: TestConsole;
  beforeAll(async () => {
    c = await startConsole({ capture: true });
  }, 30000);
  afterAll(() => c?.stop());

  test('Try it: the step carries its packets, the request on its own segment', async () => {
    expect((await c.api('GET', '/api/lab')).json().capture).toBe(true);
    const step = (await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://www.lab.test/' } })).json().step as StepResult;
    expect(step.status).toBe('passed');
    expect(step.packets!.conversations.map((x) => `${x.transport} ${x.serverLabel} ${x.handshake}`)).toEqual(['udp ns.lab.test:53 false', 'tcp www.lab.test:80 true']);
    const request = step.transcript.findIndex((e) => e.kind === 'send' && e.protocol === 'http');
    expect(step.packets!.rows.filter((r) => r.event === request).map((r) => [r.flags.join(), r.length])).toEqual([['PSH,ACK', step.transcript[request]!.size]]);
  });

  test('a scenario that checks packets runs, and passes, while Try it runs beside it', async () => {
    const { scenarios } = (await c.api('GET', '/api/scenarios')).json() as { scenarios: { file: string; skipped?: string }[] };
    expect(scenarios.filter((s) => s.skipped)).toEqual([]);
    const id = 'capture-run-0001';
    const stream = events(c, 'the end of the packet scenario', (type, data) => type === 'run' && data.id === id && data.type === 'end', 30000);
    await stream.ready;
    expect((await c.api('POST', '/api/runs', { id, files: [HANDSHAKE] })).status).toBe(200);
    // Steps of another run, ending while the scenario's steps run: their ends move no window of the scenario's.
    let ended = false;
    const done = stream.done.finally(() => (ended = true));
    const tried: StepResult[] = [];
    while (!ended) tried.push((await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://www.lab.test/' } })).json().step);
    const steps = (await done).filter((e) => e.data.id === id && e.data.type === 'step').map((e) => e.data.step as StepResult);
    expect(steps.map((s) => [s.name, s.status, s.error])).toEqual(steps.map((s) => [s.name, 'passed', undefined]));
    expect(steps.every((s) => s.packets!.conversations.some((x) => x.transport === 'tcp'))).toBe(true);
    expect(tried.length).toBeGreaterThan(0);
    expect(tried.map((s) => s.packets!.conversations.filter((x) => x.transport === 'tcp' && x.handshake).length)).toEqual(tried.map(() => 1));
  }, 60000);
});
