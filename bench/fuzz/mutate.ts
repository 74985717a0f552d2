/**
 * Inputs for the fuzzer: a good session's messages, changed the ways a broken or hostile
 * client changes them. Deterministic for a seed, so a run can be repeated.
 */

/** A small seeded generator (mulberry32): the same seed draws the same inputs. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.below(256);
    return out;
  }
}

/** Byte sequences that break naive parsers: NULs, line ends alone, bytes that are not UTF-8, Telnet's IAC. */
const NASTY = [
  [0x00],
  [0x0d],
  [0x0a],
  [0x0d, 0x0a, 0x2e, 0x0d, 0x0a], // CRLF . CRLF: the end of an SMTP message
  [0x0a, 0x2e, 0x0a], // LF . LF: the "SMTP smuggling" end
  [0xc3, 0x28], // a broken two-byte UTF-8 sequence
  [0xc0, 0xaf], // an overlong '/'
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate written as UTF-8
  [0xff, 0xfe],
  [0xff, 0xf4, 0xff, 0xf2], // Telnet IAC IP IAC DM
  [0x25, 0x30, 0x30], // %00
  [0x2e, 0x2e, 0x2f], // ../
  [0x25, 0x32, 0x65, 0x25, 0x32, 0x65, 0x2f], // %2e%2e/
].map((b) => Buffer.from(b));

/** Numbers that sit on the edges of counters and lengths. */
const EDGE_NUMBERS = ['0', '-1', '1', '255', '256', '65535', '65536', '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740993', '99999999999999999999', '1e9', '0x10', '007'];

type Mutator = (input: Buffer, random: Random, session: readonly Buffer[]) => Buffer;

const at = (input: Buffer, random: Random): number => random.below(input.length + 1);
const splice = (input: Buffer, start: number, remove: number, insert: Buffer): Buffer =>
  Buffer.concat([input.subarray(0, start), insert, input.subarray(Math.min(input.length, start + remove))]);

export const MUTATORS: Record<string, Mutator> = {
  flipBits(input, random) {
    const out = Buffer.from(input);
    for (let n = 1 + random.below(4); n > 0 && out.length > 0; n--) out[random.below(out.length)]! ^= 1 << random.below(8);
    return out;
  },
  insertBytes: (input, random) => splice(input, at(input, random), 0, random.bytes(1 + random.below(16))),
  deleteRange: (input, random) => splice(input, at(input, random), 1 + random.below(32), Buffer.alloc(0)),
  duplicateRange(input, random) {
    const start = at(input, random);
    const piece = input.subarray(start, start + 1 + random.below(64));
    return splice(input, start, 0, Buffer.concat(Array.from({ length: 1 + random.below(8) }, () => piece)));
  },
  cut: (input, random) => input.subarray(0, at(input, random)),
  hugeLine: (input, random) => splice(input, at(input, random), 0, Buffer.alloc(random.pick([600, 5000, 70_000, 1_100_000]), random.pick([0x41, 0x20, 0x2f, 0x25]))),
  nasty: (input, random) => splice(input, at(input, random), 0, random.pick(NASTY)),
  edgeNumber(input, random) {
    const text = input.toString('latin1');
    const numbers = [...text.matchAll(/\d+/g)];
    if (numbers.length === 0) return splice(input, at(input, random), 0, Buffer.from(random.pick(EDGE_NUMBERS)));
    const match = random.pick(numbers);
    return splice(input, match.index, match[0].length, Buffer.from(random.pick(EDGE_NUMBERS)));
  },
  garbageAround: (input, random) => (random.below(2) ? Buffer.concat([random.bytes(1 + random.below(64)), input]) : Buffer.concat([input, random.bytes(1 + random.below(64))])),
  otherMessage: (input, random, session) => splice(input, at(input, random), 0, random.pick(session)),
  repeatMessage: (input, random) => Buffer.concat(Array.from({ length: 2 + random.below(input.length > 10_000 ? 2 : 200) }, () => input)),
  caseChange(input, random) {
    const out = Buffer.from(input);
    for (let i = 0; i < out.length; i++) if (random.below(4) === 0 && /[a-zA-Z]/.test(String.fromCharCode(out[i]!))) out[i]! ^= 0x20;
    return out;
  },
};

const NAMES = Object.keys(MUTATORS);

/** One connection's worth of input: the session's messages with one to four mutations, and the names of those applied. */
export function mutateSession(session: readonly Buffer[], random: Random): { messages: Buffer[]; applied: string[] } {
  // Sometimes all of it, sometimes a piece: short inputs reach the early states, long ones the late.
  const start = random.below(3) === 0 ? random.below(session.length) : 0;
  const messages = session.slice(start, start + 1 + random.below(session.length));
  const applied: string[] = [];
  for (let n = 1 + random.below(4); n > 0; n--) {
    const name = random.pick(NAMES);
    const i = random.below(messages.length);
    messages[i] = MUTATORS[name]!(messages[i]!, random, session);
    applied.push(name);
  }
  // Now and then, bytes that owe nothing to the protocol.
  if (random.below(20) === 0) {
    applied.push('random');
    return { messages: [random.bytes(1 + random.below(2048))], applied };
  }
  return { messages, applied };
}
