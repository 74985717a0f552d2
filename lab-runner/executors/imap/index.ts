import { z } from 'zod';
import { openMaybeTls, tlsRequired } from '../../tls/client';
import { CLIENT, connect, Connection } from '../../wire';
import { splitTls, tlsWithMode, upgradeSchema } from '../tls/settings';
import { outputSchema, type Executor } from '../types';
import { runAction, actionSchema, resultSchema, type ActionResult } from './actions';
import { astring, type ImapResponse } from './protocol';
import { ImapSession, type Completion, type SelectedView } from './session';

/**
 * `imap:` — an IMAP session (RFC 9051): the greeting, STARTTLS when asked (or TLS from
 * the first byte: IMAPS, port 993), LOGIN or AUTHENTICATE PLAIN, then actions in order
 * (LIST, SELECT, FETCH, STORE, APPEND, MOVE, IDLE ...), then LOGOUT. The client is this
 * folder's own, small on purpose: the transcript holds every tagged command and every
 * response as it crossed the wire, the password too (marked encrypted inside TLS).
 * See README.md beside this file.
 */

export const imapSchema = z
  .object({
    host: z.string().default('mail.lab.test').describe('The IMAP server, a lab host.'),
    port: z.number().int().min(1).max(65535).optional().describe('Default: 143, or 993 with tls: implicit.'),
    starttls: upgradeSchema(
      'Ask for TLS before logging in (STARTTLS, RFC 9051 6.2.1). true: when the server offers it, else go on in clear; required: else stop (LOGOUT), sending no password.',
    ),
    tls: tlsWithMode(['implicit'], 'implicit: TLS from the first byte (IMAPS, port 993, RFC 8314). And the TLS settings: ca, servername, insecure, minVersion, maxVersion.'),
    user: z.string().min(1).optional().describe('Log in as this user. Without it the session stays not authenticated (the greeting, CAPABILITY...).'),
    password: z.string().default(''),
    mechanism: z
      .enum(['LOGIN', 'PLAIN'])
      .default('LOGIN')
      .describe('LOGIN user password, or AUTHENTICATE PLAIN (RFC 4616: base64 of "\\0user\\0password", in the command with SASL-IR).'),
    actions: z.array(actionSchema).default([]).describe('In order, after the login: list, select, examine, status, create, delete, fetch, search, store, copy, move, expunge, append, idle, noop, close, command.'),
    logout: z.boolean().default(true).describe('End with LOGOUT. false: just drop the connection.'),
  })
  .strict();

export type ImapInput = z.infer<typeof imapSchema>;

const status = z.enum(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);

const untagged = z.strictObject({
  text: z.string().describe('The response as received, each literal shown as {n} without its octets.'),
  type: z.string().describe('EXISTS, EXPUNGE, FETCH, FLAGS, LIST, SEARCH, CAPABILITY, OK, BYE...'),
  number: z.number().optional().describe('The message number of `* 3 EXISTS`, `* 1 FETCH`...'),
  code: z.string().optional().describe('The response code of a status: UIDVALIDITY, ALERT...'),
});

export const mailboxView = z.strictObject({
  name: z.string(),
  readOnly: z.boolean().describe('Selected with EXAMINE, or the server said [READ-ONLY].'),
  exists: z.number().optional().describe('Messages in the mailbox (EXISTS), kept up to date by the news that came after SELECT.'),
  recent: z.number().optional(),
  uidvalidity: z.number().optional().describe('UIDs are good as long as this stays the same.'),
  uidnext: z.number().optional().describe('The UID the next message will get (at least).'),
  unseen: z.number().optional().describe('The number of the first message without \\Seen.'),
  flags: z.array(z.string()).optional().describe('The flags messages here can have (FLAGS).'),
  permanentFlags: z.array(z.string()).optional().describe('The flags that survive the session (PERMANENTFLAGS); \\* means new keywords may be made.'),
});

const statusLine = z.strictObject({ status, code: z.string().optional(), text: z.string() });

export const imapOutput = outputSchema({
  address: z.string(),
  greeting: statusLine.optional().describe('The first response: * OK (ready), * PREAUTH (logged in already) or * BYE (go away).'),
  starttls: z
    .strictObject({
      offered: z.boolean().describe('The capabilities in clear listed STARTTLS.'),
      capabilities: z.array(z.string()).describe('What the server said it can do in clear (LOGINDISABLED...).'),
      status: status.optional().describe('The answer to STARTTLS: OK to begin the handshake.'),
      text: z.string().optional(),
      secure: z.boolean().describe('The session went on inside TLS.'),
    })
    .optional()
    .describe('With starttls: what the server offered in clear, and whether the session went into TLS.'),
  capabilities: z.array(z.string()).describe('What the server said it can do, last: after login it may say more (or less).'),
  loggedIn: z.boolean(),
  login: statusLine.extend({ mechanism: z.enum(['LOGIN', 'PLAIN']) }).optional().describe('The tagged answer to LOGIN or AUTHENTICATE: NO [AUTHENTICATIONFAILED], NO [PRIVACYREQUIRED]...'),
  results: z.array(resultSchema).describe('One per action, in order.'),
  last: resultSchema.optional().describe('The last action\'s result.'),
  mailboxes: resultSchema.shape.mailboxes.describe('What the last list action found.'),
  mailbox: mailboxView.optional().describe('The selected mailbox at the end: its counts, as SELECT said and the news after it changed them.'),
  messages: resultSchema.shape.messages.describe('The messages the last fetch or store action reported.'),
  message: resultSchema.shape.message.describe('The last of messages.'),
  search: resultSchema.shape.search.describe('What the last search found.'),
  untagged: z.array(untagged).describe('Every untagged response of the session, in order (* 3 EXISTS, * 1 FETCH (...), * LIST ...).'),
  commands: z
    .array(z.strictObject({ tag: z.string(), command: z.string(), status, code: z.string().optional(), text: z.string() }))
    .describe('Every command sent and its tagged answer.'),
  logout: statusLine.optional().describe('The answer to LOGOUT (after * BYE).'),
});

export type ImapOutput = z.infer<typeof imapOutput>;

export const imapExecutor: Executor<ImapInput, ImapOutput> = {
  name: 'imap',
  schema: imapSchema,
  output: imapOutput,
  describe: (input) => {
    const tls = splitTls(input.tls).mode ? ' (TLS)' : input.starttls ? ' (STARTTLS)' : '';
    return `IMAP ${input.user ? `${input.user}@` : ''}${input.host}${tls}${input.actions.length ? ` (${input.actions.map((a) => Object.keys(a)[0]).join(', ')})` : ''}`;
  },
  async run(input, ctx) {
    const { mode, settings } = splitTls(input.tls);
    const route = await ctx.network.locate(input.host, input.port ?? (mode === 'implicit' ? 993 : 143), ctx.wire, ctx.signal);
    const socket = await connect(route, ctx.wire, ctx.signal, 'imap');
    const tls = await openMaybeTls(socket, mode === 'implicit', { route, host: input.host, settings }, ctx);
    const connection = new Connection(tls.socket, route, ctx.wire, 'imap');
    const s = new ImapSession(connection, ctx.signal);
    const output: ImapOutput = { address: route.address, capabilities: [], loggedIn: false, results: [], untagged: s.untagged, commands: s.commands };
    try {
      const greeting = await s.read();
      output.greeting = statusOf(greeting);
      if (greeting.status === 'BYE') return output;
      if (!s.capabilities.length) await s.command(['CAPABILITY']);
      if (input.starttls && !connection.secure) {
        // STARTTLS is for the not-authenticated state only (RFC 9051 6.2.1): after a PREAUTH greeting it is too late.
        const offered = greeting.status !== 'PREAUTH' && s.capabilities.includes('STARTTLS');
        output.starttls = { offered, capabilities: [...s.capabilities], secure: false };
        if (offered) {
          const go = await s.command(['STARTTLS']);
          Object.assign(output.starttls, { status: go.status, text: go.text });
          if (go.status === 'OK') {
            await connection.upgrade(tls.upgrade);
            output.starttls.secure = true;
            // RFC 9051 6.2.1: what the server said in clear is forgotten; ask again, inside TLS.
            s.capabilities = [];
            await s.command(['CAPABILITY']);
          }
        }
        if (!connection.secure && input.starttls === 'required') {
          await s.command(['LOGOUT']).catch(() => undefined);
          const why = offered ? `refused STARTTLS (${output.starttls.status} ${output.starttls.text})` : 'does not offer STARTTLS';
          throw tlsRequired(route.label, why, `STARTTLS ${offered ? 'refused' : 'not offered'}`, 'LOGOUT');
        }
      }
      const handshake = tls.handshake();
      if (handshake) output.tls = handshake;
      output.loggedIn = greeting.status === 'PREAUTH';
      if (input.user && !output.loggedIn && s.capabilities.includes('LOGINDISABLED')) {
        // RFC 9051 6.2.3: a client MUST NOT send LOGIN when the server says LOGINDISABLED: the password stays here.
        ctx.wire.record({ kind: 'note', protocol: 'imap', from: CLIENT, to: route.label, summary: 'LOGINDISABLED: the server takes no password in clear, so the client sends none (starttls: true asks for TLS first)' });
      } else if (input.user && !output.loggedIn) {
        const login = await logIn(s, input);
        output.login = { ...statusOf(login), mechanism: input.mechanism };
        output.loggedIn = login.status === 'OK';
        // RFC 9051 6.2.3: a server may send new capabilities with the login's OK; else ask again.
        if (output.loggedIn && login.code !== 'CAPABILITY') await s.command(['CAPABILITY']);
      }
      if (output.loggedIn || !input.user) {
        for (const action of input.actions) output.results.push(await runAction(s, action, ctx));
      }
      summarize(output, output.results, s.selected);
      if (input.logout && connection.open) output.logout = statusOf(await s.command(['LOGOUT']));
      return output;
    } finally {
      output.capabilities = s.capabilities;
      connection.close();
    }
  },
};

/**
 * LOGIN user password (RFC 9051 6.2.3), or AUTHENTICATE PLAIN (RFC 4616): the same
 * two words, base64 encoded, in the command when the server takes an initial response
 * (SASL-IR, RFC 4959), else after its `+`. Either way the password is as readable on
 * the wire as the connection under it.
 */
async function logIn(s: ImapSession, input: ImapInput): Promise<Completion> {
  if (input.mechanism === 'LOGIN') return s.command(['LOGIN ', astring(input.user!), ' ', astring(input.password)]);
  const response = Buffer.from(`\0${input.user}\0${input.password}`, 'utf8').toString('base64');
  if (s.capabilities.includes('SASL-IR')) return s.command([`AUTHENTICATE PLAIN ${response}`]);
  const tag = s.tag();
  s.connection.send(`${tag} AUTHENTICATE PLAIN`);
  const go = await s.untilContinuation(tag, []);
  if (go.tag !== '+') return s.completion(tag, 'AUTHENTICATE PLAIN', go, []);
  s.connection.send(response);
  return s.untilTagged(tag, 'AUTHENTICATE PLAIN');
}

/** A status response, or a command's completion, as the output shows it. */
function statusOf(r: { status?: ImapResponse['status']; code?: ImapResponse['code'] | string; text: string }): z.infer<typeof statusLine> {
  const code = typeof r.code === 'string' ? r.code : r.code?.name;
  return { status: r.status ?? 'BAD', ...(code ? { code } : {}), text: r.text };
}

/** The session's last word on each: the last list, the last messages, the last search, the mailbox now. */
function summarize(output: ImapOutput, results: ActionResult[], selected: SelectedView | undefined): void {
  if (results.length) output.last = results[results.length - 1];
  const lastWith = <K extends keyof ActionResult>(key: K): ActionResult[K] | undefined => [...results].reverse().find((r) => r[key] !== undefined)?.[key];
  output.mailboxes = lastWith('mailboxes');
  output.messages = lastWith('messages');
  output.message = lastWith('message');
  output.search = lastWith('search');
  if (selected) output.mailbox = { ...selected };
}

