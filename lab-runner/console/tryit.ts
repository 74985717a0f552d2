import { parse, stringify } from 'yaml';
import type { Backend } from '../backends/types';
import type { StepPacketSource } from '../packets/runCapture';
import { httpSchema } from '../executors/http';
import { buildRequest, parseHttpUrl } from '../executors/http/request';
import type { StepResult } from '../result';
import { runScenario } from '../run';
import type { Scenario, Step } from '../scenario/load';
import type { WireEvent } from '../wire';
import { isPanelAction } from './panels';

/**
 * Try it: one step, run by the same engine as a scenario's (input validated by the
 * executor's schema, a timeout, the transcript with what the services did meanwhile,
 * a failure as `{ error, code }`), on the lab as it is: a service the student stopped
 * stays stopped. The exchange comes back as a step result, the same object the HTML
 * report draws, and as a scenario step (YAML) to copy into a scenario file. When the
 * lab was started with capture on, the step carries its packets, as `wirelab run
 * --capture` gives them.
 */

/** How long one tried step may take (the gateway-timeout lesson's 504 comes after 2 s). */
export const TRY_TIMEOUT_MS = 10_000;

export class TryError extends Error {}

export interface Tried {
  step: StepResult;
  /** The exchange as a scenario step: the action as given, and what to expect of it. */
  yaml: string;
}

/** A step the page gave as YAML (`- name: ...\n  dns: {...}` or the mapping alone): its action and input. */
export function stepFromYaml(text: string): { name?: string; action: string; input: unknown } {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    throw new TryError(`YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const step = (Array.isArray(value) ? value[0] : value) as Record<string, unknown> | undefined;
  if (!step || typeof step !== 'object') throw new TryError('a step is a mapping: name: ..., and one action such as http: { url: ... }');
  const actions = Object.keys(step).filter(isPanelAction);
  if (actions.length !== 1) throw new TryError(`a step has one action (${actions.length ? actions.join(' and ') : 'none found'})`);
  return { name: typeof step.name === 'string' ? step.name : undefined, action: actions[0]!, input: step[actions[0]!] };
}

export async function tryStep(
  backend: Backend,
  request: { action: unknown; input: unknown; name?: string },
  onWire?: (event: WireEvent) => void,
  /** The lab's capture (`wirelab up --capture`): the step gets its packets from it. */
  capture?: StepPacketSource,
): Promise<Tried> {
  if (!isPanelAction(request.action)) throw new TryError(`no protocol to try is named ${JSON.stringify(request.action)}`);
  const action = request.action;
  const name = request.name?.trim() || `Try ${action}`;
  const step: Step = {
    index: 0,
    name,
    action,
    input: request.input ?? {},
    checks: [],
    expectsFailure: false,
    needsCapture: false,
    save: {},
    points: 0,
    timeoutMs: TRY_TIMEOUT_MS,
    visibility: 'visible',
    uses: [],
    line: 1,
    lineOf: () => 1,
  };
  const scenario: Scenario = { file: 'try it', title: 'Try it', tags: [], vars: {}, secrets: { variables: [], literals: [] }, visibility: 'visible', steps: [step], maxPoints: 0, needsCapture: false };
  const result = await runScenario(scenario, backend, { wireEvent: (_s, _step, e) => onWire?.(e) }, { asItIs: true, capture });
  const ran = result.steps[0]!;
  return { step: ran, yaml: stepYaml(name, action, request.input ?? {}, ran.output) };
}

/** Fields worth checking when a result has them: a scenario's usual `expect:`. */
const TELLING = ['status', 'rcode', 'sent', 'loggedIn', 'authenticated', 'matched'] as const;

/** What a step should expect so that it passes the way this run did: the telling fields, or the failure's code. */
export function suggestExpect(output: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!output) return {};
  if (typeof output.error === 'string' && output.code !== undefined && Object.keys(output).length <= 2) return { code: output.code };
  const expect: Record<string, unknown> = {};
  for (const key of TELLING) {
    const value = output[key];
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') expect[key] = value;
  }
  if (Array.isArray(output.answers)) expect.answers = { length: output.answers.length };
  return expect;
}

/** The exchange as a scenario step, in YAML, ready to paste under `steps:`. */
export function stepYaml(name: string, action: string, input: unknown, output?: Record<string, unknown>): string {
  const expect = suggestExpect(output);
  return stringify([{ name, [action]: input, ...(Object.keys(expect).length ? { expect } : {}) }], { lineWidth: 0 });
}

/** The HTTP request's bytes, as the http executor will send them: what Inspect shows before Send. */
export function inspectHttp(input: unknown): { text: string; size: number } {
  const parsed = httpSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TryError(`${issue.path.join('.') || 'http'}: ${issue.message}`);
  }
  const { method, url, version, json } = parsed.data;
  let target;
  try {
    target = parseHttpUrl(url);
  } catch (err) {
    throw new TryError((err as Error).message);
  }
  const headers = Object.fromEntries(Object.entries(parsed.data.headers).map(([k, v]) => [k, String(v)]));
  // As the executor does: a JSON body says so, unless a Content-Type was given.
  if (json !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
  const body = json !== undefined ? Buffer.from(JSON.stringify(json)) : parsed.data.body !== undefined ? Buffer.from(parsed.data.body) : undefined;
  const bytes = buildRequest({ method: method.toUpperCase(), target: target.target, host: target.authority, headers, body, close: true, version });
  return { text: bytes.toString('latin1'), size: bytes.length };
}
