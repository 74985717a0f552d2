import { z } from 'zod';
import { startTls } from '../../tls/client';
import { connect } from '../../wire';
import { outputSchema, type Executor } from '../types';
import { tlsSettingsSchema } from './settings';

/**
 * `tls:` — connect, do the TLS handshake, report it, and close: what
 * `openssl s_client -connect HOST:PORT -servername HOST` shows, as a step. The version
 * and cipher agreed, SNI and ALPN, whether the certificate is trusted and why not, the
 * chain. See README.md beside this file.
 */

export const tlsSchema = z
  .object({
    host: z.string().min(1).describe('A lab host (resolved through the lab DNS) or address; the name asked for (SNI) unless `servername` says otherwise.'),
    port: z.number().int().min(1).max(65535).default(443).describe('Default: 443.'),
    alpn: z.array(z.string().min(1)).optional().describe('Application protocols to offer (ALPN), in order: [h2, http/1.1].'),
    ...tlsSettingsSchema.shape,
  })
  .strict();

export type TlsInput = z.infer<typeof tlsSchema>;

export const tlsOutput = outputSchema({
  address: z.string().describe('The address connected to, as the lab DNS gave it.'),
});

export type TlsOutput = z.infer<typeof tlsOutput>;

export const tlsExecutor: Executor<TlsInput, TlsOutput> = {
  name: 'tls',
  schema: tlsSchema,
  output: tlsOutput,
  describe: (input) => `TLS handshake with ${input.host}:${input.port}${input.servername ? ` (SNI ${input.servername})` : ''}`,
  async run(input, ctx) {
    const { host, port, alpn, ...settings } = input;
    const route = await ctx.network.locate(host, port, ctx.wire, ctx.signal);
    const socket = await connect(route, ctx.wire, ctx.signal, 'tls');
    const { socket: secure, handshake } = await startTls(socket, { route, host, alpn, settings }, ctx).catch((err: unknown) => {
      socket.destroy();
      throw err;
    });
    secure.end(); // close_notify, then FIN: a polite goodbye
    return { address: route.address, tls: handshake };
  },
};
