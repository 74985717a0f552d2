import type { ServerResponse } from 'node:http';

/**
 * Live updates for the console's pages, as server-sent events (one `text/event-stream`
 * response per open page; the browser's EventSource reconnects by itself). Each event
 * has a type (`lab`, `wire`, `step`, `run`...) and a JSON body, and is written the
 * moment it happens: a step's result reaches the page as the runner finishes it.
 */

export interface ConsoleEvent {
  type: string;
  data: unknown;
}

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly keepAlive: NodeJS.Timeout;

  /** @param maxClients pages that may listen at once; more get 503 (`maxStreams` of the console's options). */
  constructor(private readonly maxClients: number, keepAliveMs = 15000) {
    // A comment line now and then keeps idle connections (and any proxy between) open.
    this.keepAlive = setInterval(() => this.write(': keep-alive\n\n'), keepAliveMs).unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Take a page's event stream; false when too many pages listen already. */
  add(res: ServerResponse): boolean {
    if (this.clients.size >= this.maxClients) return false;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  send(type: string, data: unknown): void {
    this.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  close(): void {
    clearInterval(this.keepAlive);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private write(text: string): void {
    for (const res of this.clients) res.write(text);
  }
}
