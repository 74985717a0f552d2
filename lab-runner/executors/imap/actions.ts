import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { decodeUtf7, encodeUtf7 } from '../../../services/imap/names';
import { formatSet } from '../../../services/imap/parser';
import { durationSchema, toMs } from '../../scenario/duration';
import { StepError } from '../../wire';
import { pop3Executor, pop3Output, pop3Schema } from '../pop3';
import { smtpExecutor, smtpOutput, smtpSchema } from '../smtp';
import { composeMessage, newMessageId } from '../smtp/protocol';
import { failureOutput, type ExecContext } from '../types';
import { fetchedMessages } from './fetched';
import { astring, flagList, listPattern, setNumbers, type CommandPiece, type ImapResponse } from './protocol';
import { strings, type Completion, type ImapSession } from './session';

/**
 * The actions of an `imap:` step, each one or two IMAP commands (RFC 9051 6), and
 * what each brings back. An action the server refuses (NO, BAD) does not end the
 * step: its result says so (`ok: false`, `status`, `code`), and the next one runs.
 */

// ---------------------------------------------------------------------------
// Input.

const set = z.union([z.string().regex(/^[\d:*,$]+$/, 'a set like 1, 2:4, 1:* or *'), z.number().int().min(1)]);

/** Which messages an action is about: message numbers, UIDs, or what a search finds. */
const which = {
  set: set.optional().describe('Message numbers: 1, 2:4, 1:*, * (the last).'),
  uid: set.optional().describe('UIDs: 7, 7:9. The command is then UID FETCH, UID STORE...'),
  search: z
    .string()
    .min(1)
    .optional()
    .describe('Search criteria (RFC 9051 6.4.4): UNSEEN, SUBJECT "Lunch", HEADER Message-ID "<...>". UID SEARCH first, then the command on the UIDs it found.'),
};
type Which = { set?: string | number; uid?: string | number; search?: string };
const oneWhich = (v: Which): boolean => [v.set, v.uid, v.search].filter((x) => x !== undefined).length === 1;
const whichMessage = { message: 'give one of set, uid or search' };

const mailboxName = z.string().min(1);

const fetchAction = z
  .object({
    ...which,
    items: z
      .array(z.string().min(1))
      .default(['uid', 'flags', 'envelope', 'size'])
      .describe('uid, flags, envelope, size, internaldate, bodystructure, body (BODY[]), text (BODY[TEXT]), header (BODY[HEADER]), or any fetch item as IMAP writes it: BODY[HEADER.FIELDS (SUBJECT)], BINARY[1]...'),
    peek: z.boolean().default(false).describe('BODY.PEEK[...] instead of BODY[...]: read without setting \\Seen.'),
  })
  .strict()
  .refine(oneWhich, whichMessage);

const storeAction = z
  .object({
    ...which,
    flags: z.array(z.string()).describe('\\Seen, \\Flagged, \\Deleted, \\Answered, \\Draft, or a keyword ($Forwarded).'),
    op: z.enum(['add', 'remove', 'replace']).default('add').describe('+FLAGS, -FLAGS or FLAGS.'),
    silent: z.boolean().default(false).describe('.SILENT: the server does not answer with the new flags.'),
  })
  .strict()
  .refine(oneWhich, whichMessage);

const transferAction = z
  .object({ ...which, to: mailboxName.describe('The mailbox to copy or move into.') })
  .strict()
  .refine(oneWhich, whichMessage);

const address = z.string().regex(/^[^\s<>]+$/, 'an address without <>, e.g. alice@lab.test');

const appendAction = z
  .object({
    mailbox: mailboxName,
    flags: z.array(z.string()).default([]).describe('Flags the message starts with: \\Seen for a sent message, \\Draft...'),
    message: z.string().optional().describe('The whole message as written (header fields, blank line, body).'),
    from: address.optional(),
    to: z.union([address, z.array(address)]).optional(),
    subject: z.string().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.string().optional(),
  })
  .strict()
  .refine((v) => v.message !== undefined || (v.from !== undefined && v.to !== undefined), { message: 'give the message, or from and to (and subject, body)' })
  .refine((v) => v.message === undefined || (v.from === undefined && v.subject === undefined && v.body === undefined), { message: 'give either message, or from, to, subject and body' });

const idleAction = z
  .object({
    for: durationSchema.default('3s').describe('How long to idle at most (keep it under the step\'s timeout).'),
    until: z
      .array(z.string().min(1))
      .default(['EXISTS'])
      .describe('Stop idling as soon as one of these arrives: EXISTS (new mail), EXPUNGE (a message gone), FETCH (flags changed)...'),
    while: z
      .object({ smtp: smtpSchema.optional(), pop3: pop3Schema.optional() })
      .strict()
      .refine((v) => (v.smtp === undefined) !== (v.pop3 === undefined), { message: 'one action: smtp or pop3' })
      .optional()
      .describe('Something to do once the server idles, from another connection, as another program would: smtp (send a mail: the server should push * n EXISTS) or pop3 (delete with POP3: * n EXPUNGE).'),
  })
  .strict();

const listAction = z.union([
  z.string().describe('A pattern: * (every mailbox), % (one level), Archive.*'),
  z.object({ reference: z.string().default(''), pattern: z.string().default('*') }).strict(),
]);

const statusAction = z.union([
  mailboxName,
  z.object({ mailbox: mailboxName, items: z.array(z.string()).default(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN']) }).strict(),
]);

export const actionSchema = z.union([
  z.object({ list: listAction }).strict(),
  z.object({ select: mailboxName }).strict(),
  z.object({ examine: mailboxName.describe('SELECT, read-only: nothing changes, not even \\Seen.') }).strict(),
  z.object({ status: statusAction }).strict(),
  z.object({ create: mailboxName }).strict(),
  z.object({ delete: mailboxName.describe('DELETE a mailbox.') }).strict(),
  z.object({ fetch: fetchAction }).strict(),
  z.object({ search: z.string().min(1).describe('SEARCH criteria: the message numbers that match.') }).strict(),
  z.object({ store: storeAction }).strict(),
  z.object({ copy: transferAction }).strict(),
  z.object({ move: transferAction }).strict(),
  z
    .object({
      expunge: z
        .union([z.literal(true), z.object({ uid: set }).strict(), z.object({ search: z.string().min(1) }).strict()])
        .describe('true: EXPUNGE (every message marked \\Deleted); { uid } or { search }: UID EXPUNGE of those only (UIDPLUS, RFC 4315).'),
    })
    .strict(),
  z.object({ append: appendAction }).strict(),
  z.object({ idle: idleAction }).strict(),
  z.object({ noop: z.literal(true) }).strict(),
  z.object({ close: z.literal(true).describe('CLOSE: expunge \\Deleted messages silently and leave the mailbox.') }).strict(),
  z.object({ unselect: z.literal(true) }).strict(),
  z.object({ command: z.string().min(1).describe('Any command, as typed after the tag: NAMESPACE, ENABLE IMAP4rev2, GETQUOTA ""...') }).strict(),
]);

export type ImapAction = z.infer<typeof actionSchema>;

// ---------------------------------------------------------------------------
// Output.

const address_ = z.strictObject({ name: z.string().optional(), address: z.string() });

const envelope = z.strictObject({
  date: z.string().optional(),
  subject: z.string().optional(),
  from: z.array(address_),
  sender: z.array(address_),
  replyTo: z.array(address_),
  to: z.array(address_),
  cc: z.array(address_),
  bcc: z.array(address_),
  inReplyTo: z.string().optional(),
  messageId: z.string().optional(),
});

const message = z.strictObject({
  seq: z.number().describe('The message number: its place in the mailbox now (it shifts when one before it goes).'),
  uid: z.number().optional().describe('The UID: the message\'s name for good (with the mailbox\'s UIDVALIDITY).'),
  flags: z.array(z.string()).optional(),
  size: z.number().optional().describe('RFC822.SIZE, in octets.'),
  internalDate: z.string().optional().describe('When the server took the message.'),
  envelope: envelope.optional(),
  bodystructure: z.unknown().optional().describe('The MIME structure: type (text/plain, multipart/mixed), parts, params, encoding, size, lines.'),
  sections: z.record(z.string(), z.string()).optional().describe('Each body section fetched, by the name the server gave it: BODY[TEXT], BODY[]...'),
  body: z.string().optional().describe('The last section fetched, as text.'),
  headers: z.record(z.string(), z.string()).optional().describe('Header fields by lower-case name, from a section with a header in it.'),
  text: z.string().optional().describe('The message text after its header (from BODY[] or BODY[TEXT]).'),
});

const mailboxEntry = z.strictObject({
  name: z.string(),
  delimiter: z.string().optional().describe('What separates levels in the name: "." here, "/" on some servers.'),
  attributes: z.array(z.string()).describe('\\HasNoChildren, \\Noselect, and the special use: \\Sent, \\Drafts, \\Trash, \\Archive...'),
});

const untaggedEntry = z.strictObject({ text: z.string(), type: z.string(), number: z.number().optional(), code: z.string().optional() });

export const resultSchema = z.strictObject({
  action: z.string().describe('list, select, fetch, store, idle...'),
  ok: z.boolean().describe('Every command of the action ended OK.'),
  command: z.string().describe('The (last) command sent, after its tag.'),
  status: z.enum(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']).describe("The (last) command's tagged status."),
  code: z.string().optional().describe('Its response code: TRYCREATE, NONEXISTENT, ALREADYEXISTS, READ-WRITE, APPENDUID...'),
  text: z.string(),
  untagged: z.array(untaggedEntry).describe('The untagged responses that came with it.'),
  mailboxes: z.array(mailboxEntry).optional().describe('list: the mailboxes.'),
  mailbox: z
    .strictObject({
      name: z.string(),
      readOnly: z.boolean(),
      exists: z.number().optional(),
      recent: z.number().optional(),
      uidvalidity: z.number().optional(),
      uidnext: z.number().optional(),
      unseen: z.number().optional(),
      flags: z.array(z.string()).optional(),
      permanentFlags: z.array(z.string()).optional(),
    })
    .optional()
    .describe('select, examine: the mailbox as SELECT said.'),
  counts: z.record(z.string(), z.number()).optional().describe('status: MESSAGES, UIDNEXT, UNSEEN...'),
  messages: z.array(message).optional().describe('fetch, store: the messages the FETCH responses described.'),
  message: message.optional().describe('The last of messages.'),
  search: z.array(z.number()).optional().describe('search: the message numbers found; fetch/store/copy/move/expunge by search: the UIDs.'),
  appendUid: z.number().optional().describe('append: the UID the message got ([APPENDUID], RFC 4315).'),
  messageId: z.string().optional().describe('append: the Message-ID of the message appended.'),
  copyUid: z
    .strictObject({ uidvalidity: z.number(), from: z.array(z.number()), to: z.array(z.number()) })
    .optional()
    .describe('copy, move: the UIDs the messages had and got ([COPYUID], RFC 4315).'),
  expunged: z.array(z.number()).optional().describe('The message numbers of the * n EXPUNGE responses.'),
  idle: z
    .strictObject({
      pushed: z.array(untaggedEntry).describe('What the server pushed while the client idled.'),
      ended: z.enum(['news', 'timeout']).describe('news: one of `until` came; timeout: `for` ran out first.'),
      waited: z.number().describe('Milliseconds from the server\'s + to the end of idling.'),
    })
    .optional(),
  smtp: z.union([smtpOutput, failureOutput]).optional().describe('idle while smtp: what the SMTP conversation did (or why it failed: error, code).'),
  pop3: z.union([pop3Output, failureOutput]).optional().describe('idle while pop3: what the POP3 session did (or why it failed: error, code).'),
});

export type ActionResult = z.infer<typeof resultSchema>;

// ---------------------------------------------------------------------------
// Running one action.

const ITEMS: Record<string, string> = {
  uid: 'UID',
  flags: 'FLAGS',
  envelope: 'ENVELOPE',
  size: 'RFC822.SIZE',
  internaldate: 'INTERNALDATE',
  bodystructure: 'BODYSTRUCTURE',
  body: 'BODY[]',
  text: 'BODY[TEXT]',
  header: 'BODY[HEADER]',
};

/** The fetch items as IMAP writes them; `peek` reads BODY[...] without setting \Seen (BODY.PEEK, RFC 9051 6.4.5). */
export function fetchItems(items: readonly string[], peek: boolean): string {
  const written = items.map((i) => ITEMS[i.toLowerCase()] ?? i).map((i) => (peek ? i.replace(/^BODY\[/i, 'BODY.PEEK[') : i));
  return `(${written.join(' ')})`;
}

const mailbox = (name: string): CommandPiece => astring(encodeUtf7(name));

export async function runAction(s: ImapSession, action: ImapAction, ctx: ExecContext): Promise<ActionResult> {
  const name = Object.keys(action)[0]!;
  const done = (c: Completion, extra: Partial<ActionResult> = {}, all: Completion[] = [c]): ActionResult => ({
    action: name,
    ok: all.every((x) => x.status === 'OK'),
    command: c.command,
    status: c.status,
    ...(c.code ? { code: c.code } : {}),
    text: c.text,
    untagged: all.flatMap((x) => x.untagged).map(untaggedView),
    ...extra,
  });

  if ('list' in action) {
    const { reference, pattern } = typeof action.list === 'string' ? { reference: '', pattern: action.list } : action.list;
    const c = await s.command(['LIST ', astring(reference), ' ', listPattern(encodeUtf7(pattern))]);
    return done(c, { mailboxes: c.untagged.filter((r) => r.type === 'LIST').map(listEntry) });
  }
  if ('select' in action || 'examine' in action) {
    const [verb, target] = 'select' in action ? ['SELECT', action.select] : ['EXAMINE', action.examine];
    // The view starts empty: what SELECT's responses say fills it in (session.ts).
    s.selected = { name: target, readOnly: verb === 'EXAMINE' };
    const c = await s.command([`${verb} `, mailbox(target)]);
    const view = c.status === 'OK' ? { ...s.selected } : undefined;
    if (!view) s.selected = undefined; // RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected
    return done(c, view ? { mailbox: view } : {});
  }
  if ('status' in action) {
    const { mailbox: target, items } = typeof action.status === 'string' ? { mailbox: action.status, items: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN'] } : action.status;
    const c = await s.command(['STATUS ', mailbox(target), ` (${items.join(' ')})`]);
    const data = c.untagged.find((r) => r.type === 'STATUS')?.values[1];
    const counts: Record<string, number> = {};
    if (Array.isArray(data)) for (let i = 0; i + 1 < data.length; i += 2) counts[String(data[i]).toUpperCase()] = Number(data[i + 1]);
    return done(c, { counts });
  }
  if ('create' in action) return done(await s.command(['CREATE ', mailbox(action.create)]));
  if ('delete' in action) return done(await s.command(['DELETE ', mailbox(action.delete)]));
  if ('search' in action) {
    const c = await s.command([`SEARCH ${action.search}`]);
    return done(c, { search: searchResult(c.untagged) });
  }
  if ('fetch' in action) {
    const f = action.fetch;
    return onMessages(s, f, `FETCH`, fetchItems(f.items, f.peek), (c, all, search) => {
      const messages = fetchedMessages(all.flatMap((x) => x.untagged));
      return done(c, { messages, ...(messages.length ? { message: messages[messages.length - 1] } : {}), ...search }, all);
    });
  }
  if ('store' in action) {
    const f = action.store;
    const op = { add: '+FLAGS', remove: '-FLAGS', replace: 'FLAGS' }[f.op];
    return onMessages(s, f, 'STORE', `${op}${f.silent ? '.SILENT' : ''} ${flagList(f.flags)}`, (c, all, search) => {
      const messages = fetchedMessages(all.flatMap((x) => x.untagged));
      return done(c, { messages, ...(messages.length ? { message: messages[messages.length - 1] } : {}), ...search }, all);
    });
  }
  if ('copy' in action || 'move' in action) {
    const [verb, f] = 'copy' in action ? (['COPY', action.copy] as const) : (['MOVE', action.move] as const);
    return onMessages(s, f, verb, mailbox(f.to), (c, all, search) => {
      // MOVE sends COPYUID in an untagged OK before the EXPUNGEs (RFC 6851 4.3); COPY in its tagged OK.
      const code = c.code === 'COPYUID' ? c.codeArgs : all.flatMap((x) => x.untagged).find((r) => r.code?.name === 'COPYUID')?.code?.args;
      return done(c, { ...copyUid(code), expunged: expunged(all), ...search }, all);
    });
  }
  if ('expunge' in action) {
    if (action.expunge === true) {
      const c = await s.command(['EXPUNGE']);
      return done(c, { expunged: expunged([c]) });
    }
    return onMessages(s, { ...action.expunge }, 'EXPUNGE', undefined, (c, all, search) => done(c, { expunged: expunged(all), ...search }, all));
  }
  if ('append' in action) return append(s, action.append, ctx, done);
  if ('idle' in action) return idle(s, action.idle, ctx, done);
  if ('noop' in action) return done(await s.command(['NOOP']));
  if ('close' in action || 'unselect' in action) {
    const c = await s.command(['close' in action ? 'CLOSE' : 'UNSELECT']);
    if (c.status === 'OK') s.selected = undefined;
    return done(c);
  }
  return done(await s.command([action.command]));
}

type Done = (c: Completion, extra?: Partial<ActionResult>, all?: Completion[]) => ActionResult;

/**
 * A command on some messages: `VERB set ...` by number, `UID VERB uids ...` by UID, or
 * UID SEARCH first and then `UID VERB` on what it found (nothing found: nothing sent).
 */
async function onMessages(
  s: ImapSession,
  which: Which,
  verb: string,
  rest: CommandPiece | undefined,
  finish: (c: Completion, all: Completion[], search: { search?: number[] }) => ActionResult,
): Promise<ActionResult> {
  const tail: CommandPiece[] = rest === undefined ? [] : [' ', rest];
  if (which.set !== undefined) {
    const c = await s.command([`${verb} ${which.set}`, ...tail]);
    return finish(c, [c], {});
  }
  if (which.uid !== undefined) {
    const c = await s.command([`UID ${verb} ${which.uid}`, ...tail]);
    return finish(c, [c], {});
  }
  const found = await s.command([`UID SEARCH ${which.search!}`]);
  const uids = searchResult(found.untagged);
  if (found.status !== 'OK' || !uids.length) return finish(found, [found], { search: uids });
  const c = await s.command([`UID ${verb} ${formatSet(uids)}`, ...tail]);
  return finish(c, [found, c], { search: uids });
}

/** `* SEARCH 2 5` (RFC 3501), or `* ESEARCH (TAG "a3") UID ALL 2,5` (RFC 9051 7.3.4) after ENABLE IMAP4rev2. */
function searchResult(untagged: readonly ImapResponse[]): number[] {
  const plain = untagged.find((r) => r.type === 'SEARCH');
  if (plain) return plain.values.filter((v): v is number => typeof v === 'number');
  const extended = untagged.find((r) => r.type === 'ESEARCH');
  if (!extended) return [];
  const at = extended.values.findIndex((v) => typeof v === 'string' && v.toUpperCase() === 'ALL');
  return at >= 0 ? setNumbers(String(extended.values[at + 1])) : [];
}

/** `* LIST (\HasNoChildren \Sent) "." Sent`: attributes, delimiter, name (modified UTF-7, RFC 3501 5.1.3). */
function listEntry(r: ImapResponse): z.infer<typeof mailboxEntry> {
  const [attributes, delimiter, name] = r.values;
  let decoded = String(name ?? '');
  try {
    decoded = decodeUtf7(decoded);
  } catch {
    // not modified UTF-7 (a server that sends UTF-8): as it came
  }
  return { name: decoded, ...(delimiter !== null && delimiter !== undefined ? { delimiter: String(delimiter) } : {}), attributes: strings(attributes) };
}

function copyUid(args: string | undefined): { copyUid?: NonNullable<ActionResult['copyUid']> } {
  const [validity, from, to] = (args ?? '').split(' ');
  if (!validity || !from || !to) return {};
  return { copyUid: { uidvalidity: Number(validity), from: setNumbers(from), to: setNumbers(to) } };
}

const expunged = (all: Completion[]): number[] => all.flatMap((c) => c.untagged).filter((r) => r.type === 'EXPUNGE').map((r) => r.number!);

const untaggedView = (r: ImapResponse): z.infer<typeof untaggedEntry> => ({
  text: r.line,
  type: r.type ?? '',
  ...(r.number !== undefined ? { number: r.number } : {}),
  ...(r.code ? { code: r.code.name } : {}),
});

/**
 * APPEND (RFC 9051 6.3.12): the message goes as a literal, `{310}`, sent once the
 * server says `+`. A message composed here gets a Message-ID, as a mail program gives
 * the copy it keeps in Sent; the scenario then owns it (a pop3 `delete: retrieved` may
 * delete it).
 */
async function append(s: ImapSession, a: z.infer<typeof appendAction>, ctx: ExecContext, done: Done): Promise<ActionResult> {
  const messageId = a.message === undefined && !Object.keys(a.headers).some((h) => h.toLowerCase() === 'message-id') ? newMessageId('client.lab.test', randomBytes(6).toString('hex')) : undefined;
  const text = a.message ?? composeMessage({ from: a.from!, to: [a.to!].flat(), subject: a.subject, headers: a.headers, body: a.body, messageId });
  const octets = Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
  const flags = a.flags.length ? ` ${flagList(a.flags)}` : '';
  const c = await s.command(['APPEND ', mailbox(a.mailbox), `${flags} `, { literal: octets }]);
  const id = messageId ?? /^message-id:[ \t]*(.+?)[ \t]*$/im.exec(text.split(/\r?\n\r?\n/)[0] ?? '')?.[1];
  if (c.status === 'OK' && id) (ctx.session.sentMessageIds ??= new Set()).add(id);
  const uid = c.code === 'APPENDUID' ? Number((c.codeArgs ?? '').split(' ')[1]) : undefined;
  return done(c, { ...(uid ? { appendUid: uid } : {}), ...(id ? { messageId: id } : {}) });
}

/**
 * IDLE (RFC 2177, RFC 9051 6.3.13): the client says IDLE, the server answers `+` and
 * from then on pushes news as it happens (`* 4 EXISTS` for new mail) until the client
 * says DONE. Here the client idles until one of `until` comes or `for` runs out; the
 * `while` action (an SMTP delivery, a POP3 session) runs once the server idles, from
 * its own connection, so the mail it brings arrives during IDLE, as it does for a
 * mail program left open.
 */
async function idle(s: ImapSession, a: z.infer<typeof idleAction>, ctx: ExecContext, done: Done): Promise<ActionResult> {
  const tag = s.tag();
  const untagged: ImapResponse[] = [];
  s.connection.send(`${tag} IDLE`);
  const go = await s.untilContinuation(tag, untagged);
  if (go.tag !== '+') return done(s.completion(tag, 'IDLE', go, untagged));
  const started = performance.now();
  const timer = AbortSignal.timeout(toMs(a.for));
  const deadline = AbortSignal.any([ctx.signal, timer]);
  const during = a.while ? runWhile(a.while, ctx) : Promise.resolve({});
  during.catch(() => undefined); // awaited below; until then a failure is not "unhandled"
  const until = a.until.map((u) => u.toUpperCase());
  const pushed: ImapResponse[] = [];
  let ended: 'news' | 'timeout' = 'timeout';
  try {
    for (;;) {
      const r = await s.read(deadline);
      if (r.tag !== '*') continue;
      pushed.push(r);
      if (until.includes(r.type ?? '')) {
        ended = 'news';
        break;
      }
    }
  } catch (err) {
    // `for` ran out: that is the end of idling, not a failure (the step's own timeout is).
    if (!(err instanceof StepError && timer.aborted && !ctx.signal.aborted)) throw err;
  }
  const waited = Math.round(performance.now() - started);
  const other = await during;
  s.connection.send('DONE');
  const c = await s.untilTagged(tag, 'IDLE', [...untagged, ...pushed]);
  return done(c, { idle: { pushed: pushed.map(untaggedView), ended, waited }, ...other });
}

/** The `while` action of an idle: the smtp or pop3 executor on the same step (its wire, its timeout, its session). */
async function runWhile(w: { smtp?: z.infer<typeof smtpSchema>; pop3?: z.infer<typeof pop3Schema> }, ctx: ExecContext): Promise<Partial<ActionResult>> {
  const failed = (err: unknown): { error: string; code?: string } => {
    if (!(err instanceof StepError)) throw err;
    return { error: err.message, ...(err.code ? { code: err.code } : {}) };
  };
  if (w.smtp) return { smtp: await smtpExecutor.run(w.smtp, ctx).catch(failed) };
  return { pop3: await pop3Executor.run(w.pop3!, ctx).catch(failed) };
}

