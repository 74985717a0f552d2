import { z } from 'zod';
import type { Executor, StepOutput } from '../types';
import { connect } from '../tcp/connect';
import { Connection } from '../connection';
import { multiLine, numbered, singleLine, type Pop3Reply } from './protocol';
import { parseMessage } from './message';

/**
 * `pop3:` — log in to a mailbox, list it, retrieve messages, delete some, quit
 * (RFC 1939). See README.md beside this file.
 */

export const pop3Schema = z
  .object({
    host: z.string().default('mail.lab.test').describe('The POP3 server, a lab host.'),
    port: z.number().int().min(1).max(65535).default(110),
    user: z.string().min(1),
    password: z.string(),
    retrieve: z
      .union([z.enum(['all', 'none', 'last', 'first']), z.number().int().min(1)])
      .default('all')
      .describe('Which messages to RETR: all, none, first, last, or a message number.'),
    delete: z
      .union([z.enum(['all', 'none', 'retrieved']), z.array(z.number().int().min(1))])
      .default('none')
      .describe('Which messages to DELE before QUIT: none, all, retrieved, or a list of numbers.'),
    commands: z.array(z.string()).default([]).describe('Extra command lines to send (after login, or instead of it with login: false).'),
    login: z.boolean().default(true).describe('Send USER and PASS. false: send `commands` without logging in.'),
    quit: z.boolean().default(true).describe('End with QUIT (which commits deletions). false: just drop the connection.'),
  })
  .strict();

export type Pop3Input = z.infer<typeof pop3Schema>;

/** Commands whose +OK reply has a body ending in "." (RFC 1939, RFC 2449 CAPA). */
function isMultiLine(command: string): boolean {
  const [verb, arg] = command.trim().split(/\s+/);
  const v = (verb ?? '').toUpperCase();
  return v === 'CAPA' || v === 'RETR' || v === 'TOP' || ((v === 'LIST' || v === 'UIDL') && arg === undefined);
}

const describe = (reply: Pop3Reply): string => `${reply.ok ? '+OK' : '-ERR'} ${reply.text}${reply.lines ? ` (${reply.lines.length} lines)` : ''}`;

export const pop3Executor: Executor<Pop3Input> = {
  name: 'pop3',
  schema: pop3Schema,
  describe: (input) => `POP3 ${input.user}@${input.host}`,
  async run(input, ctx) {
    const route = await ctx.network.locate(input.host, input.port, ctx.wire, ctx.signal);
    const pop = new Connection(await connect(route, ctx.wire, ctx.signal, 'pop3'), route, ctx.wire, 'pop3');
    const command = async (line: string): Promise<Pop3Reply> => {
      pop.send(line);
      return pop.read(isMultiLine(line) ? multiLine : singleLine, { describe }, ctx.signal);
    };
    const output: StepOutput = { address: route.address };
    try {
      output.greeting = (await pop.read(singleLine, { describe }, ctx.signal)).text;
      const replies: StepOutput[] = [];
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
        if (pass.ok) Object.assign(output, await session(input, command));
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
async function session(input: Pop3Input, command: (line: string) => Promise<Pop3Reply>): Promise<StepOutput> {
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
  const retrieved: StepOutput[] = [];
  for (const number of wanted) {
    const reply = await command(`RETR ${number}`);
    if (!reply.ok) {
      retrieved.push({ number, ok: false, text: reply.text });
      continue;
    }
    const raw = (reply.lines ?? []).join('\r\n') + '\r\n';
    retrieved.push({ number, uid: uids.get(number), size: Buffer.byteLength(raw), raw, ...parseMessage(raw) });
  }
  const toDelete =
    input.delete === 'all' ? numbers : input.delete === 'none' ? [] : input.delete === 'retrieved' ? wanted : input.delete;
  const deleted: number[] = [];
  for (const number of toDelete) if ((await command(`DELE ${number}`)).ok) deleted.push(number);
  return { count, size, messages, retrieved, message: retrieved[retrieved.length - 1], deleted };
}
