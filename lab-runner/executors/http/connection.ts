import type net from 'node:net';
import { Connection, type Route, type Wire } from '../../wire';
import { responseParser, type HttpResponse } from './parse';

/**
 * One HTTP/1.1 connection: send a request's bytes, read back one response. Several
 * requests may go over it in turn (keep-alive), which is how a `connection:` name in
 * a scenario shares one TCP connection between steps.
 */
export class HttpConnection extends Connection {
  /** How many requests went over this connection. */
  requests = 0;

  constructor(socket: net.Socket, route: Route, wire: Wire) {
    super(socket, route, wire, 'http');
  }

  exchange(request: Buffer, method: string, summary: string, signal: AbortSignal): Promise<HttpResponse> {
    this.requests++;
    this.write(request, summary, request.toString('latin1'));
    return this.read(
      responseParser(method),
      { describe: (r) => `${r.status} ${r.reason}`, view: responseText },
      signal,
    );
  }
}

/** The response as text for a transcript; a binary body is named, not dumped. */
function responseText(response: HttpResponse): string {
  const head = response.raw.subarray(0, response.raw.length - response.body.length).toString('latin1');
  const type = response.headers['content-type'] ?? '';
  const textual = response.body.length === 0 || /^(text\/|application\/(json|xml|javascript)|image\/svg)/.test(type) || type === '';
  return head + (textual ? response.body.toString('utf8') : `[${response.body.length} bytes of ${type}]`);
}
