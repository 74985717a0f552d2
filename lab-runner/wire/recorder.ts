import { z } from 'zod';

/**
 * The wire recorder: every executor writes what it sent and received here, as it
 * happens. `--trace` prints these events, the JSON report keeps them, and the HTML
 * report draws them as a ladder diagram (hosts as columns, messages as arrows).
 */

export const WIRE_KINDS = ['send', 'recv', 'connect', 'close', 'note'] as const;
export type WireKind = (typeof WIRE_KINDS)[number];

/** One end of a TCP connection as the socket saw it: the real address and port, for matching captured packets to steps. */
const socketAddress = z.strictObject({ address: z.string(), port: z.number().int() });
export type SocketAddress = z.infer<typeof socketAddress>;

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
