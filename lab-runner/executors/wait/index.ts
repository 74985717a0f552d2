import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { isUp } from '../../../services/common/health';
import { CLIENT, connect, dnsExchange, findService, mainPort, StepError, Wire, type Route } from '../../wire';
import { outputSchema, type ExecContext, type Executor } from '../types';

/**
 * `wait:` — try again and again until a service answers, or the step's timeout.
 * For DNS "answers" means a reply to a query; for the others, a TCP connection.
 */

export const waitSchema = z
  .object({
    service: z.string().optional().describe('A lab service by name (dns, http, ...): wait on its main port.'),
    host: z.string().optional().describe('Or a lab host...'),
    port: z.number().int().min(1).max(65535).optional().describe('...and port.'),
    interval: z.number().int().min(10).max(10000).default(100).describe('Milliseconds between attempts.'),
  })
  .strict()
  .refine((v) => (v.service !== undefined) !== (v.host !== undefined && v.port !== undefined), {
    message: 'give either service, or host and port',
  });

export type WaitInput = z.infer<typeof waitSchema>;

export const waitOutput = outputSchema({
  ready: z.boolean(),
  attempts: z.number().describe('How many tries it took.'),
  waited: z.number().describe('Milliseconds until it answered.'),
});

export type WaitOutput = z.infer<typeof waitOutput>;

export const waitExecutor: Executor<WaitInput, WaitOutput> = {
  name: 'wait',
  schema: waitSchema,
  output: waitOutput,
  describe: (input) => `wait for ${input.service ?? `${input.host}:${input.port}`}`,
  async run(input, ctx) {
    const started = performance.now();
    let attempts = 0;
    let lastError = '';
    while (!ctx.signal.aborted) {
      attempts++;
      // Failed attempts go to a scratch wire: the transcript shows the one that worked.
      const scratch = new Wire(ctx.wire.origin);
      try {
        await attempt(input, { ...ctx, wire: scratch });
        for (const event of scratch.events) ctx.wire.events.push(event);
        ctx.wire.record({ kind: 'note', protocol: 'wait', from: CLIENT, to: CLIENT, summary: `ready after ${attempts} attempt(s)` });
        return { ready: true, attempts, waited: Math.round(performance.now() - started) };
      } catch (err) {
        lastError = (err as Error).message;
      }
      await delay(input.interval, undefined, { signal: ctx.signal }).catch(() => {});
    }
    throw new StepError(`still not answering after ${attempts} attempts: ${lastError}`, 'ETIMEDOUT');
  },
};

/** One try: is it up? (services/common/health.ts says what that means), asked on this step's wire. */
async function attempt(input: WaitInput, ctx: ExecContext): Promise<void> {
  // Each attempt gets its own short deadline, so one hung attempt cannot use up the step.
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(1000)]);
  let route: Route;
  let kind: 'dns' | 'tcp' = 'tcp';
  if (input.service) {
    const plan = findService(input.service);
    if (!plan) throw new StepError(`no lab service named ${input.service}`);
    kind = plan.name === 'dns' ? 'dns' : 'tcp';
    route = kind === 'dns' ? ctx.network.dns : ctx.network.route(plan.address, mainPort(plan).lab);
  } else route = await ctx.network.locate(input.host!, input.port!, ctx.wire, signal);
  await isUp(kind, route, signal, {
    ask: (_server, question, s) => dnsExchange(route, question, ctx.wire, s),
    connect: (_server, s) => connect(route, ctx.wire, s, 'tcp'),
  });
}
