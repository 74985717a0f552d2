import type net from 'node:net';
import { StepError } from '../types';
import { CLIENT, type Wire } from '../wire';
import type { Route } from '../../backends/network';
import { HttpParseError, parseResponse, type HttpResponse } from './parse';

/**
 * One HTTP/1.1 connection: send a request's bytes, read back one response. Several
 * requests may go over it in turn (keep-alive), which is how a `connection:` name in
 * a scenario shares one TCP connection between steps.
 */
export class HttpConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private closedByServer = false;
  private waiting?: () => void;
  readonly localPort: number;
  requests = 0;

  constructor(private readonly socket: net.Socket, readonly route: Route, private wire: Wire) {
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('end', () => {
      this.closedByServer = true;
      this.wire.record({ kind: 'close', protocol: 'http', transport: 'tcp', from: this.route.label, to: CLIENT, summary: 'server closed the connection' });
      this.waiting?.();
    });
    socket.on('error', () => {
      this.closedByServer = true;
      this.waiting?.();
    });
  }

  /** Still usable for another request. */
  get open(): boolean {
    return !this.closedByServer && !this.socket.destroyed;
  }

  /** Record on this step's wire from now on (a kept connection lives across steps). */
  useWire(wire: Wire): void {
    this.wire = wire;
  }

  async exchange(request: Buffer, method: string, summary: string, signal: AbortSignal): Promise<HttpResponse> {
    this.requests++;
    this.wire.record({ kind: 'send', protocol: 'http', transport: 'tcp', from: CLIENT, to: this.route.label, summary, text: request.toString('latin1'), bytes: request });
    this.socket.write(request);
    const response = await new Promise<HttpResponse>((resolve, reject) => {
      const onAbort = (): void => settle(new StepError(`no complete response from ${this.route.label} in time`, 'ETIMEDOUT'));
      const settle = (err: Error | null, response?: HttpResponse): void => {
        this.waiting = undefined;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(response!);
      };
      const attempt = (): void => {
        try {
          const result = parseResponse(this.buffer, method, this.closedByServer);
          if (!result.complete) return;
          this.buffer = result.rest;
          settle(null, result.response);
        } catch (err) {
          settle(err instanceof HttpParseError ? new StepError(`bad response from ${this.route.label}: ${err.message}`, 'EPROTO') : (err as Error));
        }
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort);
      this.waiting = attempt;
      attempt();
    });
    this.wire.record({
      kind: 'recv',
      protocol: 'http',
      transport: 'tcp',
      from: this.route.label,
      to: CLIENT,
      summary: `${response.status} ${response.reason}`,
      text: responseText(response),
      bytes: response.raw,
    });
    return response;
  }

  close(): void {
    if (!this.socket.destroyed) {
      this.socket.end();
      this.socket.destroy();
    }
  }
}

/** The response as text for a transcript; a binary body is named, not dumped. */
function responseText(response: HttpResponse): string {
  const head = response.raw.subarray(0, response.raw.length - response.body.length).toString('latin1');
  const type = response.headers['content-type'] ?? '';
  const textual = response.body.length === 0 || /^(text\/|application\/(json|xml|javascript)|image\/svg)/.test(type) || type === '';
  return head + (textual ? response.body.toString('utf8') : `[${response.body.length} bytes of ${type}]`);
}
