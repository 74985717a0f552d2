/**
 * Test helpers for the HTTP service: start a real HttpServer on 127.0.0.1:0 with a
 * temp data directory, and talk to it with real clients: curl, node:http, and raw
 * TCP sockets for what well-behaved clients refuse to send.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type LogSink } from '../../../services/common/logger';
import { HttpServer, type HttpServerOptions } from '../../../services/http/server';

export const REPO = path.resolve(__dirname, '../../..');
export const LAB = path.join(REPO, 'lab');
export const WWW = path.join(LAB, 'www');
export const CURL = '/usr/bin/curl';

export function tempDir(prefix = 'wirelab-http-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Collects log lines; tests wait for lines instead of sleeping. */
export class LogCollector {
  readonly lines: string[] = [];
  private waiters: { test: (lines: string[]) => boolean; resolve: () => void }[] = [];

  readonly sink: LogSink = (line) => {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(this.lines)) return true;
      w.resolve();
      return false;
    });
  };

  /** The common-log-format lines (one per request), without the logger's prefix and fields. */
  clf(): string[] {
    const out: string[] = [];
    for (const line of this.lines) {
      const match = /^\S+ http info (\S+ - \S+ \[[^\]]+\] ".*" (?:\d{3}|-) (?:\d+|-))(?: \w+=\S+)*$/.exec(line);
      if (match) out.push(match[1]!);
    }
    return out;
  }

  waitFor(test: (lines: string[]) => boolean): Promise<void> {
    if (test(this.lines)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  waitForLine(pattern: RegExp): Promise<string> {
    return this.waitFor((lines) => lines.some((l) => pattern.test(l))).then(() => this.lines.find((l) => pattern.test(l))!);
  }

  /** Resolves once there are at least `count` request lines. */
  waitForRequests(count: number): Promise<string[]> {
    return this.waitFor(() => this.clf().length >= count).then(() => this.clf());
  }
}

export interface RunningServer {
  server: HttpServer;
  port: number;
  base: string;
  dataDir: string;
  logs: LogCollector;
  stop(): Promise<void>;
}

/** HttpServer.fromLab(lab, <temp data dir>) listening on 127.0.0.1, port 0. */
export async function startServer(options: HttpServerOptions = {}, labDir = LAB, dataDir?: string): Promise<RunningServer> {
  const data = dataDir ?? (await tempDir());
  const logs = new LogCollector();
  const server = await HttpServer.fromLab(labDir, data, {
    log: createLogger('http', { sink: logs.sink, level: 'debug' }),
    ...options,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    dataDir: data,
    logs,
    async stop() {
      await server.close();
      if (!dataDir) await rm(data, { recursive: true, force: true });
    },
  };
}

export interface CurlResult {
  stdout: string;
  stderr: string;
  /** curl's exit code: 0 ok, 52 empty reply, 56 receive failure... */
  code: number;
}

/** Run the real curl. Never through a proxy: the lab is 127.0.0.1 only. */
export function curl(...args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      CURL,
      ['--silent', '--show-error', '--noproxy', '*', '--max-time', '20', ...args],
      { encoding: 'latin1', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

/** The status code curl got, via -w '%{http_code}'. */
export async function curlStatus(...args: string[]): Promise<number> {
  const result = await curl('-o', '/dev/null', '-w', '%{http_code}', ...args);
  return Number(result.stdout);
}

export interface Parsed {
  status: number;
  statusLine: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Header names in the order and case they came. */
  rawHeaderNames: string[];
  body: string;
}

/** Parse one HTTP response (as curl -i prints it, or as read off a raw socket). */
export function parseResponse(text: string): Parsed {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  const rawHeaderNames: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    rawHeaderNames.push(line.slice(0, colon));
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), statusLine, headers, rawHeaderNames, body };
}

/** All responses in a byte stream, split by Content-Length (for keep-alive and 100 Continue). */
export function parseResponses(text: string): Parsed[] {
  const out: Parsed[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = parseResponse(rest.slice(0, end + 4));
    const length = Number(head.headers['content-length'] ?? 0);
    head.body = rest.slice(end + 4, end + 4 + length);
    out.push(head);
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

export interface NodeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

/** One request with node:http's client. */
export function request(
  port: number,
  options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** JSON request helper for the API. */
export async function json(
  port: number,
  method: string,
  urlPath: string,
  body?: unknown,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: any }> {
  const res = await request(port, {
    method,
    path: urlPath,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = res.body.toString('utf8');
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** A raw TCP client: write any bytes, wait for what comes back or for the close. */
export class RawClient {
  private data = Buffer.alloc(0);
  private waiters: { test: (text: string) => boolean; resolve: (text: string) => void }[] = [];
  /** Resolves with everything received, when the server (or we) closed the connection. */
  readonly closed: Promise<string>;
  error?: Error;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(this.text)) return true;
        w.resolve(this.text);
        return false;
      });
    });
    // A reset right after the server's answer is normal when it closes; the test checks what arrived.
    socket.on('error', (err) => (this.error = err));
    this.closed = new Promise((resolve) => socket.on('close', () => resolve(this.text)));
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get text(): string {
    return this.data.toString('latin1');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves when what arrived so far passes `test`. */
  until(test: RegExp | ((text: string) => boolean)): Promise<string> {
    const check = typeof test === 'function' ? test : (t: string) => test.test(t);
    if (check(this.text)) return Promise.resolve(this.text);
    return new Promise((resolve) => this.waiters.push({ test: check, resolve }));
  }

  /** Resolves when `count` complete responses have arrived. */
  responses(count: number): Promise<Parsed[]> {
    return this.until((t) => parseResponses(t).length >= count).then((t) => parseResponses(t));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Send bytes on a fresh connection and return everything received until the server closes it. */
export async function raw(port: number, ...chunks: (string | Buffer)[]): Promise<string> {
  const client = await RawClient.connect(port);
  for (const chunk of chunks) client.write(chunk);
  return client.closed;
}

/** The same, but half-close right after the last byte (FIN), as `nc -N` does. */
export async function rawHalfClose(port: number, request: string | Buffer): Promise<string> {
  const client = await RawClient.connect(port);
  client.socket.end(request);
  return client.closed;
}

/** A snapshot of a folder (names, sizes, modification times) to prove nothing wrote there. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true })) {
    const file = path.join(dir, entry);
    const info = await stat(file);
    out[entry] = `${info.size}:${info.mtimeMs}:${info.isDirectory() ? 'dir' : 'file'}`;
  }
  return out;
}

export async function readJsonFile(file: string): Promise<any> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/** A request that must always work: proves the server survived whatever came before. */
export async function expectAlive(port: number): Promise<void> {
  const res = await request(port, { path: '/' });
  expect(res.status).toBe(200);
  expect(res.body.toString()).toContain('<h1>');
}

/**
 * Send bytes on a fresh connection; resolve with the first response once its head and
 * body are in, or with whatever came when the server closed. Then hang up.
 */
export async function firstResponse(port: number, ...chunks: (string | Buffer)[]): Promise<Parsed & { text: string }> {
  const client = await RawClient.connect(port);
  for (const chunk of chunks) client.write(chunk);
  const text = await Promise.race([client.until((t) => parseResponses(t).length > 0), client.closed]);
  client.destroy();
  return { ...(parseResponses(text)[0] ?? parseResponse(text)), text };
}

/**
 * `printf REQUEST | nc -N 127.0.0.1 PORT`, the way the teaching texts show HTTP by hand:
 * nc sends the request, then half-closes (FIN: "nothing more from me"), prints what
 * comes back and exits when the server closes. Resolves with what it printed; rejects,
 * saying so, if the server has not closed the connection within 10 s.
 */
export function ncHalfClose(port: number, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nc', ['-N', '127.0.0.1', String(port)], { encoding: 'latin1', timeout: 10_000 }, (err, stdout) => {
      if (err) reject(new Error(`nc -N to port ${port} did not end: the server did not close the connection after its answer (${err.message})\ngot: ${stdout}`));
      else resolve(stdout);
    });
    child.stdin!.end(input);
  });
}
