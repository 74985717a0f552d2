import { z } from 'zod';
import type { Backend } from '../backends/types';
import type { KeylogFile } from '../tls/keylog';
import { tlsHandshakeSchema, wireEventSchema, type LabNetwork, type Wire } from '../wire';

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
  /** `--keylog FILE`: every TLS session's secrets go here, for Wireshark. */
  keylog?: KeylogFile;
}

export interface Session {
  resources: Map<string, { close(): void }>;
  /**
   * The Message-IDs of the mail this scenario's `smtp:` steps sent: a `pop3:` step's
   * `delete: retrieved` deletes only those (and their bounces), never mail that was in
   * the mailbox before (a student's own, in a lab they are using).
   */
  sentMessageIds?: Set<string>;
  /** A person at their own mailbox (`wirelab pop3 --delete`): every retrieved message is theirs to delete. */
  ownsMailbox?: boolean;
}

/** A result is a plain object whose fields expectations and `save` read by path. */
export type StepOutput = Record<string, unknown>;

/**
 * One executor per action (`dns:`, `http:`, ...): its input schema, its output schema,
 * a one-line description for progress output, and run(). A failure to even do the
 * action (connection refused, timeout) is thrown as a StepError; the runner turns it
 * into the output `{ error, code }`, which a step may expect like any other field.
 */
export interface Executor<I = unknown, O extends StepOutput = StepOutput> {
  readonly name: string;
  /** What a scenario writes under the action's key. */
  readonly schema: z.ZodType<I>;
  /**
   * What run() returns: the fields `expect:` and `save:` read, declared with
   * {@link outputSchema}. The scenario loader rejects a path the output cannot have.
   */
  readonly output: z.ZodType<O>;
  describe(input: I): string;
  run(input: I, ctx: ExecContext): Promise<O>;
}

/**
 * The fields of a failed action, in every executor's output: the runner fills them in
 * when the action itself fails (`code: ECONNREFUSED` when nothing listens), so a step
 * can expect the failure. `tls` is there too: an executor that speaks TLS fills it in
 * with the handshake, and when the handshake fails (a certificate refused, no common
 * version) the failure carries it, so `expect: { tls.error: CERT_HAS_EXPIRED }` works.
 */
export const failureFields = {
  error: z.string().optional().describe('Why the action itself failed: connection refused, timed out, no such name...'),
  code: z.union([z.string(), z.number()]).optional().describe('The failure as a code: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, EPROTO, CERT_HAS_EXPIRED...'),
  tls: tlsHandshakeSchema.optional().describe('The TLS handshake, when the action used TLS: version, cipher, certificate, and why it failed.'),
};

/** The output of a failed action. */
export const failureOutput = z.strictObject({ error: z.string(), code: z.string().optional(), tls: tlsHandshakeSchema.optional() });
export type FailureOutput = z.infer<typeof failureOutput>;

/**
 * An executor's output schema: its own fields, and `error` and `code` (its own `code`,
 * like SMTP's reply code, takes the place of the failure's). Objects are closed, so a
 * misspelt field is caught when the scenario loads; a part whose keys are data, not
 * field names (a header map, a JSON body, a DNS record's data), is open: declare it as
 * `z.record(...)` or `z.unknown()`, and any path below it is allowed.
 */
export function outputSchema<S extends z.ZodRawShape>(shape: S) {
  // The executor's fields first (in the order a "no such field" message lists them), its own declarations winning.
  return z.strictObject({ ...shape, ...failureFields, ...shape });
}

/**
 * What `--capture` adds to what a step's `expect:` reads: the packets under the step
 * (lab-runner/packets/steps.ts computes them). A step that checks one needs --capture.
 */
export const packetFields = {
  tcp: z
    .strictObject({
      handshake: z.boolean().describe('A complete three-way handshake (SYN, SYN-ACK, ACK) was seen in the step.'),
      connections: z.number().describe('TCP connections opened in the step (a SYN seen): 0 when a kept-alive connection was reused.'),
      reset: z.boolean().describe('A RST was seen: "connection refused", or a connection reset.'),
      retransmissions: z.number().describe('Segments that repeated bytes (or a SYN or FIN) their sender had already sent.'),
    })
    .optional()
    .describe('With --capture: the TCP layer under the step.'),
  packets: z
    .array(
      z.strictObject({
        frame: z.number(),
        transport: z.enum(['tcp', 'udp']),
        from: z.enum(['client', 'server']),
        flags: z.string().describe('The TCP flags as Wireshark lists them: SYN, "SYN, ACK", "FIN, ACK", RST...; empty for UDP.'),
        seq: z.number(),
        ack: z.number(),
        length: z.number().describe('Bytes of data.'),
        window: z.number(),
        retransmission: z.boolean(),
        info: z.string(),
        payload: z.string().describe('The data the packet carried, as text.'),
      }),
    )
    .optional()
    .describe("With --capture: the step's packets, in capture order."),
  payload: z.string().optional().describe("With --capture: every byte of data the step's packets carried, as text: a password sent in clear shows here."),
};

/**
 * What a step's `expect:` reads: the executor's output, and the step's transcript
 * (`transcript: { contains: { kind: send, summary: PASS bob } }`).
 */
export function checkedResultSchema(output: z.ZodType): z.ZodType {
  const options = (output instanceof z.ZodUnion ? output.options : [output]) as z.ZodObject[];
  const withTranscript = options.map((o) => o.extend({ transcript: z.array(wireEventSchema).describe('What crossed the wire during the step.'), ...packetFields }));
  return withTranscript.length === 1 ? withTranscript[0]! : z.union(withTranscript);
}
