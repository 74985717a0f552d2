import type { z } from 'zod';
import type { Backend } from '../backends/types';
import type { LabNetwork } from '../backends/network';
import type { Wire } from './wire';

/**
 * What an executor gets to run one step: where the lab is (network), the stack to
 * act on (backend), the wire to record on, and a signal that fires at the step's timeout.
 */
export interface ExecContext {
  network: LabNetwork;
  backend: Backend;
  wire: Wire;
  /** Fires at the step's timeout. */
  signal: AbortSignal;
  /** Things that outlive a step (a kept-alive connection), closed when the scenario ends. */
  session: Session;
}

export interface Session {
  resources: Map<string, { close(): void }>;
}

/** A result is a plain object whose fields expectations and `save` read by path. */
export type StepOutput = Record<string, unknown>;

/**
 * One executor per action (`dns:`, `http:`, ...): its input schema, a one-line
 * description for progress output, and run(). A failure to even do the action
 * (connection refused, timeout) is thrown; expectations then are not checked.
 */
export interface Executor<I = unknown> {
  readonly name: string;
  readonly schema: z.ZodType<I>;
  describe(input: I): string;
  run(input: I, ctx: ExecContext): Promise<StepOutput>;
}

/** An error an executor throws for the user: short, with no stack trace shown. */
export class StepError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'StepError';
  }
}
