import { z } from 'zod';

/**
 * The wire recorder: every executor writes what it sent and received here, as it
 * happens. A TLS handshake is an event of its own (`tls`), between the two ends of the
 * connection it secures; the messages after it are marked `encrypted`. `--trace` prints these events, the JSON report keeps them, and the HTML
 * report draws them as a ladder diagram (hosts as columns, messages as arrows).
 */

export const WIRE_KINDS = ['send', 'recv', 'connect', 'tls', 'close', 'note'] as const;
export type WireKind = (typeof WIRE_KINDS)[number];

/** One end of a TCP connection as the socket saw it: the real address and port, for matching captured packets to steps. */
const socketAddress = z.strictObject({ address: z.string(), port: z.number().int() });
export type SocketAddress = z.infer<typeof socketAddress>;

/** A certificate as a TLS client saw it (lab-runner/tls/describe.ts reads it off the connection). */
export const certificateSchema = z.strictObject({
  subject: z.string().describe('CN=www.lab.test, O=wirelab (lab use only)'),
  issuer: z.string().describe('Who signed it: the intermediate CA, or the certificate itself when self-signed.'),
  san: z.array(z.string()).describe('Subject alternative names, as OpenSSL prints them: DNS:www.lab.test, IP Address:127.0.0.1.'),
  validFrom: z.string().describe('Not before, ISO 8601.'),
  validTo: z.string().describe('Not after, ISO 8601.'),
  fingerprint: z.string().describe('SHA-256 fingerprint, AB:CD:... as browsers show it.'),
  serialNumber: z.string(),
  ca: z.boolean().describe('A CA certificate (basicConstraints CA:TRUE).'),
  selfSigned: z.boolean().describe('Issued by itself: a root, or the self-signed lesson.'),
});
export type CertificateView = z.infer<typeof certificateSchema>;

/**
 * A TLS handshake as the client saw it: what a `tls` event carries and what a TLS
 * step's output has under `tls` (`expect: { tls.version: TLSv1.3, tls.error: CERT_HAS_EXPIRED }`).
 */
export const tlsHandshakeSchema = z.strictObject({
  version: z.string().optional().describe('TLSv1.3, TLSv1.2...; absent when no version was agreed (the handshake failed).'),
  cipher: z.string().optional().describe('The cipher suite, IANA name: TLS_AES_256_GCM_SHA384.'),
  keyExchange: z.string().optional().describe('The key exchange group: X25519.'),
  servername: z.string().optional().describe('The name the client asked for (SNI); absent when it connected to an address.'),
  alpn: z.string().optional().describe('The application protocol agreed (ALPN): http/1.1.'),
  authorized: z.boolean().describe('The client trusted the certificate for the name it asked for.'),
  error: z.string().optional().describe("Why not, or why the handshake failed, as the client's code: CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID..."),
  message: z.string().optional().describe("The client's words for it: certificate has expired."),
  resumed: z.boolean().optional().describe('An earlier session was resumed: no certificate was sent.'),
  certificate: certificateSchema.optional().describe("The server's certificate."),
  chain: z.array(certificateSchema).describe("The server's certificate first, then each issuer up to the root the client trusts (if any)."),
});
export type TlsHandshake = z.infer<typeof tlsHandshakeSchema>;

/**
 * One event of a transcript. Declared as a schema because scenarios read transcripts
 * (`transcript: { contains: { kind: send, summary: PASS bob } }`) and the expectation
 * checker needs to know which fields an event has.
 */
export const wireEventSchema = z.strictObject({
  /** Milliseconds since the step started. */
  at: z.number(),
  kind: z.enum(WIRE_KINDS),
  /** Who sent it and who it went to: `client`, `ns.lab.test:53`, `www.lab.test:80`. */
  from: z.string(),
  to: z.string(),
  /** `dns`, `http`, `tcp`, ... and the transport that carried it. */
  protocol: z.string(),
  transport: z.enum(['udp', 'tcp']).optional(),
  /** One line for a list or an arrow: `A? www.lab.test`, `GET / HTTP/1.1`, `200 OK`. */
  summary: z.string(),
  /** The decoded view: the HTTP text, a DNS message laid out like dig prints it. */
  text: z.string().optional(),
  /** The raw bytes, base64 (so a JSON report holds binary too). */
  data: z.string().optional(),
  size: z.number().optional(),
  /**
   * The two ends of the socket that carried the event, as the client's socket saw them
   * (`127.0.0.1:54012` -> `127.0.0.1:8080`): on a connect, and on each message sent or
   * received, so that `--capture` finds the packets of each step's own flows.
   */
  local: socketAddress.optional(),
  remote: socketAddress.optional(),
  /**
   * A message that crossed the wire inside TLS: encrypted there, and shown here as the
   * plaintext the runner (the client, one end of the TLS session) sent or read.
   */
  encrypted: z.boolean().optional(),
  /** A `tls` event's handshake: version, cipher, SNI, ALPN, the certificate chain, resumption. */
  tls: tlsHandshakeSchema.optional(),
  /**
   * TCP: where this message's bytes start in its direction's byte stream (0: the first
   * byte sent that way on the connection): which captured segments carried it.
   */
  offset: z.number().int().optional(),
});

export type WireEvent = z.infer<typeof wireEventSchema>;

export const CLIENT = 'client';

/** Now, in epoch milliseconds with sub-millisecond precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export class Wire {
  readonly events: WireEvent[] = [];

  /**
   * @param origin epoch ms that `at` counts from: the step's start, shared with the services' own events.
   * @param onRecord told of each event as it is recorded (the web console shows a step's exchange live).
   */
  constructor(readonly origin = nowMs(), private readonly onRecord?: (event: WireEvent) => void) {}

  record(event: Omit<WireEvent, 'at' | 'data' | 'size'> & { bytes?: Buffer }): void {
    const { bytes, ...rest } = event;
    const recorded: WireEvent = {
      at: Math.round((nowMs() - this.origin) * 10) / 10,
      ...rest,
      ...(bytes ? { data: bytes.toString('base64'), size: bytes.length } : {}),
    };
    this.events.push(recorded);
    this.onRecord?.(recorded);
  }
}

/** The bytes of an event, back from base64. */
export function eventBytes(event: WireEvent): Buffer {
  return Buffer.from(event.data ?? '', 'base64');
}

/** Two recordings merged in time order (a stable merge: equal times keep the first recording's first). */
export function mergeByTime(a: WireEvent[], b: WireEvent[]): WireEvent[] {
  if (!b.length) return a;
  return [...a.map((e, i) => ({ e, k: 0, i })), ...b.map((e, i) => ({ e, k: 1, i }))]
    .sort((x, y) => x.e.at - y.e.at || x.k - y.k || x.i - y.i)
    .map((x) => x.e);
}
