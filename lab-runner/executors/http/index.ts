import { z } from 'zod';
import { startTls } from '../../tls/client';
import { connect, StepError } from '../../wire';
import { tlsSettingsSchema } from '../tls/settings';
import { outputSchema, type ExecContext, type Executor } from '../types';
import { HttpConnection } from './connection';
import { buildRequest, parseHttpUrl, resolveLocation } from './request';
import type { HttpResponse } from './parse';

/**
 * `http:` — one HTTP/1.1 request and its response, in clear (http://) or inside TLS
 * (https://: a handshake first, with ALPN http/1.1 and the URL's host as SNI). See
 * README.md beside this file.
 */

export const httpSchema = z
  .object({
    url: z.string().min(1).describe('http://HOST[:PORT]/PATH or https://...; the host is resolved through the lab DNS.'),
    method: z.string().regex(/^[A-Za-z]+$/, 'a method is letters only, e.g. GET').default('GET'),
    headers: z.record(z.string(), z.union([z.string(), z.number()])).default({}).describe('Request header fields, sent in this order.'),
    body: z.string().optional().describe('The request body, as text.'),
    json: z.unknown().optional().describe('A body sent as JSON, with Content-Type: application/json.'),
    follow: z.union([z.boolean(), z.number().int().min(0).max(20)]).default(false).describe('Follow redirects (true: up to 5). Default: no.'),
    connection: z.string().optional().describe('Keep the connection open under this name; later steps with the same name reuse it.'),
    version: z.enum(['1.1', '1.0']).default('1.1'),
    tls: tlsSettingsSchema.optional().describe('For https:// URLs: whom to trust, the name to ask for, the TLS versions.'),
  })
  .strict()
  .refine((v) => v.body === undefined || v.json === undefined, { message: 'give either body or json, not both' });

export type HttpInput = z.infer<typeof httpSchema>;

const connectionOutput = z.strictObject({
  name: z.string().optional().describe('The `connection:` name, when the connection is kept.'),
  reused: z.boolean().describe('The request went over a connection an earlier step opened.'),
  localPort: z.number().describe("The client's port: the same on every request of one connection."),
  requests: z.number().describe('How many requests the connection has carried.'),
});

export const httpOutput = outputSchema({
  url: z.string().describe('The final URL, after redirects.'),
  address: z.string().describe('The address connected to, as the lab DNS gave it.'),
  httpVersion: z.string(),
  status: z.number(),
  reason: z.string(),
  headers: z.record(z.string(), z.string()).describe('Header fields by lower-case name; a repeated field joined with ", ".'),
  rawHeaders: z.array(z.tuple([z.string(), z.string()])).describe('[name, value] pairs as received.'),
  body: z.string(),
  json: z.unknown().optional().describe('The body parsed, when the Content-Type says JSON.'),
  size: z.number().describe('Bytes of the body.'),
  connection: connectionOutput,
  redirects: z.array(z.strictObject({ status: z.number(), location: z.string() })),
});

export type HttpOutput = z.infer<typeof httpOutput>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export const httpExecutor: Executor<HttpInput, HttpOutput> = {
  name: 'http',
  schema: httpSchema,
  output: httpOutput,
  describe: (input) => `${input.method.toUpperCase()} ${input.url}`,
  async run(input, ctx) {
    const maxRedirects = input.follow === true ? 5 : input.follow === false ? 0 : input.follow;
    let method = input.method.toUpperCase();
    let url = input.url;
    let body = input.json !== undefined ? Buffer.from(JSON.stringify(input.json)) : input.body !== undefined ? Buffer.from(input.body) : undefined;
    const headers = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k, String(v)]));
    if (input.json !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    const redirects: HttpOutput['redirects'] = [];

    for (;;) {
      const { response, connection, address, tls } = await send(ctx, input, url, method, headers, body);
      const location = response.headers.location;
      if (REDIRECTS.has(response.status) && location && redirects.length < maxRedirects) {
        redirects.push({ status: response.status, location });
        url = resolveLocation(url, location);
        // RFC 9110 15.4: 303 (and, as browsers do, 301/302 after POST) continue with GET and no body.
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      return { ...output(response, url, address, connection, redirects), ...(tls ? { tls } : {}) };
    }
  },
};

async function send(ctx: ExecContext, input: HttpInput, url: string, method: string, headers: Record<string, string>, body: Buffer | undefined) {
  let parsed;
  try {
    parsed = parseHttpUrl(url);
  } catch (err) {
    throw new StepError((err as Error).message, 'EURL');
  }
  const route = await ctx.network.locate(parsed.host, parsed.port, ctx.wire, ctx.signal);
  const key = input.connection ? `http:${input.connection}` : undefined;
  let connection = key ? (ctx.session.resources.get(key) as HttpConnection | undefined) : undefined;
  let reused = false;
  if (connection?.open && connection.route.label === route.label && connection.secure === parsed.secure) {
    connection.useWire(ctx.wire);
    reused = true;
  } else {
    connection?.close();
    const socket = await connect(route, ctx.wire, ctx.signal, 'http');
    if (parsed.secure) {
      // The URL's host is the name asked for (SNI) and checked in the certificate, wherever the lab routes it.
      const secure = await startTls(socket, { route, host: parsed.host, alpn: ['http/1.1'], settings: input.tls }, ctx).catch((err: unknown) => {
        socket.destroy();
        throw err;
      });
      connection = new HttpConnection(secure.socket, route, ctx.wire, secure.handshake);
    } else connection = new HttpConnection(socket, route, ctx.wire);
    if (key) ctx.session.resources.set(key, connection);
  }
  const request = buildRequest({ method, target: parsed.target, host: parsed.authority, headers, body, close: !key, version: input.version });
  try {
    const response = await connection.exchange(request, method, `${method} ${parsed.target} HTTP/${input.version}`, ctx.signal);
    return {
      response,
      connection: { name: input.connection, reused, localPort: connection.localPort, requests: connection.requests },
      address: route.address,
      tls: connection.handshake,
    };
  } finally {
    if (!key) connection.close();
  }
}

function output(response: HttpResponse, url: string, address: string, connection: HttpOutput['connection'], redirects: HttpOutput['redirects']): HttpOutput {
  const text = response.body.toString('utf8');
  let json: unknown;
  if (/\bjson\b/i.test(response.headers['content-type'] ?? '') && text.trim()) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined; // Not valid JSON after all: `json` stays absent and `body` has the text.
    }
  }
  return {
    url,
    address,
    httpVersion: response.httpVersion,
    status: response.status,
    reason: response.reason,
    headers: response.headers,
    rawHeaders: response.rawHeaders,
    body: text,
    ...(json !== undefined ? { json } : {}),
    size: response.body.length,
    connection,
    redirects,
  };
}
