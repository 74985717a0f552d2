import { z } from 'zod';
import { TLS_VERSIONS, type TlsSettings } from '../../tls/client';

/**
 * What a step says about TLS, the same for every executor that speaks it (http, smtp,
 * pop3, ftp, tls): `tls: { ca, servername, insecure, minVersion, maxVersion, resume }`.
 * The line protocols also take a mode there: `tls: implicit` (TLS from the first byte,
 * on its own port) or, for FTP, `tls: explicit` (AUTH TLS); `tls: { mode: implicit, ca: ... }`
 * gives both.
 */

export const tlsSettingsSchema = z
  .object({
    ca: z
      .string()
      .min(1)
      .optional()
      .describe('Whom to trust: lab (default: the lab CA), system (public CAs only, like a client never given the lab CA), a PEM certificate, or a PEM file.'),
    servername: z.string().min(1).optional().describe('The name to ask for (SNI) and to check the certificate against. Default: the host the step names.'),
    insecure: z.boolean().optional().describe('Carry on whatever is wrong with the certificate, as curl -k does. Default: false.'),
    minVersion: z.enum(TLS_VERSIONS).optional().describe('The oldest TLS version to offer. Default: TLSv1.2.'),
    maxVersion: z.enum(TLS_VERSIONS).optional().describe('The newest TLS version to offer. Default: TLSv1.3.'),
    resume: z.boolean().optional().describe("Offer the session of the scenario's last connection to this server (a session ticket), as a browser does. Default: false."),
  })
  .strict();

/**
 * STARTTLS (SMTP), STLS (POP3): ask for TLS in the middle of the plain protocol. true:
 * when the server offers it, else go on in clear; required: else stop (ETLS).
 */
export function upgradeSchema(what: string) {
  return z.union([z.boolean(), z.literal('required')]).default(false).describe(what);
}

/** `tls:` of a line protocol: a mode word, or settings with an optional mode. */
export function tlsWithMode<const M extends readonly [string, ...string[]]>(modes: M, what: string) {
  const mode = z.enum(modes);
  return z.union([mode, tlsSettingsSchema.extend({ mode: mode.optional() }).strict()]).optional().describe(what);
}

/** A `tls:` value split into its mode (if any) and its settings. */
export function splitTls<M extends string>(value: M | (TlsSettings & { mode?: M }) | undefined): { mode?: M; settings: TlsSettings } {
  if (value === undefined) return { settings: {} };
  if (typeof value === 'string') return { mode: value, settings: {} };
  const { mode, ...settings } = value;
  return { ...(mode ? { mode } : {}), settings };
}
