import type { CheckResult } from './expect/evaluate';
import type { WireEvent } from './wire';
import type { Visibility } from './scenario/schema';
import type { PacketRow } from './packets/flows';

export type { Visibility };

/**
 * The result model every reporter reads: terminal and JSON now; JUnit, Gradescope
 * and HTML are written from the same objects.
 */

export type StepStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface StepResult {
  name: string;
  action: string;
  /** `A? www.lab.test`, `GET http://www.lab.test/`: the action in a few words. */
  summary: string;
  /** Where the step is written. */
  file: string;
  line: number;
  /** passed: every check held. failed: a check did not. error: the action itself failed (refused, timed out, bad input). skipped: it needed a value a failed step should have saved. */
  status: StepStatus;
  points: number;
  maxPoints: number;
  durationMs: number;
  attempts: number;
  /** The action's input after `${...}` was filled in. */
  input?: unknown;
  /** What the executor returned: the fields expectations read. */
  output?: Record<string, unknown>;
  checks: (CheckResult & { line: number })[];
  /** Why the step errored or was skipped; for a failure, the first failed check. */
  error?: string;
  hint?: string;
  /** Values saved for later steps. */
  saved: Record<string, unknown>;
  transcript: WireEvent[];
  /** Recent log lines of the lab services the step talked to, when it did not pass. */
  logs?: Record<string, string[]>;
  /** Who sees the result in a grading report (absent: visible). */
  visibility?: Visibility;
  /** The run was stopped (`wirelab grade`'s time limit) while this step ran, or before it: `error` says why. */
  stopped?: 'during' | 'before';
  /** With `--capture`: the packets of the step's own flows in its time window. */
  packets?: StepPackets;
  /** The scenario's secret values known so far: see {@link ScenarioResult.secrets}. */
  readonly secrets?: readonly string[];
}

/**
 * What the kernel saw under one step (`wirelab run --capture`): plain data, so the JSON
 * report, the HTML ladder and the console draw it alike.
 */
export interface StepPackets {
  /** The step's connections and datagram exchanges, in order of their first packet. */
  conversations: StepConversation[];
  /** Every packet of those conversations in the step's window, in capture order; `at` is ms since the step's start. */
  rows: StepPacketRow[];
  /** The same packets as a pcapng file Wireshark opens, base64 (the HTML report offers it as a download). */
  pcapng: string;
}

export interface StepConversation {
  /** Wireshark's tcp.stream / udp.stream in the run's capture file. */
  index: number;
  transport: 'tcp' | 'udp';
  /** `127.0.0.1:41234`, and the server as the ladder names it (`www.lab.test:80`) and as it really was. */
  client: string;
  server: string;
  serverLabel?: string;
  /** TCP: the three-way handshake was seen; who reset it, who sent a FIN. */
  handshake: boolean;
  reset?: 'client' | 'server';
  fin: ('client' | 'server')[];
  retransmissions: number;
}

export interface StepPacketRow extends PacketRow {
  /** Which of {@link StepPackets.conversations} it belongs to (its `index`). */
  conversation: number;
  /** The transcript event (index into StepResult.transcript) whose bytes this segment carries, if any. */
  event?: number;
}

export interface ScenarioResult {
  file: string;
  title: string;
  description?: string;
  tags: string[];
  status: 'passed' | 'failed';
  points: number;
  maxPoints: number;
  durationMs: number;
  steps: StepResult[];
  /** Who sees the results in a grading report (absent: visible); a step may say otherwise. */
  visibility?: Visibility;
  /**
   * The values the scenario declared secret (`secrets:`), for report/mask.ts to mask.
   * Non-enumerable, set with {@link attachSecrets}: JSON.stringify, spreads and
   * structural equality never see it, so no report can print it by accident.
   */
  readonly secrets?: readonly string[];
}

/**
 * A lab service the run replaced with another server (`--target http=127.0.0.1:9000`, or
 * a student's server in `wirelab grade`): the reports draw it under its lab name and say
 * it was the target, and where it really was.
 */
export interface TargetInfo {
  /** The lab service replaced: `http`. */
  service: string;
  /** Its lab name and port, as scenarios and the ladder diagrams name it: `www.lab.test:80`. */
  label: string;
  /** Where the server really was: `127.0.0.1:9000`. */
  address: string;
}

export interface RunResult {
  backend: string;
  /** Services replaced by another server (absent: none). */
  targets?: TargetInfo[];
  /** Why the run was stopped before its end, and where: `time limit 20 s reached during "GET /" (file:line)`. */
  stopped?: string;
  startedAt: string;
  durationMs: number;
  passed: boolean;
  points: number;
  maxPoints: number;
  scenarios: ScenarioResult[];
}

/**
 * Attach a live list of secret values to a result without making it a visible field:
 * the list is shared, so values saved by later steps reach the earlier steps too.
 */
export function attachSecrets<T extends StepResult | ScenarioResult>(result: T, secrets: readonly string[]): T {
  Object.defineProperty(result, 'secrets', { value: secrets, enumerable: false, writable: false, configurable: true });
  return result;
}
