import { z } from 'zod';
import type { Executor } from '../types';
import { CLIENT } from '../wire';

/**
 * `lab:` — act on the stack itself: stop, start or restart one of its services, or
 * read its status (state, endpoints, and info such as the SFTP host key fingerprint).
 */

export const labSchema = z
  .object({
    action: z.enum(['stop', 'start', 'restart', 'status']),
    service: z.string().min(1).describe('The service: dns, http, ...'),
  })
  .strict();

export type LabInput = z.infer<typeof labSchema>;

export const labExecutor: Executor<LabInput> = {
  name: 'lab',
  schema: labSchema,
  describe: (input) => `${input.action} ${input.service}`,
  async run(input, ctx) {
    const status = await ctx.backend.control(input.service, input.action);
    ctx.wire.record({ kind: 'note', protocol: 'lab', from: CLIENT, to: status.host, summary: `${input.action} ${input.service}: now ${status.state}` });
    return { ...status };
  },
};
