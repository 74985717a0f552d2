/**
 * Test helpers for the HTTP service: start a real HttpServer on 127.0.0.1:0 with a
 * temp data directory, and talk to it with real clients: curl, node:http, and raw
 * TCP sockets for what well-behaved clients refuse to send.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../services/common/logger';
import { HttpServer, type HttpServerOptions } from '../../../services/http/server';
import { LogCollector } from '../../helpers/logs';
import { LAB_DIR } from '../../helpers/paths';
import { run, type RunResult } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { within, type WaitOptions } from '../../helpers/wait';

/** The lab's site. */
export const WWW = path.join(LAB_DIR, 'www');
export const CURL = '/usr/bin/curl';

export function tempDir(prefix = 'wirelab-http-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A request's log line in the common log format (logged by HTTP, the proxy and the app):
 * `127.0.0.1 - user [date] "request line" status size`, then key=value fields.
 */
export const CLF_LINE = /^\S+ \S+ info (\S+ - \S+ \[[^\]]+\] ".*" (?:\d{3}|-) (?:\d+|-))(?: \w+=\S+)*$/;

/** The common-log-format lines (one per request), without the logger's prefix and fields. */
export function clf(logs: LogCollector): string[] {
  return logs.matching(CLF_LINE).map((line) => CLF_LINE.exec(line)![1]!);
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
export async function startServer(options: HttpServerOptions = {}, labDir = LAB_DIR, dataDir?: string): Promise<RunningServer> {
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

/** Run the real curl. Never through a proxy: the lab is 127.0.0.1 only. Its output is read octet for octet (latin1). */
export function curl(...args: string[]): Promise<RunResult> {
  return run(CURL, ['--silent', '--show-error', '--noproxy', '*', '--max-time', '20', ...args], { encoding: 'latin1' });
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

/** One request with node:http's client, within the deadline. */
export function request(
  port: number,
  options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent } & WaitOptions = {},
): Promise<NodeResponse> {
  const method = options.method ?? 'GET';
  const target = options.path ?? '/';
  const response = new Promise<NodeResponse>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
  return within(response, `the response to ${method} ${target} from 127.0.0.1:${port}`, options);
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

/** A raw TCP client (any bytes, what comes back, the close) that can also cut HTTP responses out of what came. */
export class RawClient extends RawSocket {
  /** Resolves when `count` complete responses have arrived. */
  async responses(count: number, options?: WaitOptions): Promise<Parsed[]> {
    return parseResponses(await this.waitFor((t) => parseResponses(t).length >= count, { ...options, what: `${count} whole HTTP response(s)` }));
  }
}

/** Send bytes on a fresh connection and return everything received until the server closes it. */
export async function raw(port: number, ...chunks: (string | Buffer)[]): Promise<string> {
  const client = await RawClient.connect(port);
  for (const chunk of chunks) client.write(chunk);
  return client.rest();
}

/** The same, but half-close right after the last byte (FIN), as `nc -N` does. */
export async function rawHalfClose(port: number, request: string | Buffer): Promise<string> {
  const client = await RawClient.connect(port);
  client.end(request);
  return client.rest();
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
  const text = await client.waitFor((t) => parseResponses(t).length > 0 || client.socket.destroyed, { what: 'a whole HTTP response, or the close' });
  client.destroy();
  return { ...(parseResponses(text)[0] ?? parseResponse(text)), text };
}

/**
 * `printf REQUEST | nc -N 127.0.0.1 PORT`, the way the teaching texts show HTTP by hand:
 * nc sends the request, then half-closes (FIN: "nothing more from me"), prints what
 * comes back and exits when the server closes. Resolves with what it printed; fails,
 * saying so, if the server has not closed the connection within 10 s.
 */
export async function ncHalfClose(port: number, input: string): Promise<string> {
  const result = await run('nc', ['-N', '127.0.0.1', String(port)], { encoding: 'latin1', input, ms: 10_000 }).catch((err: Error) => {
    throw new Error(`nc -N to port ${port} did not end: the server did not close the connection after its answer (${err.message})`);
  });
  if (result.code !== 0) throw new Error(`nc -N to port ${port} failed (exit ${result.code}): ${result.stderr}\ngot: ${result.stdout}`);
  return result.stdout;
}

/**
 * One connection of a greedy client (tests/helpers/fairness.ts): a keep-alive request on
 * it; a 200 keeps it (held open for keepAliveTimeoutMs), anything else is the refusal,
 * as its status line and Retry-After.
 */
export async function keptAlive(port: number, host = 'www.lab.test'): Promise<RawClient | string> {
  const c = await RawClient.connect(port);
  c.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const [response] = await c.responses(1);
  if (response!.status === 200) return c;
  c.destroy();
  return `${response!.statusLine}; Retry-After: ${response!.headers['retry-after']}; Connection: ${response!.headers.connection}`;
}
