import { z } from 'zod';
import { TLS_FAULT_LESSONS, TLS_FAULTS } from '../../../services/common/tlsFaults';
import { CLIENT, findService, wireEventSchema, wireEventsOf } from '../../wire';
import { outputSchema, type Executor } from '../types';

/**
 * `lab:` — act on the stack itself: stop, start or restart one of its services, read
 * its status (state, endpoints, and info such as the SFTP host key fingerprint), or
 * switch a certificate lesson on or off (tls-fault).
 */

export const labSchema = z
  .object({
    action: z
      .enum(['stop', 'start', 'restart', 'status', 'logs', 'pause', 'unpause', 'disconnect', 'connect', 'duplicate', 'tls-fault'])
      .describe(
        'logs: what the service logged, and the traffic it made on its own (wire); duplicate: start a second copy on the same port and report its error (info.error); pause/unpause: the service freezes (connections hang); disconnect/connect: off and back on the lab network (Docker only); tls-fault: the service presents a broken certificate (fault), or the right one again (fault: none).',
      ),
    service: z.string().min(1).describe('The service: dns, http, ...'),
    fault: z
      .enum([...TLS_FAULTS, 'none'])
      .optional()
      .describe(`For tls-fault: ${TLS_FAULTS.map((f) => `${f} (${TLS_FAULT_LESSONS[f]})`).join('; ')}; none: the right certificate again. Every scenario starts with none.`),
  })
  .strict()
  .refine((input) => (input.action === 'tls-fault') === (input.fault !== undefined), {
    message: 'fault goes with action tls-fault, and tls-fault needs one',
    path: ['fault'],
  });

export type LabInput = z.infer<typeof labSchema>;

/** What stop, start, status, duplicate... return: the service's status. */
const statusOutput = outputSchema({
  name: z.string(),
  host: z.string(),
  state: z.enum(['running', 'stopped', 'target']),
  endpoints: z.record(z.string(), z.string()).describe('Where each named port really listens: { http: 127.0.0.1:8080 }.'),
  info: z.record(z.string(), z.string()).optional().describe('What the service says about itself: fingerprint, health, duplicate and error, tlsFault...'),
  fault: z.string().optional().describe('After tls-fault: the certificate lesson now on, or none.'),
});

/** What `logs` returns: the lines, and the traffic the service made on its own. */
const logsOutput = outputSchema({
  service: z.string(),
  lines: z.array(z.string()),
  wire: z.array(wireEventSchema.pick({ kind: true, from: true, to: true, protocol: true, summary: true })),
});

export const labOutput = z.union([statusOutput, logsOutput]);
export type LabOutput = z.infer<typeof labOutput>;

export const labExecutor: Executor<LabInput, LabOutput> = {
  name: 'lab',
  schema: labSchema,
  output: labOutput,
  describe: (input) => `${input.action} ${input.service}${input.fault ? ` ${input.fault}` : ''}`,
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
    if (input.action === 'tls-fault') {
      const status = await ctx.backend.control(input.service, input.action, { fault: input.fault });
      const fault = input.fault!;
      const lesson = fault === 'none' ? 'the right certificate again' : TLS_FAULT_LESSONS[fault];
      ctx.wire.record({ kind: 'note', protocol: 'lab', from: CLIENT, to: status.host, summary: `tls-fault ${input.service}: ${fault}, ${lesson}` });
      return { ...status, fault };
    }
    const status = await ctx.backend.control(input.service, input.action);
    ctx.wire.record({ kind: 'note', protocol: 'lab', from: CLIENT, to: status.host, summary: `${input.action} ${input.service}: now ${status.state}` });
    return { ...status };
  },
};
