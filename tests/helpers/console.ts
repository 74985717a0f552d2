import http from 'node:http';
import path from 'node:path';
import { REPO_DIR } from './paths';
import { ConsoleServer, type ConsoleLimits } from '../../lab-runner/console/server';
import { labFilter, RunCapture } from '../../lab-runner/packets/runCapture';
import { startLab, SCENARIOS_DIR } from './lab';

/**
 * A lab console on a free port of 127.0.0.1, in front of a whole embedded lab (free
 * ports, fresh data), and a plain HTTP client that sends exactly the Host, Origin and
 * Cookie a test gives (fetch would not let a test lie about Host).
 */

export const QUIZZES_DIR = path.join(REPO_DIR, 'quizzes');

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any -- each route answers its own shape
}

export interface TestConsole {
  server: ConsoleServer;
  port: number;
  /** `127.0.0.1:PORT`, as a browser sends Host. */
  host: string;
  origin: string;
  cookie: string;
  /** A request as the console's own page makes it: its Host, its Origin, the cookie. */
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply>;
  backend: Awaited<ReturnType<typeof startLab>>['backend'];
  stop(): Promise<void>;
}

export function request(port: number, method: string, target: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, agent: false, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `capture`: the lab's packets captured as `wirelab up --capture` does (root: tcpdump on lo), for the console's runs. */
export async function startConsole(options: { limits?: Partial<ConsoleLimits>; scenariosDir?: string; quizzesDir?: string; capture?: boolean } = {}): Promise<TestConsole> {
  const lab = await startLab();
  let capture: RunCapture | undefined;
  try {
    if (options.capture) capture = await RunCapture.start({ filter: labFilter(lab.backend.status()) });
  } catch (err) {
    await lab.stop();
    throw err;
  }
  const server = new ConsoleServer({ backend: lab.backend, scenariosDir: options.scenariosDir ?? SCENARIOS_DIR, quizzesDir: options.quizzesDir ?? QUIZZES_DIR, limits: options.limits, capture });
  const { port } = await server.listen(0);
  const host = `127.0.0.1:${port}`;
  const origin = `http://${host}`;
  const cookie = `wirelab_console=${server.token}`;
  return {
    server,
    port,
    host,
    origin,
    cookie,
    backend: lab.backend,
    api: (method, target, body) =>
      request(port, method, target, { Host: host, Cookie: cookie, ...(method === 'POST' ? { Origin: origin, 'Content-Type': 'application/json' } : {}) }, body === undefined ? (method === 'POST' ? '{}' : undefined) : JSON.stringify(body)),
    async stop() {
      await server.close();
      await capture?.stop();
      await lab.stop();
    },
  };
}

/**
 * The console's live events, as a page's EventSource gets them: `until` is called with
 * each event until it returns true, or the deadline passes (and the error names what
 * was awaited).
 */
export function events(c: TestConsole, what: string, until: (type: string, data: any) => boolean, deadlineMs = 20000): { done: Promise<{ type: string; data: any }[]>; ready: Promise<void>; close(): void } { // eslint-disable-line @typescript-eslint/no-explicit-any
  let close = (): void => {};
  let opened = (): void => {};
  const ready = new Promise<void>((r) => (opened = r));
  const done = new Promise<{ type: string; data: any }[]>((resolve, reject) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const seen: { type: string; data: unknown }[] = [];
    const req = http.get({ host: '127.0.0.1', port: c.port, agent: false, path: '/api/events', headers: { Host: c.host, Cookie: c.cookie } }, (res) => {
      opened();
      let buffer = '';
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!type || data === undefined) continue;
          const event = { type, data: JSON.parse(data) };
          seen.push(event);
          if (until(event.type, event.data)) {
            clearTimeout(timer);
            req.destroy();
            resolve(seen);
          }
        }
      });
    });
    req.on('error', () => {});
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no ${what} within ${deadlineMs} ms; events seen: ${seen.map((e) => e.type).join(', ')}`));
    }, deadlineMs);
    close = () => {
      clearTimeout(timer);
      req.destroy();
    };
  });
  return { done, ready, close: () => close() };
}
