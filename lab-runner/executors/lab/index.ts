import { z } from 'zod';
import type { Executor } from '../types';
import { CLIENT } from '../wire';
import { wireEventsOf } from '../../backends/serviceWire';
import { findService } from '../../backends/stack';

/**
 * `lab:` — act on the stack itself: stop, start or restart one of its services, or
 * read its status (state, endpoints, and info such as the SFTP host key fingerprint).
 */

export const labSchema = z
  .object({
    action: z
      .enum(['stop', 'start', 'restart', 'status', 'logs', 'pause', 'unpause', 'disconnect', 'connect', 'duplicate'])
      .describe(
        'logs: what the service logged, and the traffic it made on its own (wire); duplicate: start a second copy on the same port and report its error (info.error); pause/unpause: the service freezes (connections hang); disconnect/connect: off and back on the lab network (Docker only).',
      ),
    service: z.string().min(1).describe('The service: dns, http, ...'),
  })
  .strict();

export type LabInput = z.infer<typeof labSchema>;

export const labExecutor: Executor<LabInput> = {
  name: 'lab',
  schema: labSchema,
  describe: (input) => `${input.action} ${input.service}`,
  async run(input, ctx) {
    if (input.action === 'logs') {
      // A server's own log: what it did, including the connections it made itself (an SMTP relay).
      const host = findService(input.service)?.host ?? input.service;
      const lines = await ctx.backend.logs(input.service);
      const wire = wireEventsOf(lines, host, new Date(ctx.wire.origin));
      ctx.wire.events.push(...wire);
      ctx.wire.record({ kind: 'note', protocol: 'lab', from: CLIENT, to: host, summary: `logs of ${input.service}: ${lines.length} lines, ${wire.length} of its own exchanges` });
      return { service: input.service, lines, wire: wire.map(({ kind, from, to, protocol, summary }) => ({ kind, from, to, protocol, summary })) };
    }
    const status = await ctx.backend.control(input.service, input.action);
    ctx.wire.record({ kind: 'note', protocol: 'lab', from: CLIENT, to: status.host, summary: `${input.action} ${input.service}: now ${status.state}` });
    return { ...status };
  },
};
