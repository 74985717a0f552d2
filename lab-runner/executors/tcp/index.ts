import { z } from 'zod';
import { startTls } from '../../tls/client';
import { CLIENT, connect, StepError, StreamOffsets } from '../../wire';
import { outputSchema, type Executor } from '../types';

/**
 * `tcp:` — open a connection, write raw text or bytes, read until a pattern or until
 * the server closes. The lesson: HTTP, SMTP and friends are just text on a socket.
 */

export const tcpSchema = z
  .object({
    host: z.string().min(1).describe('A lab host (resolved through the lab DNS) or address.'),
    port: z.number().int().min(1).max(65535),
    send: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('Text to write; a list is written as separate writes, in order.'),
    lines: z.array(z.string()).optional().describe('Lines to write, each ended with CRLF, in one write.'),
    hex: z
      .string()
      .regex(/^([0-9a-fA-F]{2}\s*)*$/, 'hex is pairs of hex digits, e.g. "47 45 54"')
      .optional()
      .describe('Bytes to write, as hex.'),
    tls: z
      .boolean()
      .default(false)
      .describe('Speak TLS from the first byte (implicit TLS: HTTPS 443, SMTPS 465, POP3S 995, FTPS 990), trusting the lab CA; what is sent and received is then the plain text inside.'),
    until: z
      .string()
      .default('close')
      .describe('Read until the server closes ("close", the default) or until the text received matches this regular expression.'),
  })
  .strict();

export type TcpInput = z.infer<typeof tcpSchema>;

export const tcpOutput = outputSchema({
  address: z.string().describe('The address connected to.'),
  received: z.string().describe('Everything received, as text.'),
  size: z.number().describe('Bytes received.'),
  closed: z.boolean().describe('The server closed the connection.'),
  matched: z.boolean().describe('What was received matches `until`.'),
  firstLine: z.string(),
  lines: z.array(z.string()),
});

export type TcpOutput = z.infer<typeof tcpOutput>;

/** What to write, as separate writes: `lines` (a request's head), then `send` (a body), then `hex`. */
export function writesOf(input: TcpInput): Buffer[] {
  const writes: Buffer[] = [];
  // lines first (a request's head), then send (a body), then hex.
  if (input.lines) writes.push(Buffer.from(input.lines.map((l) => l + '\r\n').join(''), 'utf8'));
  if (input.send !== undefined) for (const s of [input.send].flat()) writes.push(Buffer.from(s, 'utf8'));
  if (input.hex) writes.push(Buffer.from(input.hex.replace(/\s+/g, ''), 'hex'));
  return writes;
}

export const tcpExecutor: Executor<TcpInput, TcpOutput> = {
  name: 'tcp',
  schema: tcpSchema,
  output: tcpOutput,
  describe: (input) => `TCP ${input.host}:${input.port}`,
  async run(input, ctx) {
    let pattern: RegExp | undefined;
    try {
      pattern = input.until === 'close' ? undefined : new RegExp(input.until);
    } catch (err) {
      throw new StepError(`until: not a regular expression: ${(err as Error).message}`);
    }
    const route = await ctx.network.locate(input.host, input.port, ctx.wire, ctx.signal);
    const tcp = await connect(route, ctx.wire, ctx.signal, 'tcp');
    tcp.setNoDelay(true); // each write leaves as its own segment
    // Implicit TLS (RFC 8314) with the runner's TLS client: the lab CA trusted, the name checked, the handshake in the transcript.
    const socket = input.tls ? (await startTls(tcp, { route, host: input.host }, ctx)).socket : tcp;
    const chunks: Buffer[] = [];
    const text = (): string => Buffer.concat(chunks).toString('utf8');
    // Inside TLS the events are the plain text the runner sent and read, marked encrypted (the padlock).
    const record = { protocol: 'tcp', transport: 'tcp', ...(input.tls ? { encrypted: true } : {}) } as const;
    // Over TLS the bytes on the wire are records, not these: the events keep their ends, but no offset.
    const offsets = new StreamOffsets(tcp);
    const place = (kind: 'send' | 'recv', length: number) => (input.tls ? offsets.ends : offsets.next(kind, length));

    const finished = new Promise<{ closed: boolean; matched: boolean }>((resolve, reject) => {
      const onAbort = (): void => {
        socket.destroy();
        const got = Buffer.concat(chunks).length;
        reject(new StepError(`${pattern ? `no match for /${input.until}/` : 'the server did not close the connection'} in time; received ${got} bytes${got ? `: ${JSON.stringify(text().slice(0, 200))}` : ''}`, 'ETIMEDOUT'));
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const settle = (result: { closed: boolean; matched: boolean }): void => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        ctx.wire.record({ ...record, kind: 'recv', from: route.label, to: CLIENT, summary: firstLine(chunk), text: chunk.toString('utf8'), bytes: chunk, ...place('recv', chunk.length) });
        if (pattern?.test(text())) settle({ closed: false, matched: true });
      });
      socket.on('end', () => {
        ctx.wire.record({ ...record, kind: 'close', from: route.label, to: CLIENT, summary: 'server closed the connection' });
        settle({ closed: true, matched: pattern ? pattern.test(text()) : false });
      });
      socket.on('error', (err) => {
        ctx.signal.removeEventListener('abort', onAbort);
        reject(new StepError(`connection to ${route.label} failed: ${err.message}`));
      });
    });
    finished.catch(() => {}); // awaited below; this only keeps an early rejection from going unhandled

    for (const bytes of writesOf(input)) {
      ctx.wire.record({ ...record, kind: 'send', from: CLIENT, to: route.label, summary: firstLine(bytes), text: bytes.toString('utf8'), bytes, ...place('send', bytes.length) });
      await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
    }
    try {
      const { closed, matched } = await finished;
      const received = text();
      return { address: route.address, received, size: Buffer.concat(chunks).length, closed, matched, firstLine: received.split(/\r?\n/)[0] ?? '', lines: received.split(/\r?\n/) };
    } finally {
      socket.destroy();
    }
  },
};

function firstLine(bytes: Buffer): string {
  const line = bytes.toString('utf8').split(/\r?\n/)[0] ?? '';
  const more = bytes.length > line.length + 2 ? ` (+${bytes.length - line.length} bytes)` : '';
  return (line.length > 80 ? line.slice(0, 77) + '...' : line) + more;
}
