import { attachSecrets, type RunResult, type ScenarioResult, type StepResult } from '../../../lab-runner/result';
import type { WireEvent } from '../../../lab-runner/wire';
import { MASK, Masker, maskSecrets, maskingListener, renderReport } from '../../../lab-runner/report';

/** Masking secrets: every string, every base64 form the lab shows, the raw bytes. */

const PASSWORD = 'Tr0ub4dor&3';
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

function event(over: Partial<WireEvent> & { bytes?: Buffer }): WireEvent {
  const { bytes, ...rest } = over;
  return { at: 1, kind: 'send', from: 'client', to: 'mail.lab.test:587', protocol: 'smtp', transport: 'tcp', summary: '', ...rest, ...(bytes ? { data: bytes.toString('base64'), size: bytes.length } : {}) };
}

function step(over: Partial<StepResult> = {}): StepResult {
  return {
    name: 'log in',
    action: 'smtp',
    summary: 'SMTP mail.lab.test:587',
    file: 'x.yaml',
    line: 3,
    status: 'failed',
    points: 0,
    maxPoints: 2,
    durationMs: 5,
    attempts: 1,
    checks: [],
    saved: {},
    transcript: [],
    ...over,
  };
}

function run(steps: StepResult[], secrets: string[]): RunResult {
  const scenario: ScenarioResult = { file: 'x.yaml', title: 'Secrets', tags: [], status: 'failed', points: 0, maxPoints: 2, durationMs: 5, steps };
  for (const s of steps) attachSecrets(s, secrets);
  attachSecrets(scenario, secrets);
  return { backend: 'embedded', startedAt: '2026-01-01T00:00:00.000Z', durationMs: 5, passed: false, points: 0, maxPoints: 2, scenarios: [scenario] };
}

describe('Masker', () => {
  const m = new Masker([PASSWORD, 'tok.en-42']);

  test('a secret as written, and as URLs, forms and JSON strings carry it', () => {
    expect(m.text(`PASS ${PASSWORD}\r\n`)).toBe(`PASS ${MASK}\r\n`);
    expect(m.text(`password=${encodeURIComponent(PASSWORD)}&x=1`)).toBe(`password=${MASK}&x=1`);
    expect(m.text(JSON.stringify({ token: 'tok.en-42' }))).toBe(`{"token":"${MASK}"}`);
    expect(m.text('nothing to hide')).toBe('nothing to hide');
  });

  test('base64 forms: AUTH PLAIN, AUTH LOGIN, HTTP Basic, and inside a longer base64 run', () => {
    expect(m.text(`AUTH PLAIN ${b64(`\0alice\0${PASSWORD}`)}`)).toBe(`AUTH PLAIN ${MASK}`);
    expect(m.text(b64(PASSWORD))).toBe(MASK);
    expect(m.text(`Authorization: Basic ${b64(`alice:${PASSWORD}`)}`)).toBe(`Authorization: Basic ${MASK}`);
    // Wherever the secret starts in a longer run (3 byte alignments), its base64 letters go.
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
      // One letter more and the run is no clean base64 word: only the secret's own letters can be found.
      const word = 'x' + b64(`${prefix}${PASSWORD} and more text after it`);
      const masked = m.text(word);
      expect([prefix, masked.includes(MASK)]).toEqual([prefix, true]);
      expect(masked.length).toBeLessThan(word.length);
    }
    // Words that only look like base64 stay.
    expect(m.text('HELO client.lab.test QUIT')).toBe('HELO client.lab.test QUIT');
  });

  test('raw bytes: the secret, its base64, in binary data too', () => {
    const bytes = Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from(`USER alice\r\nPASS ${PASSWORD}\r\nAUTH PLAIN ${b64(`\0alice\0${PASSWORD}`)}\r\n`), Buffer.from([0xc3])]);
    const masked = m.bytes(bytes);
    expect(masked.toString('latin1')).not.toContain(PASSWORD);
    expect(masked.toString('latin1')).toContain(`PASS ${MASK}\r\nAUTH PLAIN ${MASK}\r\n`);
    expect([...masked.subarray(0, 4)]).toEqual([0, 1, 2, 255]);
    expect(masked.at(-1)).toBe(0xc3);
    // A non-ASCII secret is matched by its UTF-8 bytes.
    expect(new Masker(['pässwörd']).bytes(Buffer.from('PASS pässwörd\r\n')).toString()).toBe(`PASS ${MASK}\r\n`);
  });

  test('no secrets: everything stays, and empty secrets are ignored', () => {
    const none = new Masker(['']);
    expect(none.empty).toBe(true);
    expect(none.text('abc')).toBe('abc');
  });
});

describe('maskSecrets', () => {
  const plainB64 = b64(`\0alice\0${PASSWORD}`);
  const result = run(
    [
      step({
        input: { auth: { user: 'alice', password: PASSWORD, mechanism: 'PLAIN' } },
        output: { auth: { sent: [`AUTH PLAIN ${plainB64}`], decoded: [`\0alice\0${PASSWORD}`] } },
        checks: [{ path: 'auth.code', operator: 'equals', expected: PASSWORD, source: ['auth.code'], actual: 535, passed: false, message: `auth.code: expected "${PASSWORD}", got 535`, line: 7 }],
        error: `auth.code: expected "${PASSWORD}", got 535`,
        hint: 'look at the AUTH line',
        saved: { password: PASSWORD },
        logs: { smtp: [`auth failed for alice with ${PASSWORD}`] },
        transcript: [
          event({ summary: `AUTH PLAIN ${plainB64}`, text: `AUTH PLAIN ${plainB64}\r\n`, bytes: Buffer.from(`AUTH PLAIN ${plainB64}\r\n`) }),
          event({ kind: 'recv', from: 'mail.lab.test:587', to: 'client', summary: '535 no', text: '535 no\r\n', bytes: Buffer.from('535 no\r\n') }),
        ],
      }),
    ],
    [PASSWORD],
  );

  test('the engine-side secrets never show: not in JSON, not in a spread', () => {
    expect(result.scenarios[0]!.secrets).toEqual([PASSWORD]);
    expect(JSON.stringify({ ...result.scenarios[0]! })).not.toContain('"secrets"');
    expect(Object.keys(result.scenarios[0]!.steps[0]!)).not.toContain('secrets');
  });

  test('a deep copy with the secret gone from inputs, outputs, checks, errors, logs and the transcript', () => {
    const masked = maskSecrets(result);
    const text = JSON.stringify(masked);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(plainB64);
    const s = masked.scenarios[0]!.steps[0]!;
    expect(s.input).toEqual({ auth: { user: 'alice', password: MASK, mechanism: 'PLAIN' } });
    expect(s.error).toBe(`auth.code: expected "${MASK}", got 535`);
    expect(s.checks[0]).toMatchObject({ expected: MASK, actual: 535, passed: false, line: 7, operator: 'equals' });
    expect(s.transcript[0]).toMatchObject({ summary: `AUTH PLAIN ${MASK}`, text: `AUTH PLAIN ${MASK}\r\n`, kind: 'send' });
    const bytes = Buffer.from(s.transcript[0]!.data!, 'base64');
    expect(bytes.toString()).toBe(`AUTH PLAIN ${MASK}\r\n`);
    expect(s.transcript[0]!.size).toBe(bytes.length);
    expect(s.transcript[1]).toEqual(result.scenarios[0]!.steps[0]!.transcript[1]); // nothing to mask: unchanged
    // The original is untouched, and the copy carries no secrets: masking it again changes nothing.
    expect(JSON.stringify(result)).toContain(PASSWORD);
    expect(maskSecrets(masked)).toEqual(masked);
  });

  test('fixed words that reporters switch on are never rewritten, even when a secret is one of them', () => {
    const masked = maskSecrets(run([step({ status: 'failed', summary: 'failed here' })], ['failed']));
    expect(masked.scenarios[0]!.steps[0]).toMatchObject({ status: 'failed', summary: `${MASK} here` });
  });

  test('a password one scenario declares is masked in every scenario of the run', () => {
    const other: ScenarioResult = { ...result.scenarios[0]!, title: 'other', steps: [step({ error: `saw ${PASSWORD}` })] };
    const both: RunResult = { ...result, scenarios: [result.scenarios[0]!, other] };
    expect(JSON.stringify(maskSecrets(both))).not.toContain(PASSWORD);
  });

  test('every written report goes through the mask', () => {
    for (const format of ['json', 'junit', 'gradescope', 'html'] as const) {
      const text = renderReport(format, result);
      expect([format, text.includes(PASSWORD) || text.includes(plainB64)]).toEqual([format, false]);
    }
  });

  test('maskingListener hands the terminal masked steps and scenarios', () => {
    const seen: string[] = [];
    const listener = maskingListener({
      stepEnd: (_s, st) => seen.push(JSON.stringify(st)),
      scenarioEnd: (sc) => seen.push(JSON.stringify(sc)),
    });
    listener.stepEnd!({} as never, result.scenarios[0]!.steps[0]!);
    listener.scenarioEnd!(result.scenarios[0]!);
    expect(seen).toHaveLength(2);
    for (const s of seen) expect(s).not.toContain(PASSWORD);
  });
});
