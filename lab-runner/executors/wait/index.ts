import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { Executor } from '../types';
import { StepError } from '../types';
import { CLIENT, Wire } from '../wire';
import { connect } from '../tcp/connect';
import { exchange } from '../dns/client';
import { findService, mainPort } from '../../backends/stack';

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

export const waitExecutor: Executor<WaitInput> = {
  name: 'wait',
  schema: waitSchema,
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

async function attempt(input: WaitInput, ctx: Parameters<Executor['run']>[1]): Promise<void> {
  // Each attempt gets its own short deadline, so one hung attempt cannot use up the step.
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(1000)]);
  if (input.service) {
    const plan = findService(input.service);
    if (!plan) throw new StepError(`no lab service named ${input.service}`);
    if (plan.name === 'dns') {
      await exchange(ctx.network.dns, ctx.network.dns.label, { name: 'lab.test', type: 'SOA', transport: 'udp', recursion: false }, ctx.wire, signal);
      return;
    }
    const route = ctx.network.route(plan.address, mainPort(plan).lab);
    (await connect(route, ctx.wire, signal, 'tcp')).destroy();
    return;
  }
  const route = await ctx.network.locate(input.host!, input.port!, ctx.wire, signal);
  (await connect(route, ctx.wire, signal, 'tcp')).destroy();
}
