import type net from 'node:net';
import { z } from 'zod';
import { startTls, tlsRequired, type TlsSettings } from '../../tls/client';
import { CLIENT, connect, Connection, type Route, type TlsHandshake } from '../../wire';
import { splitTls, tlsWithMode, upgradeSchema } from '../tls/settings';
import { outputSchema, type ExecContext, type Executor } from '../types';
import { positiveCompletion, positiveIntermediate } from '../../../services/smtp/codes';
import { dotStuff } from '../../../services/smtp/dotStuff';
import { randomBytes } from 'node:crypto';
import { parseMessage } from '../pop3/message';
import { startStripper, STRIPPED } from './middlebox';
import { composeMessage, newMessageId, smtpReply, type SmtpReply } from './protocol';

/**
 * `smtp:` — a whole SMTP conversation: EHLO, STARTTLS and EHLO again if asked, AUTH if
 * asked, MAIL, RCPT for each recipient, DATA, QUIT (RFC 5321, RFC 3207); or raw lines
 * typed one by one. With `tls: implicit` the connection is TLS from the first byte
 * (SMTPS, port 465, RFC 8314). See README.md.
 */

const address = z.string().regex(/^[^\s<>]*$/, 'an address without <>, e.g. alice@lab.test');

export const smtpSchema = z
  .object({
    host: z.string().default('mail.lab.test').describe('The SMTP server, a lab host.'),
    port: z.number().int().min(1).max(65535).optional().describe('25 to deliver (MX), 587 to submit with AUTH, 465 for submission in TLS. Default: 25, or 465 with tls: implicit.'),
    starttls: upgradeSchema('Ask for TLS after EHLO (RFC 3207). true: when the server offers it, else go on in clear; required: else stop, sending nothing more.'),
    tls: tlsWithMode(['implicit'], 'implicit: TLS from the first byte (SMTPS, port 465). And the TLS settings: ca, servername, insecure, minVersion, maxVersion.'),
    middlebox: z
      .enum(['strip-starttls'])
      .optional()
      .describe(`An attacker on the path: strip-starttls relays the connection and writes ${STRIPPED} over STARTTLS in the EHLO reply, as some firewalls did.`),
    helo: z.string().default('client.lab.test').describe('The name the client gives in EHLO.'),
    auth: z
      .object({ user: z.string(), password: z.string(), mechanism: z.enum(['PLAIN', 'LOGIN']).default('PLAIN') })
      .strict()
      .optional()
      .describe('Log in before sending (RFC 4954). In clear, the transcript shows the password, only base64 encoded.'),
    from: address.optional().describe('The envelope sender (MAIL FROM); "" for the null sender <>.'),
    to: z.union([address, z.array(address)]).optional().describe('The envelope recipients (RCPT TO).'),
    subject: z.string().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.string().optional(),
    data: z.string().optional().describe('The whole message as sent after DATA (headers, blank line, body), instead of subject/headers/body.'),
    lines: z
      .array(z.string())
      .optional()
      .describe('Raw mode: lines sent one by one, each followed by its reply; after a 354, lines are message text until "."; after STARTTLS and its 220, TLS.'),
  })
  .strict()
  .refine((v) => v.lines !== undefined || (v.from !== undefined && v.to !== undefined), { message: 'give from and to, or raw lines' })
  .refine((v) => v.data === undefined || (v.subject === undefined && v.body === undefined), { message: 'give either data, or subject and body' });

export type SmtpInput = z.infer<typeof smtpSchema>;

const reply = z.strictObject({ code: z.number(), text: z.string().describe('The lines joined with a space.'), lines: z.array(z.string()) });

export const smtpOutput = outputSchema({
  address: z.string(),
  code: z.number().optional().describe("The last reply's code before QUIT."),
  replies: z.array(reply.extend({ command: z.string() })).describe('Every command and its reply, in order; (connect) for the greeting.'),
  greeting: reply.optional(),
  ehlo: reply.optional().describe('The reply to EHLO; after STARTTLS, to the EHLO sent inside TLS.'),
  extensions: z.array(z.string()).optional().describe('The EHLO reply lines after the first: PIPELINING, AUTH PLAIN LOGIN... (after STARTTLS, what is offered inside TLS).'),
  starttls: z
    .strictObject({
      offered: z.boolean().describe('The EHLO in clear offered STARTTLS.'),
      extensions: z.array(z.string()).describe('What the EHLO in clear offered.'),
      code: z.number().optional().describe('The reply to STARTTLS: 220 to go ahead.'),
      text: z.string().optional(),
      secure: z.boolean().describe('The conversation went on inside TLS.'),
    })
    .optional()
    .describe('With starttls: what the server offered in clear, and whether the conversation went into TLS.'),
  auth: z
    .strictObject({
      mechanism: z.enum(['PLAIN', 'LOGIN']),
      code: z.number(),
      text: z.string(),
      sent: z.array(z.string()).describe('The AUTH lines as sent: base64.'),
      decoded: z.array(z.string()).describe('What they decode to.'),
    })
    .optional(),
  mail: reply.optional(),
  rcpt: z.array(reply.extend({ to: z.string() })).optional(),
  accepted: z.array(z.string()).optional(),
  rejected: z.array(z.string()).optional(),
  data: reply.optional().describe('The reply to DATA when it refused, else the reply after the message.'),
  sent: z.boolean().optional().describe('The server took the message (250 after the final ".").'),
  messageId: z
    .string()
    .optional()
    .describe('The Message-ID of the message: the one the executor gave it, or the one `data:` or `headers:` wrote. A later `pop3:` step\'s `delete: retrieved` deletes only messages with these.'),
  quit: reply.optional(),
});

export type SmtpOutput = z.infer<typeof smtpOutput>;

const describe = (reply: SmtpReply): string => `${reply.code} ${reply.lines[0] ?? ''}${reply.lines.length > 1 ? ` (+${reply.lines.length - 1} lines)` : ''}`;
const view = (reply: SmtpReply) => ({ code: reply.code, text: reply.text, lines: reply.lines });

export const smtpExecutor: Executor<SmtpInput, SmtpOutput> = {
  name: 'smtp',
  schema: smtpSchema,
  output: smtpOutput,
  describe: (input) => {
    const where = `${input.host}:${portOf(input)}${splitTls(input.tls).mode ? ' (TLS)' : input.starttls ? ' (STARTTLS)' : ''}`;
    return input.lines ? `SMTP ${where}` : `SMTP ${input.from || '<>'} -> ${[input.to].flat().join(', ')} via ${where}`;
  },
  async run(input, ctx) {
    const route = await ctx.network.locate(input.host, portOf(input), ctx.wire, ctx.signal);
    const box = input.middlebox ? await middlebox(route, ctx) : undefined;
    try {
      return await converse(input, ctx, route, box ? { ...route, host: '127.0.0.1', port: box.port } : route);
    } finally {
      await box?.close();
    }
  },
};

/** The conversation, over a connection to `via` (the server, or a middlebox in front of it). */
async function converse(input: SmtpInput, ctx: ExecContext, route: Route & { address: string }, via: Route): Promise<SmtpOutput> {
  const { mode, settings } = splitTls(input.tls);
  const socket = await connect(via, ctx.wire, ctx.signal, 'smtp');
  const tlsTo = (plain: net.Socket) => secureSocket(plain, route, input.host, settings, ctx);
  let handshake: TlsHandshake | undefined;
  const smtp = new Connection(mode === 'implicit' ? await tlsTo(socket).then((s) => ((handshake = s.handshake), s.socket)) : socket, route, ctx.wire, 'smtp');
  const read = (): Promise<SmtpReply> => smtp.read(smtpReply, { describe }, ctx.signal);
  const command = async (line: string): Promise<SmtpReply> => {
    smtp.send(line);
    return read();
  };
  const replies: SmtpOutput['replies'] = [];
  const output: SmtpOutput = { address: route.address, replies, ...(handshake ? { tls: handshake } : {}) };
  const note = (cmd: string, reply: SmtpReply): SmtpReply => {
    replies.push({ command: cmd, ...view(reply) });
    output.code = reply.code;
    return reply;
  };
  /** STARTTLS's 220: the handshake, on the same connection (RFC 3207 4). */
  const upgrade = async (): Promise<void> => {
    await smtp.upgrade(async (plain) => {
      const secure = await tlsTo(plain);
      output.tls = secure.handshake;
      return secure.socket;
    });
  };
  try {
    output.greeting = view(note('(connect)', await read()));
    if (input.lines) {
      const taken = await raw(input.lines, smtp, read, note, upgrade);
      for (const id of taken) remember(ctx, id);
      if (taken.length) output.messageId = taken[taken.length - 1];
      return output;
    }

    let ehlo = note(`EHLO ${input.helo}`, await command(`EHLO ${input.helo}`));
    if (input.starttls && !smtp.secure) {
      const extensions = ehlo.lines.slice(1);
      const offered = extensions.some((e) => /^STARTTLS\b/i.test(e));
      output.starttls = { offered, extensions, secure: false };
      if (offered) {
        const go = note('STARTTLS', await command('STARTTLS'));
        Object.assign(output.starttls, { code: go.code, text: go.text });
        if (go.code === 220) {
          await upgrade();
          output.starttls.secure = true;
          // RFC 3207 4.2: what the server said in clear is forgotten; ask again, inside TLS.
          ehlo = note(`EHLO ${input.helo}`, await command(`EHLO ${input.helo}`));
        }
      }
      if (!smtp.secure && input.starttls === 'required') {
        await quit(output, command, note);
        const why = offered ? `refused STARTTLS (${output.starttls.code} ${output.starttls.text})` : 'does not offer STARTTLS';
        throw tlsRequired(route.label, why, `STARTTLS ${offered ? 'refused' : 'not offered'}`);
      }
    }
    output.ehlo = view(ehlo);
    output.extensions = ehlo.lines.slice(1);
    if (input.auth) {
      const { reply, ...auth } = await authenticate(input.auth, command);
      output.auth = auth;
      note('AUTH', reply);
      if (!positiveCompletion(auth.code)) return await quit(output, command, note);
    }
    const mail = note(`MAIL FROM:<${input.from}>`, await command(`MAIL FROM:<${input.from}>`));
    output.mail = view(mail);
    if (!positiveCompletion(mail.code)) return await quit(output, command, note);
    const recipients = [input.to!].flat();
    const rcpt: NonNullable<SmtpOutput['rcpt']> = [];
    for (const to of recipients) {
      const reply = note(`RCPT TO:<${to}>`, await command(`RCPT TO:<${to}>`));
      rcpt.push({ to, ...view(reply) });
    }
    output.rcpt = rcpt;
    output.accepted = rcpt.filter((r) => positiveCompletion(r.code)).map((r) => r.to);
    output.rejected = rcpt.filter((r) => !positiveCompletion(r.code)).map((r) => r.to);
    if (!output.accepted.length) return await quit(output, command, note);
    const go = note('DATA', await command('DATA'));
    if (!positiveIntermediate(go.code)) {
      output.data = view(go);
      return await quit(output, command, note);
    }
    // A mail program names each message it writes (RFC 5322 3.6.4); unless the scenario wrote one, so does this one.
    const named = Object.keys(input.headers).some((h) => h.toLowerCase() === 'message-id');
    const messageId = input.data !== undefined || named ? undefined : newMessageId(input.helo, randomBytes(6).toString('hex'));
    const message = input.data ?? composeMessage({ from: input.from!, to: recipients, subject: input.subject, headers: input.headers, body: input.body, messageId });
    smtp.write(dotStuff(Buffer.from(message, 'utf8')), `(message, ${Buffer.byteLength(message)} bytes) .`);
    const done = note('(end of data)', await read());
    output.data = view(done);
    output.sent = positiveCompletion(done.code);
    output.messageId = messageId ?? parseMessage(message).headers['message-id'];
    if (output.sent) remember(ctx, output.messageId);
    return await quit(output, command, note);
  } finally {
    smtp.close();
  }
}

/**
 * The strip-starttls box (middlebox.ts) between the client and `route`: the client
 * connects to it as if to the server (the transcript still says mail.lab.test:25), and
 * notes say what the box did.
 */
async function middlebox(route: Route, ctx: ExecContext) {
  const note = (summary: string): void => ctx.wire.record({ kind: 'note', protocol: 'smtp', from: route.label, to: CLIENT, summary });
  const box = await startStripper(route, {
    onStrip: (line) => note(`on the path, a middlebox wrote ${STRIPPED} over "${line}" in the EHLO reply`),
    onTls: () => note('on the path, a middlebox relays TLS records: nothing it can read, nothing to strip'),
  });
  note(`the connection goes through a middlebox on the path (strip-starttls), 127.0.0.1:${box.port}`);
  return box;
}

/** 25, or 465 for SMTPS. */
function portOf(input: SmtpInput): number {
  return input.port ?? (splitTls(input.tls).mode === 'implicit' ? 465 : 25);
}

/** TLS as an SMTP client starts it: the host's name asked for (SNI) and checked. */
function secureSocket(plain: net.Socket, route: Route, host: string, settings: TlsSettings, ctx: ExecContext) {
  return startTls(plain, { route, host, settings }, ctx).catch((err: unknown) => {
    plain.destroy();
    throw err;
  });
}

/** The scenario sent this message: its later `pop3:` steps may delete it (Session.sentMessageIds). */
function remember(ctx: ExecContext, messageId: string | undefined): void {
  if (messageId) (ctx.session.sentMessageIds ??= new Set()).add(messageId);
}

async function quit(output: SmtpOutput, command: (l: string) => Promise<SmtpReply>, note: (c: string, r: SmtpReply) => SmtpReply): Promise<SmtpOutput> {
  const last = output.code;
  try {
    output.quit = view(note('QUIT', await command('QUIT')));
  } catch {
    output.quit = undefined; // the server may already have closed: what it said before counts
  }
  output.code = last;
  return output;
}

/**
 * AUTH PLAIN sends "\0user\0password" in base64 in one line; AUTH LOGIN sends the user
 * and the password as two base64 answers to 334 prompts (RFC 4616, RFC 4954). Base64 is
 * an encoding, not encryption: the output keeps what was sent, and what it decodes to.
 */
async function authenticate(auth: NonNullable<SmtpInput['auth']>, command: (l: string) => Promise<SmtpReply>) {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const sent: string[] = [];
  const send = (line: string): Promise<SmtpReply> => {
    sent.push(line);
    return command(line);
  };
  let reply: SmtpReply;
  if (auth.mechanism === 'PLAIN') reply = await send(`AUTH PLAIN ${b64(`\0${auth.user}\0${auth.password}`)}`);
  else {
    reply = await send('AUTH LOGIN');
    if (reply.code === 334) reply = await send(b64(auth.user));
    if (reply.code === 334) reply = await send(b64(auth.password));
  }
  const decoded = sent.map((line) => Buffer.from(line.replace(/^AUTH (PLAIN|LOGIN) ?/, ''), 'base64').toString('utf8')).filter(Boolean);
  return { mechanism: auth.mechanism, code: reply.code, text: reply.text, sent, decoded, reply };
}

/**
 * Raw lines: a reply after each, except while sending message text after a 354. A
 * STARTTLS answered 220 is followed by the TLS handshake, as a client must.
 */
async function raw(
  lines: string[],
  smtp: Connection,
  read: () => Promise<SmtpReply>,
  note: (c: string, r: SmtpReply) => SmtpReply,
  upgrade: () => Promise<void>,
): Promise<string[]> {
  let inData = false;
  let text: string[] = [];
  /** The Message-IDs of the messages the server took (250 after "."). */
  const taken: string[] = [];
  for (const line of lines) {
    smtp.send(line);
    if (inData && line !== '.') {
      text.push(line);
      continue;
    }
    if (!smtp.open) break;
    const reply = note(line, await read());
    if (inData && positiveCompletion(reply.code)) {
      const id = parseMessage(text.join('\r\n')).headers['message-id'];
      if (id) taken.push(id);
    }
    inData = reply.code === 354;
    text = [];
    if (reply.code === 221 || reply.code === 421) break; // the server says goodbye
    if (/^STARTTLS$/i.test(line.trim()) && reply.code === 220 && !smtp.secure) await upgrade();
  }
  return taken;
}
