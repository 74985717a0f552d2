/**
 * Every input `npm run fuzz` found and saved (tests/fixtures/fuzz/<protocol>/*.json),
 * sent again to a fresh server exactly as it was found, so a bug found once stays fixed:
 * the server must stay up, log nothing at level error, and answer its health exchange
 * (bench/fuzz/protocols.ts); an input saved for memory growth is sent hundreds of times
 * and live memory (heap and buffers, after a garbage collection) must stay put. The servers run in a child
 * process (dist/bench/fuzz/target.js, built by `npm test`), as the fuzzer runs them.
 */
import path from 'node:path';
import { savedInputs, sendInput } from '../../bench/fuzz/inputs';
import { findProtocol } from '../../bench/fuzz/protocols';
import { check, memoryGrowth, MEMORY_REPEAT, MEMORY_SLACK, TargetProcess } from '../../bench/fuzz/target';

const cases = savedInputs().map((c) => ({ ...c, name: `${c.saved.protocol}/${path.basename(c.file)}: ${c.saved.kind}` }));

test('the fuzzer has saved inputs to replay', () => {
  expect(cases.length).toBeGreaterThan(0);
});

describe.each(cases)('$name', ({ saved, input }) => {
  const protocol = findProtocol(saved.protocol);
  let target: TargetProcess;

  beforeAll(async () => {
    target = await TargetProcess.start(protocol);
  }, 40_000);
  afterAll(() => target?.stop());

  if (saved.kind === 'memory') {
    test(`sent ${MEMORY_REPEAT} times, live memory does not grow (${saved.note.slice(0, 120)})`, async () => {
      const growth = await memoryGrowth(target, protocol, input, MEMORY_REPEAT);
      expect({ grewBy: growth > MEMORY_SLACK ? `${(growth / 1024 / 1024).toFixed(1)} MB` : 'less than the slack' }).toEqual({ grewBy: 'less than the slack' });
      expect(await check(target, protocol, 0)).toBeUndefined();
    }, 60_000);
  } else {
    test(`the server stays up, logs no error and still answers (${saved.note.slice(0, 120)})`, async () => {
      await sendInput(protocol, target.portOf(protocol), input);
      expect(await check(target, protocol, 0)).toBeUndefined();
    });
  }
});
