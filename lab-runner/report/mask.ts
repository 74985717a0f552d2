import type { RunListener } from '../run';
import type { RunResult, ScenarioResult, StepResult } from '../result';

/**
 * Secrets out of every report. A scenario's `secrets:` names passwords and tokens; the
 * engine keeps their values beside the result (never in it), and every reporter reads a
 * copy where each of them is `****`: in step inputs and outputs, checks, errors, logs,
 * transcript text and summaries, and inside the raw bytes of the transcript and of a
 * step's captured packets (its pcapng, overwritten with as many `*`, so it still opens).
 *
 * The lab shows students that AUTH PLAIN, AUTH LOGIN and HTTP Basic only base64-encode a
 * password, so base64 forms are masked too: a base64 word whose decoded bytes hold a
 * secret becomes `****`, and so does the base64 of a secret inside a longer base64 run.
 * Not caught: a secret split across lines (MIME base64 wrapped at 76 columns), or
 * encoded some other way (hex, quoted-printable, compressed).
 */

export const MASK = '****';

/** Fields whose value is one of a fixed set of words that reporters switch on: never rewritten. */
const FIXED_WORDS = new Set(['status', 'kind', 'action', 'visibility', 'protocol', 'transport', 'operator']);

/** A base64 word: 4 or more base64 letters, then its padding. */
const BASE64_WORD = /[A-Za-z0-9+/]{4,}={0,2}/g;

/** How long a stretch of base64 must be before it is masked inside a longer run (shorter ones match by chance). */
const MIN_BASE64_STRETCH = 6;

export class Masker {
  /** The secrets as text, and as their UTF-8 bytes (one char per byte, latin1) for raw data. */
  private readonly textPattern?: RegExp;
  private readonly bytePattern?: RegExp;
  private readonly secretBytes: string[];
  private readonly base64Stretches?: RegExp;

  constructor(secrets: Iterable<string>) {
    const values = [...new Set([...secrets].filter((s) => s.length > 0))];
    this.secretBytes = values.map((s) => Buffer.from(s, 'utf8').toString('latin1'));
    if (!values.length) return;
    // As written, and as URLs, forms and JSON strings carry it.
    const forms = values.flatMap((s) => [s, encodeURIComponent(s), encodeURIComponent(s).replace(/%20/g, '+'), JSON.stringify(s).slice(1, -1)]);
    this.textPattern = alternation(forms);
    this.bytePattern = alternation(forms.map((f) => Buffer.from(f, 'utf8').toString('latin1')));
    const stretches = this.secretBytes.flatMap(base64Stretches).filter((s) => s.length >= MIN_BASE64_STRETCH);
    if (stretches.length) this.base64Stretches = alternation(stretches);
  }

  get empty(): boolean {
    return this.secretBytes.length === 0;
  }

  /** A string with every secret, and every base64 form of one, replaced by `****`. */
  text(value: string): string {
    if (!this.textPattern) return value;
    return this.base64(value.replace(this.textPattern, MASK));
  }

  /** Raw bytes with the same done to them (a secret's UTF-8 bytes, its base64 forms). */
  bytes(data: Buffer): Buffer {
    if (!this.bytePattern) return data;
    const masked = this.base64(data.toString('latin1').replace(this.bytePattern, MASK));
    return Buffer.from(masked, 'latin1');
  }

  /**
   * A capture file's bytes (a step's pcapng) masked in place: each secret, and each
   * base64 word or stretch that hides one, overwritten with as many `*`, so every block
   * keeps its length and the file still opens in Wireshark.
   */
  sameLength(data: Buffer): Buffer {
    if (!this.bytePattern) return data;
    const stars = (m: string): string => '*'.repeat(m.length);
    let text = data.toString('latin1').replace(this.bytePattern, stars);
    text = text.replace(BASE64_WORD, (word) => (this.hidesSecret(word) ? stars(word) : word));
    if (this.base64Stretches) text = text.replace(this.base64Stretches, stars);
    return Buffer.from(text, 'latin1');
  }

  private base64(value: string): string {
    const words = value.replace(BASE64_WORD, (word) => (this.hidesSecret(word) ? MASK : word));
    return this.base64Stretches ? words.replace(this.base64Stretches, MASK) : words;
  }

  /** Whether a word is base64 whose decoded bytes hold a secret. */
  private hidesSecret(word: string): boolean {
    const decoded = Buffer.from(word, 'base64');
    // Only real base64: what decodes must encode back to the same word.
    if (decoded.toString('base64').replace(/=+$/, '') !== word.replace(/=+$/, '')) return false;
    const bytes = decoded.toString('latin1');
    return this.secretBytes.some((s) => bytes.includes(s));
  }

  /** A deep copy of any JSON-like value with every string masked (and a transcript event's raw bytes). */
  value<T>(value: T): T {
    return this.copy(value) as T;
  }

  private copy(value: unknown, key?: string): unknown {
    // A step's packets as a pcapng file (--capture): the password in a captured packet too.
    if (key === 'pcapng' && typeof value === 'string') return this.sameLength(Buffer.from(value, 'base64')).toString('base64');
    if (typeof value === 'string') return key !== undefined && FIXED_WORDS.has(key) ? value : this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.copy(v));
    if (!value || typeof value !== 'object') return value;
    if (Buffer.isBuffer(value)) return this.bytes(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.text(k)] = this.copy(v, k);
    if (isWireEvent(value) && typeof value.data === 'string') {
      // The bytes as they crossed the wire: decoded, masked, encoded again.
      const bytes = this.bytes(Buffer.from(value.data, 'base64'));
      out.data = bytes.toString('base64');
      if (typeof value.size === 'number') out.size = bytes.length;
    }
    return out;
  }
}

function isWireEvent(value: object): value is { data?: unknown; size?: unknown } {
  const v = value as Record<string, unknown>;
  return typeof v.kind === 'string' && typeof v.from === 'string' && typeof v.to === 'string' && 'data' in v;
}

function alternation(strings: string[]): RegExp {
  const unique = [...new Set(strings)].filter(Boolean).sort((a, b) => b.length - a.length);
  return new RegExp(unique.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
}

/**
 * The base64 letters that a secret (as latin1 bytes) always turns into, wherever it
 * starts in a longer run: for each of the 3 byte alignments, the letters made of the
 * secret's bits alone.
 */
function base64Stretches(secret: string): string[] {
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad), Buffer.from(secret, 'latin1')]).toString('base64');
    const first = Math.ceil((pad * 8) / 6);
    const end = Math.floor(((pad + secret.length) * 8) / 6);
    if (end > first) out.push(encoded.slice(first, end));
  }
  return out;
}

/** Every secret value of a run: a password one scenario declares is masked in all of them. */
export function secretsOf(result: RunResult): string[] {
  const all = new Set<string>();
  for (const scenario of result.scenarios) {
    for (const s of scenario.secrets ?? []) all.add(s);
    for (const step of scenario.steps) for (const s of step.secrets ?? []) all.add(s);
  }
  return [...all];
}

/**
 * A deep copy of a run with every secret masked, for a reporter to read. The copy
 * carries no secret values, so masking it again changes nothing.
 */
export function maskSecrets(result: RunResult): RunResult {
  return new Masker(secretsOf(result)).value(result);
}

/** A step's result, masked with the secrets its scenario knew when the step ended. */
export function maskStep(step: StepResult): StepResult {
  return new Masker(step.secrets ?? []).value(step);
}

/** A scenario's result, masked. */
export function maskScenario(scenario: ScenarioResult): ScenarioResult {
  return new Masker([...(scenario.secrets ?? []), ...scenario.steps.flatMap((s) => s.secrets ?? [])]).value(scenario);
}

/** A listener that sees masked results only: wrap the terminal's progress listener with it. */
export function maskingListener(listener: RunListener): RunListener {
  return {
    scenarioStart: listener.scenarioStart?.bind(listener),
    stepEnd: listener.stepEnd ? (scenario, step) => listener.stepEnd!(scenario, maskStep(step)) : undefined,
    scenarioEnd: listener.scenarioEnd ? (result) => listener.scenarioEnd!(maskScenario(result)) : undefined,
  };
}
