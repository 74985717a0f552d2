import { z } from 'zod';
import { openMaybeTls, tlsRequired } from '../../tls/client';
import { connect, Connection } from '../../wire';
import { splitTls, tlsWithMode, upgradeSchema } from '../tls/settings';
import { outputSchema, type Executor, type Session } from '../types';
import { multiLine, numbered, singleLine, type Pop3Reply } from './protocol';
import { parseMessage, sentBy } from './message';

/**
 * `pop3:` — log in to a mailbox, list it, retrieve messages, delete some, quit
 * (RFC 1939); inside TLS after STLS (RFC 2595) or from the first byte (POP3S, port
 * 995, RFC 8314). See README.md beside this file.
 */

export const pop3Schema = z
  .object({
    host: z.string().default('mail.lab.test').describe('The POP3 server, a lab host.'),
    port: z.number().int().min(1).max(65535).optional().describe('Default: 110, or 995 with tls: implicit.'),
    stls: upgradeSchema('Ask for TLS before logging in (STLS, RFC 2595). true: if the server refuses, go on in clear; required: else stop, sending no password.'),
    tls: tlsWithMode(['implicit'], 'implicit: TLS from the first byte (POP3S, port 995). And the TLS settings: ca, servername, insecure, minVersion, maxVersion.'),
    user: z.string().min(1),
    password: z.string(),
    retrieve: z
      .union([z.enum(['all', 'none', 'last', 'first']), z.number().int().min(1)])
      .default('all')
      .describe('Which messages to RETR: all, none, first, last, or a message number.'),
    delete: z
      .union([z.enum(['all', 'none', 'retrieved']), z.array(z.number().int().min(1))])
      .default('none')
      .describe(
        'Which messages to DELE before QUIT: none; retrieved (those this scenario sent, and their bounces: any other mail stays); all (every message, whoever sent it); or a list of numbers.',
      ),
    commands: z.array(z.string()).default([]).describe('Extra command lines to send (after login, or instead of it with login: false).'),
    login: z.boolean().default(true).describe('Send USER and PASS. false: send `commands` without logging in.'),
    quit: z.boolean().default(true).describe('End with QUIT (which commits deletions). false: just drop the connection.'),
  })
  .strict();

export type Pop3Input = z.infer<typeof pop3Schema>;

const status = z.strictObject({ ok: z.boolean().describe('+OK (true) or -ERR (false).'), text: z.string() });

/** A retrieved message, split as RFC 5322 says (message.ts); `headers` is open: the message's own field names. */
const retrievedMessage = z.strictObject({
  number: z.number(),
  uid: z.string().optional(),
  size: z.number(),
  raw: z.string(),
  headers: z.record(z.string(), z.string()).describe('Header fields by lower-case name (the first of a repeated one).'),
  received: z.array(z.string()).describe('Every Received: field, the last hop first.'),
  fields: z.array(z.tuple([z.string(), z.string()])),
  body: z.string(),
  subject: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
});

/** A RETR: the message, or the -ERR it got. */
const retrieval = z.union([retrievedMessage, z.strictObject({ number: z.number(), ok: z.literal(false), text: z.string() })]);

export const pop3Output = outputSchema({
  address: z.string(),
  greeting: z.string().optional(),
  stls: status.extend({ secure: z.boolean().describe('The session went on inside TLS.') }).optional().describe('The reply to STLS.'),
  loggedIn: z.boolean().optional(),
  login: status.optional().describe('The reply to PASS (or to USER when that was refused).'),
  count: z.number().optional().describe('Messages in the mailbox (STAT).'),
  size: z.number().optional().describe('Octets in the mailbox (STAT).'),
  messages: z.array(z.strictObject({ number: z.number(), size: z.number(), uid: z.string().optional() })).optional(),
  retrieved: z.array(retrieval).optional(),
  message: retrieval.optional().describe('The last of `retrieved`.'),
  deleted: z.array(z.number()).optional(),
  kept: z.array(z.number()).optional().describe('delete: retrieved: the retrieved messages left in the mailbox because this scenario did not send them.'),
  replies: z.array(status.extend({ command: z.string(), lines: z.array(z.string()).optional() })).optional().describe('The extra `commands` and their replies.'),
  quit: status.optional(),
});

export type Pop3Output = z.infer<typeof pop3Output>;

/** Commands whose +OK reply has a body ending in "." (RFC 1939, RFC 2449 CAPA). */
function isMultiLine(command: string): boolean {
  const [verb, arg] = command.trim().split(/\s+/);
  const v = (verb ?? '').toUpperCase();
  return v === 'CAPA' || v === 'RETR' || v === 'TOP' || ((v === 'LIST' || v === 'UIDL') && arg === undefined);
}

const describe = (reply: Pop3Reply): string => `${reply.ok ? '+OK' : '-ERR'} ${reply.text}${reply.lines ? ` (${reply.lines.length} lines)` : ''}`;

export const pop3Executor: Executor<Pop3Input, Pop3Output> = {
  name: 'pop3',
  schema: pop3Schema,
  output: pop3Output,
  describe: (input) => `POP3 ${input.user}@${input.host}${splitTls(input.tls).mode ? ' (TLS)' : input.stls ? ' (STLS)' : ''}`,
  async run(input, ctx) {
    const { mode, settings } = splitTls(input.tls);
    const route = await ctx.network.locate(input.host, input.port ?? (mode === 'implicit' ? 995 : 110), ctx.wire, ctx.signal);
    const socket = await connect(route, ctx.wire, ctx.signal, 'pop3');
    const tls = await openMaybeTls(socket, mode === 'implicit', { route, host: input.host, settings }, ctx);
    const pop = new Connection(tls.socket, route, ctx.wire, 'pop3');
    const command = async (line: string): Promise<Pop3Reply> => {
      pop.send(line);
      return pop.read(isMultiLine(line) ? multiLine : singleLine, { describe }, ctx.signal);
    };
    const output: Pop3Output = { address: route.address };
    try {
      output.greeting = (await pop.read(singleLine, { describe }, ctx.signal)).text;
      if (input.stls && !pop.secure) {
        const stls = await command('STLS');
        if (stls.ok) await pop.upgrade(tls.upgrade);
        output.stls = { ok: stls.ok, text: stls.text, secure: pop.secure };
        if (!pop.secure && input.stls === 'required') {
          await command('QUIT').catch(() => undefined);
          throw tlsRequired(route.label, `refused STLS (-ERR ${stls.text})`, 'STLS refused');
        }
      }
      const handshake = tls.handshake();
      if (handshake) output.tls = handshake;
      const replies: NonNullable<Pop3Output['replies']> = [];
      const run = async (lines: string[]): Promise<void> => {
        for (const line of lines) {
          const reply = await command(line);
          replies.push({ command: line, ok: reply.ok, text: reply.text, ...(reply.lines ? { lines: reply.lines } : {}) });
        }
      };
      if (!input.login) {
        await run(input.commands);
        output.replies = replies;
        output.loggedIn = false;
      } else {
        const user = await command(`USER ${input.user}`);
        const pass = user.ok ? await command(`PASS ${input.password}`) : user;
        output.login = { ok: pass.ok, text: pass.text };
        output.loggedIn = pass.ok;
        if (pass.ok) Object.assign(output, await session(input, command, ctx.session));
        await run(input.commands);
        output.replies = replies;
      }
      if (input.quit && pop.open) {
        const quit = await command('QUIT');
        output.quit = { ok: quit.ok, text: quit.text };
      }
      return output;
    } finally {
      pop.close();
    }
  },
};

/** STAT, UIDL, LIST, then RETR and DELE as asked. */
async function session(input: Pop3Input, command: (line: string) => Promise<Pop3Reply>, scenario: Session): Promise<Partial<Pop3Output>> {
  const stat = await command('STAT');
  const [count, size] = stat.text.split(' ').map(Number);
  const uids = new Map(numbered((await command('UIDL')).lines ?? []));
  const messages = numbered((await command('LIST')).lines ?? []).map(([number, octets]) => ({ number, size: Number(octets), uid: uids.get(number) }));
  const numbers = messages.map((m) => m.number);
  const wanted =
    input.retrieve === 'all' ? numbers
    : input.retrieve === 'none' ? []
    : input.retrieve === 'first' ? numbers.slice(0, 1)
    : input.retrieve === 'last' ? numbers.slice(-1)
    : [input.retrieve];
  const retrieved: NonNullable<Pop3Output['retrieved']> = [];
  for (const number of wanted) {
    const reply = await command(`RETR ${number}`);
    if (!reply.ok) {
      retrieved.push({ number, ok: false, text: reply.text });
      continue;
    }
    const raw = (reply.lines ?? []).join('\r\n') + '\r\n';
    retrieved.push({ number, uid: uids.get(number), size: Buffer.byteLength(raw), raw, ...parseMessage(raw) });
  }
  // `retrieved` deletes only what this scenario sent: run against a lab a student uses, their own mail stays.
  const got = retrieved.filter((m) => 'raw' in m);
  const ours = (m: (typeof got)[number]): boolean => Boolean(scenario.ownsMailbox) || sentBy(m.raw, scenario.sentMessageIds);
  const kept = input.delete === 'retrieved' ? got.filter((m) => !ours(m)).map((m) => m.number) : undefined;
  const toDelete =
    input.delete === 'all' ? numbers
    : input.delete === 'none' ? []
    : input.delete === 'retrieved' ? got.filter(ours).map((m) => m.number)
    : input.delete;
  const deleted: number[] = [];
  for (const number of toDelete) if ((await command(`DELE ${number}`)).ok) deleted.push(number);
  return { count, size, messages, retrieved, message: retrieved[retrieved.length - 1], deleted, ...(kept ? { kept } : {}) };
}
