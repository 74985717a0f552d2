/**
 * The wire recorder: every executor writes what it sent and received here, as it
 * happens. `--trace` prints these events, the JSON report keeps them, and the HTML
 * report draws them as a ladder diagram (hosts as columns, messages as arrows).
 */

export type WireKind = 'send' | 'recv' | 'connect' | 'close' | 'note';

export interface WireEvent {
  /** Milliseconds since the step started. */
  at: number;
  kind: WireKind;
  /** Who sent it and who it went to: `client`, `ns.lab.test:53`, `www.lab.test:80`. */
  from: string;
  to: string;
  /** `dns`, `http`, `tcp`, ... and the transport that carried it. */
  protocol: string;
  transport?: 'udp' | 'tcp';
  /** One line for a list or an arrow: `A? www.lab.test`, `GET / HTTP/1.1`, `200 OK`. */
  summary: string;
  /** The decoded view: the HTTP text, a DNS message laid out like dig prints it. */
  text?: string;
  /** The raw bytes, base64 (so a JSON report holds binary too). */
  data?: string;
  size?: number;
}

export const CLIENT = 'client';

/** Now, in epoch milliseconds with sub-millisecond precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export class Wire {
  readonly events: WireEvent[] = [];

  /** @param origin epoch ms that `at` counts from: the step's start, shared with the services' own events. */
  constructor(readonly origin = nowMs()) {}

  record(event: Omit<WireEvent, 'at' | 'data' | 'size'> & { bytes?: Buffer }): void {
    const { bytes, ...rest } = event;
    this.events.push({
      at: Math.round((nowMs() - this.origin) * 10) / 10,
      ...rest,
      ...(bytes ? { data: bytes.toString('base64'), size: bytes.length } : {}),
    });
  }
}

/** The bytes of an event, back from base64. */
export function eventBytes(event: WireEvent): Buffer {
  return Buffer.from(event.data ?? '', 'base64');
}
