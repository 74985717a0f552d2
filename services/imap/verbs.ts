import type { Fields } from '../common/logger';
import type { LabUser } from '../common/users';
import { fetchItems, setsSeen } from './fetch';
import { MailboxError, SPECIAL_USE, type MailStore } from './mailbox';
import { decodeUtf7, DELIMITER, encodeUtf7, listMatcher, normalizeName } from './names';
import {
  dateTime,
  fetchAtts,
  flagList,
  formatSet,
  ParseError,
  resolveSet,
  searchArgs,
  sequenceSet,
  storeArgs,
  SYSTEM_FLAGS,
  type FetchAtt,
  type Reader,
  type SequenceSet,
} from './parser';
import { atom, bad, continuation, data, no, ok, type Reply, type Response, type Value } from './responses';
import { matches, type Candidate } from './search';
import { messageSize, SelectedMailbox, type ViewMessage } from './selected';
import { transition, type State } from './states';

/**
 * The IMAP commands, one handler each (RFC 9051 6; MOVE from RFC 6851, IDLE from
 * RFC 2177, ID from RFC 2971). A handler gets the session, a reader positioned after the
 * command name, and the command's tag; it reads its arguments (parser.ts), does the
 * work, and returns the responses: untagged data first, the tagged completion last.
 * server.ts has already checked that the command is allowed in the session's state; it
 * adds the news of the selected mailbox (EXISTS, EXPUNGE) before the completion, sends
 * the reply, and logs one line per command.
 *
 * A command not in the table does not exist here: it gets `BAD unknown command`.
 */

/** What a handler may see and do; server.ts implements it, one per connection. */
export interface Session {
  state: State;
  /** Is the connection encrypted (port 993, or after STARTTLS)? */
  readonly secure: boolean;
  /** ENABLE IMAP4rev2 was given: UTF-8 mailbox names, ESEARCH, no \Recent (RFC 9051). */
  rev2: boolean;
  /** After login: the user's mailboxes. */
  store?: MailStore;
  /** In the selected state: the open mailbox. */
  selected?: SelectedMailbox;
  readonly settings: {
    domain: string;
    /** Is TLS available for STARTTLS? */
    tls: boolean;
    allowPlaintextLogin: boolean;
    maxLiteralSize: number;
  };
  /** What CAPABILITY says now (it depends on TLS and the state). */
  capabilities(): string[];
  /** The user, if this name and password are right (`alice` or `alice@lab.test`). */
  authenticate(name: string, password: string): LabUser | undefined;
  /** Count a failed login, wait, and build the NO (ending the session after maxAuthFailures). */
  loginFailed(tag: string, name: string): Promise<Reply>;
  /** The login succeeded: open the user's mailboxes, lift the login limits. */
  login(user: LabUser): Promise<void>;
  /** STARTTLS: send the tagged OK, then the TLS handshake. */
  startTls(tag: string): Promise<void>;
  /** Send responses now (untagged data while a command runs; a continuation request). */
  send(reply: Reply): Promise<void>;
  /** The client's next line that is not a command (an AUTHENTICATE answer); undefined when the session ends. */
  nextLine(): Promise<Buffer | undefined>;
  /** IDLE: wait for the client's next line, pushing the selected mailbox's news meanwhile. */
  idle(): Promise<Buffer | undefined>;
  /** Close the connection after this command's reply. */
  hangUp(reason: string): void;
  /** Extra fields for this command's log line. */
  note(fields: Fields): void;
}

/** The command's own facts besides its arguments. */
export interface Context {
  tag: string;
  /** Called as `UID FETCH ...` etc.: sets name UIDs, results are UIDs (RFC 9051 6.4.9). */
  uid: boolean;
}

export type Handler = (s: Session, r: Reader, c: Context) => Reply | undefined | Promise<Reply | undefined>;

export interface Verb {
  /** The states the command is allowed in (RFC 9051 6.1-6.4 group the commands by state). */
  states: readonly State[];
  run: Handler;
  /** Has a UID form (RFC 9051 6.4.9). */
  uid?: boolean;
}

const ANY: readonly State[] = ['not authenticated', 'authenticated', 'selected'];
const NOT_AUTH: readonly State[] = ['not authenticated'];
const AUTH: readonly State[] = ['authenticated', 'selected'];
const SELECTED: readonly State[] = ['selected'];

/** The flags every mailbox offers (RFC 9051 2.3.2); keywords come on top. */
const FLAGS = SYSTEM_FLAGS;

export const VERBS: Readonly<Record<string, Verb>> = {
  // ---------------------------------------------------------------------------
  // Any state (RFC 9051 6.1).

  // RFC 9051 6.1.1: what this server can do. It changes with TLS and login.
  CAPABILITY: { states: ANY, run: (s, r, c) => (r.end(), [data(atom('CAPABILITY'), ...s.capabilities().map(atom)), ok(c.tag, 'CAPABILITY completed')]) },

  // RFC 9051 6.1.2: nothing; but the server tells the mailbox's news before the OK, so a
  // client without IDLE polls with NOOP.
  NOOP: { states: ANY, run: (_s, r, c) => (r.end(), ok(c.tag, 'NOOP completed')) },

  // RFC 9051 6.1.3: BYE first, then the OK, then the server closes the connection.
  LOGOUT: {
    states: ANY,
    run: (s, r, c) => {
      r.end();
      s.state = transition(s.state, 'logout');
      s.hangUp('LOGOUT');
      return [data(atom('BYE'), atom('wirelab IMAP server logging out')), ok(c.tag, 'LOGOUT completed')];
    },
  },

  // RFC 2971: the client says what it is, the server says what it is. Mail clients send it.
  ID: {
    states: ANY,
    run: (s, r, c) => {
      r.sp();
      const fields = idFields(r);
      r.end();
      if (fields.length > 0) s.note({ clientId: fields.map(([k, v]) => `${k}=${v}`).join(' ').slice(0, 120) });
      return [data(atom('ID'), ['name', 'wirelab', 'vendor', 'wirelab lab (lab use only)', 'support-url', 'https://www.lab.test/']), ok(c.tag, 'ID completed')];
    },
  },

  // ---------------------------------------------------------------------------
  // Not authenticated (RFC 9051 6.2).

  // RFC 9051 6.2.1: the rest of the session inside TLS, on this same connection.
  STARTTLS: {
    states: NOT_AUTH,
    run: async (s, r, c) => {
      r.end();
      if (s.secure) return bad(c.tag, 'this connection is already encrypted');
      if (!s.settings.tls) return bad(c.tag, 'STARTTLS is not offered by this server (no certificate)');
      await s.startTls(c.tag);
      return undefined;
    },
  },

  // RFC 9051 6.2.3: user name and password, in plain text: only inside TLS, unless the
  // lab turns on the plain-text lesson (allowPlaintextLogin). Then CAPABILITY says LOGINDISABLED.
  LOGIN: {
    states: NOT_AUTH,
    run: async (s, r, c) => {
      r.sp();
      const name = r.astring('a user name');
      r.sp();
      const password = r.astring('a password');
      r.end();
      if (!s.secure && !s.settings.allowPlaintextLogin) return plaintextRefused(s, c.tag);
      return logIn(s, c.tag, name, password);
    },
  },

  // RFC 9051 6.2.2, RFC 4616 (PLAIN), RFC 4959 (SASL-IR: the answer on the same line).
  AUTHENTICATE: {
    states: NOT_AUTH,
    run: async (s, r, c) => {
      r.sp();
      const mechanism = r.keyword('a SASL mechanism');
      let answer: string | undefined;
      if (!r.atEnd) {
        r.sp();
        answer = r.atom('the initial response (base64)');
      }
      r.end();
      if (mechanism !== 'PLAIN') return no(c.tag, `unsupported authentication mechanism ${mechanism}: this server offers PLAIN`, 'CANNOT');
      if (!s.secure && !s.settings.allowPlaintextLogin) return plaintextRefused(s, c.tag);
      if (answer === undefined) {
        await s.send(continuation(''));
        const line = await s.nextLine();
        if (line === undefined) return undefined;
        answer = line.toString('latin1').trim();
      }
      // RFC 9051 6.2.2: "*" cancels; anything that is not base64 is a BAD.
      if (answer === '*') return bad(c.tag, 'AUTHENTICATE cancelled');
      if (answer !== '=' && !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(answer)) return bad(c.tag, 'the answer to AUTHENTICATE must be base64');
      // PLAIN: authzid NUL authcid NUL password (RFC 4616 2).
      const parts = Buffer.from(answer === '=' ? '' : answer, 'base64').toString('utf8').split('\0');
      if (parts.length !== 3) return bad(c.tag, 'PLAIN wants authzid NUL user NUL password, in base64');
      const [authzid, name, password] = parts as [string, string, string];
      if (authzid !== '' && authzid !== name) return no(c.tag, 'acting as another user is not allowed here', 'AUTHORIZATIONFAILED');
      return logIn(s, c.tag, name, password);
    },
  },

  // ---------------------------------------------------------------------------
  // Authenticated (RFC 9051 6.3); these work in the selected state too.

  // RFC 5161, RFC 9051 6.3.1: turn on an extension for this session. IMAP4rev2 only
  // before SELECT, since it changes how a mailbox is described.
  ENABLE: {
    states: ['authenticated'],
    run: (s, r, c) => {
      const asked: string[] = [];
      do {
        r.sp();
        asked.push(r.keyword('a capability'));
      } while (!r.atEnd);
      const enabled = asked.includes('IMAP4REV2') && !s.rev2 ? ['IMAP4rev2'] : [];
      if (enabled.length > 0) s.rev2 = true;
      return [data(atom('ENABLED'), ...enabled.map(atom)), ok(c.tag, 'ENABLE completed')];
    },
  },

  // RFC 9051 6.3.2: open a mailbox for reading and changing.
  SELECT: { states: AUTH, run: (s, r, c) => select(s, r, c, false) },
  // RFC 9051 6.3.3: the same, read-only: nothing changes, not even \Seen.
  EXAMINE: { states: AUTH, run: (s, r, c) => select(s, r, c, true) },

  // RFC 9051 6.3.4.
  CREATE: {
    states: AUTH,
    run: async (s, r, c) => {
      r.sp();
      const name = mailboxArg(s, r);
      r.end();
      await store(s).create(name);
      return ok(c.tag, 'CREATE completed');
    },
  },

  // RFC 9051 6.3.5.
  DELETE: {
    states: AUTH,
    run: async (s, r, c) => {
      r.sp();
      const name = mailboxArg(s, r);
      r.end();
      if (s.selected && s.selected.folder.name === name) return no(c.tag, 'that mailbox is selected: CLOSE it first', 'INUSE');
      await store(s).delete(name);
      return ok(c.tag, 'DELETE completed');
    },
  },

  // RFC 9051 6.3.6.
  RENAME: {
    states: AUTH,
    run: async (s, r, c) => {
      r.sp();
      const from = mailboxArg(s, r);
      r.sp();
      const to = mailboxArg(s, r);
      r.end();
      if (s.selected && (s.selected.folder.name === from || s.selected.folder.name.startsWith(from + DELIMITER))) return no(c.tag, 'that mailbox is selected: CLOSE it first', 'INUSE');
      await store(s).rename(from, to);
      return ok(c.tag, 'RENAME completed');
    },
  },

  // RFC 9051 6.3.7, 6.3.8: the list of mailboxes a client shows; names need not exist.
  SUBSCRIBE: { states: AUTH, run: (s, r, c) => subscribe(s, r, c, true) },
  UNSUBSCRIBE: { states: AUTH, run: (s, r, c) => subscribe(s, r, c, false) },

  // RFC 9051 6.3.9 (with LIST-EXTENDED, RFC 5258; SPECIAL-USE, RFC 6154; LIST-STATUS, RFC 5819).
  LIST: { states: AUTH, run: list },

  // RFC 3501 6.3.9: IMAP4rev1's list of subscribed mailboxes (LIST (SUBSCRIBED) in IMAP4rev2).
  LSUB: {
    states: AUTH,
    run: async (s, r, c) => {
      r.sp();
      const reference = nameArg(s, r.astring('a reference name'));
      r.sp();
      const pattern = nameArg(s, r.listMailbox());
      r.end();
      const match = listMatcher(reference, pattern);
      const existing = new Set(await store(s).names());
      const found = (await store(s).subscriptions()).filter(match);
      return [...found.map((n) => data(atom('LSUB'), existing.has(n) ? [] : [atom('\\Noselect')], DELIMITER, mailboxOut(s, n))), ok(c.tag, 'LSUB completed')];
    },
  },

  // RFC 9051 6.3.10: one namespace, the user's own, with "." between levels.
  NAMESPACE: { states: AUTH, run: (_s, r, c) => (r.end(), [data(atom('NAMESPACE'), [['', DELIMITER]], null, null), ok(c.tag, 'NAMESPACE completed')]) },

  // RFC 9051 6.3.11: counts of a mailbox without selecting it.
  STATUS: {
    states: AUTH,
    run: async (s, r, c) => {
      r.sp();
      const name = mailboxArg(s, r);
      r.sp();
      const items = r.list((x) => x.keyword('a status item'), false);
      r.end();
      for (const item of items) if (!STATUS_ITEMS.includes(item)) throw new ParseError(`unknown STATUS item ${item}`);
      if (!(await store(s).exists(name))) return no(c.tag, `no mailbox ${name}`, 'NONEXISTENT');
      return [await statusResponse(s, name, items), ok(c.tag, 'STATUS completed')];
    },
  },

  // RFC 9051 6.3.12: add a message (the client's "Sent" copy, a draft). The message is a literal.
  APPEND: {
    states: AUTH,
    run: async (s, r, c) => {
      r.sp();
      const name = mailboxArg(s, r);
      r.sp();
      let flags: string[] = [];
      let date = new Date();
      if (r.peek() === 0x28) {
        flags = flagList(r);
        r.sp();
      }
      if (r.peek() === 0x22) {
        date = dateTime(r);
        r.sp();
      }
      const message = r.literal(true);
      r.end();
      checkStorable(flags);
      s.note({ mailbox: name, octets: message.length });
      if (message.length === 0) return no(c.tag, 'an empty message is not a message (RFC 5322 needs at least a header)', 'CANNOT');
      if (!(await store(s).exists(name))) return no(c.tag, `no mailbox ${name}: CREATE it first`, 'TRYCREATE');
      const { uidvalidity, uid } = await store(s).folder(name).append(message, flags, date);
      // RFC 4315 (UIDPLUS): the new message's UID, so the client need not search for it.
      return ok(c.tag, 'APPEND completed', `APPENDUID ${uidvalidity} ${uid}`);
    },
  },

  // RFC 2177: "tell me when something happens". The client ends it with DONE.
  IDLE: {
    states: AUTH,
    run: async (s, r, c) => {
      r.end();
      await s.send(continuation('idling'));
      const line = await s.idle();
      if (line === undefined) return undefined; // the session is ending (autologout, shutdown)
      if (line.toString('latin1').trim().toUpperCase() !== 'DONE') return bad(c.tag, 'expected DONE to end IDLE');
      return ok(c.tag, 'IDLE terminated');
    },
  },

  // ---------------------------------------------------------------------------
  // Selected (RFC 9051 6.4).

  // RFC 3501 6.4.1 (gone from IMAP4rev2): "a checkpoint": every change is on disk already.
  CHECK: { states: SELECTED, run: (_s, r, c) => (r.end(), ok(c.tag, 'CHECK completed')) },

  // RFC 9051 6.4.1: leave the mailbox, removing the messages marked \Deleted (silently).
  CLOSE: {
    states: SELECTED,
    run: async (s, r, c) => {
      r.end();
      const view = selected(s);
      if (!view.readOnly) for (const m of view.messages.filter((x) => x.flags.includes('\\Deleted') && !x.gone)) await view.folder.remove(m);
      leave(s);
      return ok(c.tag, 'CLOSE completed');
    },
  },

  // RFC 9051 6.4.2: leave the mailbox, removing nothing.
  UNSELECT: {
    states: SELECTED,
    run: (s, r, c) => {
      r.end();
      leave(s);
      return ok(c.tag, 'UNSELECT completed');
    },
  },

  // RFC 9051 6.4.3 (UID EXPUNGE: RFC 4315): remove the messages marked \Deleted. The
  // `* n EXPUNGE` responses come from the news the server adds after every command.
  EXPUNGE: {
    states: SELECTED,
    uid: true,
    run: async (s, r, c) => {
      let set: SequenceSet | undefined;
      if (c.uid) {
        r.sp();
        set = sequenceSet(r);
      }
      r.end();
      const view = writable(s);
      const chosen = set ? new Set(pick(view, set, true).map((m) => m.uid)) : undefined;
      const doomed = view.messages.filter((m) => m.flags.includes('\\Deleted') && !m.gone && (!chosen || chosen.has(m.uid)));
      for (const m of doomed) await view.folder.remove(m);
      s.note({ expunged: doomed.length });
      return ok(c.tag, 'EXPUNGE completed');
    },
  },

  // RFC 9051 6.4.4.
  SEARCH: { states: SELECTED, uid: true, run: search },

  // RFC 9051 6.4.5.
  FETCH: { states: SELECTED, uid: true, run: fetch },

  // RFC 9051 6.4.6: change flags: FLAGS replaces, +FLAGS adds, -FLAGS removes; .SILENT: no answer but OK.
  STORE: {
    states: SELECTED,
    uid: true,
    run: async (s, r, c) => {
      const args = storeArgs(r);
      checkStorable(args.flags);
      const view = writable(s);
      const wanted = args.flags;
      const keywordsBefore = (await view.folder.keywords()).length;
      const targets = pick(view, args.set, c.uid);
      const changed: ViewMessage[] = [];
      let gone = false;
      for (const m of targets) {
        // Applied to the flags the file has now, so a change another session made meanwhile is kept.
        const now = m.gone ? undefined : await view.folder.setLetters(m, async (letters) => view.folder.lettersOf(applyFlags((await view.folder.flagReader())(letters), wanted, args.mode), letters));
        if (!now) gone = true;
        else {
          Object.assign(m, now);
          changed.push(m);
        }
      }
      const flagsOf = await view.folder.flagReader(); // with any keyword this STORE added
      for (const m of changed) m.flags = flagsOf(m.letters);
      const out: Response[] = [];
      const keywords = await view.folder.keywords();
      // A new keyword: the mailbox's list of flags has grown, and the client is told (RFC 9051 7.3.5).
      if (keywords.length > keywordsBefore) out.push(...flagsResponses([...FLAGS, ...keywords], false));
      if (!args.silent) for (const m of changed) out.push(fetchResponse(view, m, [atom('FLAGS'), view.shownFlags(m).map(atom), ...(c.uid ? [atom('UID'), m.uid] : [])]));
      if (gone) return [...out, no(c.tag, 'some of the messages no longer exist', 'EXPUNGEISSUED')];
      return [...out, ok(c.tag, 'STORE completed')];
    },
  },

  // RFC 9051 6.4.7: copy messages to another mailbox, with their flags.
  COPY: { states: SELECTED, uid: true, run: (s, r, c) => copy(s, r, c, false) },
  // RFC 6851: copy, then expunge here: one step, so a crash cannot leave two copies.
  MOVE: { states: SELECTED, uid: true, run: (s, r, c) => copy(s, r, c, true) },

  // RFC 9051 6.4.9: `UID FETCH`, `UID SEARCH` ...: the same commands, with UIDs instead of message numbers.
  UID: {
    states: SELECTED,
    run: (s, r, c) => {
      r.sp();
      const name = r.keyword('a command after UID');
      const verb = Object.hasOwn(VERBS, name) ? VERBS[name] : undefined;
      if (!verb?.uid) throw new ParseError(`UID ${name}: only FETCH, SEARCH, STORE, COPY, MOVE and EXPUNGE have a UID form`);
      s.note({ verb: `UID ${name}` });
      return verb.run(s, r, { ...c, uid: true });
    },
  },
};

// -----------------------------------------------------------------------------
// Login.

function plaintextRefused(s: Session, tag: string): Reply {
  s.note({ refused: 'plaintext login' });
  const how = s.settings.tls ? 'use STARTTLS first (or port 993)' : 'this server has no TLS, and plain-text login is off';
  // RFC 9051 7.1 PRIVACYREQUIRED: "the operation is not permitted due to a lack of data confidentiality".
  return no(tag, `login in plain text is not allowed: ${how}`, 'PRIVACYREQUIRED');
}

async function logIn(s: Session, tag: string, name: string, password: string): Promise<Reply> {
  const user = s.authenticate(name, password);
  if (!user) return s.loginFailed(tag, name);
  await s.login(user);
  s.note({ user: user.name });
  // Clients save a round trip when the new capabilities come with the OK (RFC 9051 6.2.3).
  return ok(tag, `${user.name}@${s.settings.domain} logged in`, `CAPABILITY ${s.capabilities().join(' ')}`);
}

/** ID's argument: NIL, or ("name" "value" ...) as pairs (RFC 2971 3.1). */
function idFields(r: Reader): [string, string][] {
  if (r.peekWord() === 'NIL') {
    r.keyword();
    return [];
  }
  const items = r.list((x) => x.nstring()?.toString('utf8') ?? 'NIL');
  if (items.length % 2 !== 0 || items.length > 60) throw new ParseError('ID takes NIL or up to 30 ("field" "value") pairs');
  return Array.from({ length: items.length / 2 }, (_, i) => [items[2 * i]!, items[2 * i + 1]!]);
}

// -----------------------------------------------------------------------------
// Mailbox names.

/** A mailbox name argument, in UTF-8 (decoded from modified UTF-7 unless IMAP4rev2 is on). */
function mailboxArg(s: Session, r: Reader): string {
  return nameArg(s, r.astring('a mailbox name'));
}

function nameArg(s: Session, text: string): string {
  return normalizeName(s.rev2 ? text : decodeUtf7(text));
}

/** A mailbox name for a response, as the client reads names: an atom when it can be one (`INBOX`), else a string. */
function mailboxOut(s: Session, name: string): Value {
  const text = s.rev2 ? name : encodeUtf7(name);
  return /^[A-Za-z0-9_.&,+-]+$/.test(text) && text.toUpperCase() !== 'NIL' ? atom(text) : text;
}

function store(s: Session): MailStore {
  if (!s.store) throw new Error('imap: a mailbox command without a login');
  return s.store;
}

function selected(s: Session): SelectedMailbox {
  if (!s.selected) throw new Error('imap: a selected-state command without a mailbox');
  return s.selected;
}

/** The selected mailbox, if it may be changed; EXAMINE made it read-only. */
function writable(s: Session): SelectedMailbox {
  const view = selected(s);
  if (view.readOnly) throw new MailboxError('the mailbox is open read-only (EXAMINE): SELECT it to change it', 'CANNOT');
  return view;
}

function leave(s: Session): void {
  s.selected = undefined;
  s.state = transition(s.state, 'close');
}

// -----------------------------------------------------------------------------
// SELECT and EXAMINE.

async function select(s: Session, r: Reader, c: Context, readOnly: boolean): Promise<Reply> {
  r.sp();
  const name = mailboxArg(s, r);
  r.end();
  const out: Response[] = [];
  if (s.selected) {
    // RFC 9051 6.3.2: selecting closes the mailbox that was open (without expunging), even if this SELECT fails.
    leave(s);
    out.push(ok('*', 'previous mailbox closed', 'CLOSED'));
  }
  if (!(await store(s).exists(name))) return [...out, no(c.tag, `no mailbox ${name}`, 'NONEXISTENT')];
  const view = await SelectedMailbox.open(store(s).folder(name), readOnly, !s.rev2);
  s.selected = view;
  s.state = transition(s.state, 'select');
  out.push(...flagsResponses([...FLAGS, ...(await view.folder.keywords())], readOnly));
  out.push(data(view.count, atom('EXISTS')));
  if (!s.rev2) {
    // IMAP4rev1 only: \Recent and the first unseen message (both gone from IMAP4rev2).
    out.push(data(view.messages.filter((m) => m.recent).length, atom('RECENT')));
    const unseen = view.messages.findIndex((m) => !m.flags.includes('\\Seen'));
    if (unseen !== -1) out.push(ok('*', 'first unseen', `UNSEEN ${unseen + 1}`));
  }
  out.push(ok('*', 'UIDs valid', `UIDVALIDITY ${view.uidvalidity}`));
  out.push(ok('*', 'predicted next UID', `UIDNEXT ${view.uidnext}`));
  // RFC 9051 6.3.2: the mailbox's LIST response, with its name as the server spells it.
  if (s.rev2) out.push(data(atom('LIST'), await attributes(s, name, new Set()), DELIMITER, mailboxOut(s, name)));
  out.push(ok(c.tag, `${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE'));
  s.note({ mailbox: name, messages: view.count });
  return out;
}

/** FLAGS: what the mailbox knows; PERMANENTFLAGS: what may be changed for good (`\\*`: new keywords too). */
function flagsResponses(flags: readonly string[], readOnly: boolean): Response[] {
  return [
    data(atom('FLAGS'), flags.map(atom)),
    ok('*', readOnly ? 'no permanent flags: read-only' : 'flags permitted', `PERMANENTFLAGS (${readOnly ? '' : [...flags, '\\*'].join(' ')})`),
  ];
}

async function subscribe(s: Session, r: Reader, c: Context, on: boolean): Promise<Reply> {
  r.sp();
  const name = mailboxArg(s, r);
  r.end();
  await store(s).subscribe(name, on);
  return ok(c.tag, `${on ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} completed`);
}

// -----------------------------------------------------------------------------
// LIST.

/** Mailbox attributes (RFC 9051 7.3.1): children, and the special use (RFC 6154). */
async function attributes(s: Session, name: string, subscribed: ReadonlySet<string>, all?: readonly string[]): Promise<Value[]> {
  const names = all ?? (await store(s).names());
  const attrs: Value[] = [atom(names.some((n) => n.startsWith(name + DELIMITER)) ? '\\HasChildren' : '\\HasNoChildren')];
  const special = SPECIAL_USE[name];
  if (special) attrs.push(atom(special));
  if (subscribed.has(name)) attrs.push(atom('\\Subscribed'));
  return attrs;
}

const LIST_SELECT = ['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'];
const LIST_RETURN = ['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE', 'STATUS'];

async function list(s: Session, r: Reader, c: Context): Promise<Reply> {
  r.sp();
  // LIST-EXTENDED (RFC 5258): LIST (selection options) reference (patterns) RETURN (options)
  let selection: string[] = [];
  if (r.peek() === 0x28) {
    selection = r.list((x) => x.keyword('a selection option'));
    r.sp();
  }
  const reference = nameArg(s, r.astring('a reference name'));
  r.sp();
  const patterns = r.peek() === 0x28 ? r.list((x) => x.listMailbox(), false) : [r.listMailbox()];
  const returns: string[] = [];
  let statusItems: string[] = [];
  if (!r.atEnd) {
    r.sp();
    if (r.keyword() !== 'RETURN') throw new ParseError('expected RETURN (options) after the patterns');
    r.sp();
    r.list((x) => {
      const option = x.keyword('a return option');
      if (option === 'STATUS') {
        x.sp();
        statusItems = x.list((y) => y.keyword('a status item'), false);
      }
      returns.push(option);
    });
  }
  r.end();
  for (const o of selection) if (!LIST_SELECT.includes(o)) throw new ParseError(`unknown LIST selection option ${o}`);
  for (const o of returns) if (!LIST_RETURN.includes(o)) throw new ParseError(`unknown LIST return option ${o}`);
  for (const item of statusItems) if (!STATUS_ITEMS.includes(item)) throw new ParseError(`unknown STATUS item ${item}`);
  if (selection.includes('RECURSIVEMATCH') && selection.length === 1) throw new ParseError('RECURSIVEMATCH needs another selection option, such as SUBSCRIBED');

  // RFC 9051 6.3.9: an empty pattern asks only for the delimiter and the root.
  if (patterns.length === 1 && patterns[0] === '') return [data(atom('LIST'), [atom('\\Noselect')], DELIMITER, ''), ok(c.tag, 'LIST completed')];

  const names = await store(s).names();
  const subscribedList = await store(s).subscriptions();
  const subscribed = new Set(subscribedList);
  const matchers = patterns.map((p) => listMatcher(reference, nameArg(s, p)));
  const matching = (n: string): boolean => matchers.some((m) => m(n));
  const showSubscribed = selection.includes('SUBSCRIBED') || returns.includes('SUBSCRIBED');
  const out: Response[] = [];
  let candidates: string[];
  if (selection.includes('SUBSCRIBED')) {
    // Subscribed names, existing or not (\NonExistent), plus with RECURSIVEMATCH the
    // parents of subscribed names, marked CHILDINFO (RFC 5258 3.5).
    candidates = [...new Set([...subscribedList, ...(selection.includes('RECURSIVEMATCH') ? names.filter((n) => subscribedList.some((x) => x.startsWith(n + DELIMITER))) : [])])];
  } else candidates = names;
  for (const name of candidates.filter(matching)) {
    const exists = names.includes(name);
    const attrs = exists ? await attributes(s, name, showSubscribed ? subscribed : new Set(), names) : [atom('\\NonExistent'), ...(subscribed.has(name) ? [atom('\\Subscribed')] : [])];
    if (selection.includes('SPECIAL-USE') && !SPECIAL_USE[name]) continue;
    const extended: Value[] = [];
    if (selection.includes('RECURSIVEMATCH') && !subscribed.has(name)) extended.push(['CHILDINFO', ['SUBSCRIBED']]);
    if (selection.includes('SUBSCRIBED') && !subscribed.has(name) && extended.length === 0) continue;
    out.push(data(atom('LIST'), attrs, DELIMITER, mailboxOut(s, name), ...extended));
    // LIST-STATUS (RFC 5819): a STATUS response right after each selectable mailbox.
    if (statusItems.length > 0 && exists) out.push(await statusResponse(s, name, statusItems));
  }
  return [...out, ok(c.tag, 'LIST completed')];
}

// -----------------------------------------------------------------------------
// STATUS.

const STATUS_ITEMS = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT'];

async function statusResponse(s: Session, name: string, items: readonly string[]): Promise<Response> {
  const folder = store(s).folder(name);
  const state = await folder.scan();
  const has = (letter: string): number => state.messages.filter((m) => m.letters.includes(letter)).length;
  const values: Value[] = [];
  for (const item of items) {
    let value: number;
    switch (item) {
      case 'MESSAGES':
        value = state.messages.length;
        break;
      case 'UIDNEXT':
        value = state.uidnext;
        break;
      case 'UIDVALIDITY':
        value = state.uidvalidity;
        break;
      case 'UNSEEN':
        value = state.messages.length - has('S');
        break;
      case 'DELETED':
        value = has('T');
        break;
      case 'RECENT':
        // Mail no IMAP session has seen yet is still in new/.
        value = state.messages.filter((m) => m.file.startsWith('new/')).length;
        break;
      default: {
        // SIZE (RFC 8438): the octets of every message as sent.
        let total = 0;
        for (const m of state.messages) total += (await messageSize(folder, m)) ?? 0;
        value = total;
      }
    }
    values.push(atom(item), value);
  }
  return data(atom('STATUS'), mailboxOut(s, name), values);
}

// -----------------------------------------------------------------------------
// Message sets.

/**
 * The messages a set names: by message number (every number must exist: the client
 * knows how many there are) or by UID (UIDs that do not exist are skipped, RFC 9051 6.4.9).
 */
function pick(view: SelectedMailbox, set: SequenceSet, uid: boolean): ViewMessage[] {
  if (set.saved) return view.saved.map((u) => view.byUid(u)).filter((m) => m !== undefined);
  if (uid) {
    const uids = new Set(resolveSet(set.ranges, view.messages.map((m) => m.uid)));
    return view.messages.filter((m) => uids.has(m.uid));
  }
  for (const [a, b] of set.ranges) {
    for (const n of [a, b]) {
      if (n === '*' ? view.count === 0 : n > view.count) {
        throw new ParseError(view.count === 0 ? 'the mailbox is empty: there are no message numbers' : `no message ${n}: the mailbox has ${view.count} messages`);
      }
    }
  }
  return resolveSet(set.ranges, view.messages.map((_, i) => i + 1)).map((n) => view.messages[n - 1]!);
}

// -----------------------------------------------------------------------------
// SEARCH.

async function search(s: Session, r: Reader, c: Context): Promise<Reply> {
  const args = searchArgs(r);
  const view = selected(s);
  // RFC 9051 6.4.4: US-ASCII and UTF-8 must be supported; others get BADCHARSET with the list.
  if (args.charset !== undefined && args.charset !== 'UTF-8' && args.charset !== 'US-ASCII') return no(c.tag, `charset ${args.charset} is not supported`, 'BADCHARSET (UTF-8 US-ASCII)');
  const scope = { uids: view.messages.map((m) => m.uid), count: view.count, saved: view.saved };
  const found: ViewMessage[] = [];
  for (const [i, m] of view.messages.entries()) {
    if (m.gone) continue;
    let loaded: ReturnType<SelectedMailbox['load']> | undefined;
    const candidate: Candidate = {
      seq: i + 1,
      uid: m.uid,
      flags: m.flags,
      recent: m.recent,
      internalDate: () => view.folder.internalDate(m),
      size: () => messageSize(view.folder, m),
      content: async () => (await (loaded ??= view.load(m)))?.mime,
    };
    if (await matches(args.key, candidate, scope)) found.push(m);
  }
  const numbers = found.map((m) => (c.uid ? m.uid : view.seqOf(m)));
  s.note({ found: found.length });
  if (args.returns === undefined && !s.rev2) return [data(atom('SEARCH'), ...numbers), ok(c.tag, 'SEARCH completed')];

  // ESEARCH (RFC 4731, RFC 9051 7.3.4): MIN, MAX, COUNT, ALL as asked; RETURN () means ALL.
  const returns = args.returns === undefined || args.returns.length === 0 ? ['ALL'] : args.returns;
  const result: Value[] = [];
  if (returns.includes('MIN') && numbers.length > 0) result.push(atom('MIN'), numbers[0]!);
  if (returns.includes('MAX') && numbers.length > 0) result.push(atom('MAX'), numbers[numbers.length - 1]!);
  if (returns.includes('ALL') && numbers.length > 0) result.push(atom('ALL'), atom(formatSet(numbers)));
  if (returns.includes('COUNT')) result.push(atom('COUNT'), numbers.length);
  const out: Response[] = [];
  if (returns.includes('SAVE')) {
    // RFC 5182 2.1: with MIN or MAX alone, only those are saved.
    const onlyEnds = !returns.includes('ALL') && !returns.includes('COUNT') && (returns.includes('MIN') || returns.includes('MAX'));
    const ends = [returns.includes('MIN') ? found[0] : undefined, returns.includes('MAX') ? found[found.length - 1] : undefined].filter((m) => m !== undefined);
    view.saved = (onlyEnds ? [...new Set(ends)] : found).map((m) => m.uid);
  }
  // RFC 5182 2.4: SAVE alone returns no ESEARCH response.
  if (!(returns.length === 1 && returns[0] === 'SAVE')) out.push(data(atom('ESEARCH'), [atom('TAG'), c.tag], ...(c.uid ? [atom('UID')] : []), ...result));
  return [...out, ok(c.tag, 'SEARCH completed')];
}

// -----------------------------------------------------------------------------
// FETCH.

/** Items that need the message's octets. */
const NEEDS_CONTENT = new Set<FetchAtt['kind']>(['ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'section', 'BINARY.SIZE']);

async function fetch(s: Session, r: Reader, c: Context): Promise<Reply> {
  r.sp();
  const set = sequenceSet(r);
  r.sp();
  const atts = fetchAtts(r);
  r.end();
  const view = selected(s);
  // UID FETCH always answers with the UID (RFC 9051 6.4.9).
  const items: FetchAtt[] = c.uid && !atts.some((a) => a.kind === 'UID') ? [{ kind: 'UID' }, ...atts] : [...atts];
  const seen = setsSeen(items) && !view.readOnly;
  const content = items.some((a) => NEEDS_CONTENT.has(a.kind));
  let gone = 0;
  let sent = 0;
  for (const m of pick(view, set, c.uid)) {
    const loaded = content ? await view.load(m) : undefined;
    const date = items.some((a) => a.kind === 'INTERNALDATE') ? await view.folder.internalDate(m) : undefined;
    const size = items.some((a) => a.kind === 'RFC822.SIZE') ? (loaded?.bytes.length ?? (await messageSize(view.folder, m))) : undefined;
    if (m.gone || (content && !loaded) || (items.some((a) => a.kind === 'RFC822.SIZE') && size === undefined)) {
      gone++;
      continue;
    }
    let extra: Value[] = [];
    if (seen && !m.flags.includes('\\Seen')) {
      // BODY[...] without .PEEK sets \Seen (RFC 9051 6.4.5); the new flags come with the data.
      const flagsOf = await view.folder.flagReader();
      const now = await view.folder.setLetters(m, (letters) => view.folder.lettersOf([...flagsOf(letters), '\\Seen'], letters));
      if (now) Object.assign(m, now, { flags: flagsOf(now.letters) });
      if (!items.some((a) => a.kind === 'FLAGS')) extra = [atom('FLAGS'), view.shownFlags(m).map(atom)];
    }
    const values = fetchItems(items, {
      uid: m.uid,
      flags: view.shownFlags(m),
      internalDate: date ?? new Date(0),
      bytes: loaded?.bytes ?? Buffer.alloc(size ?? 0),
      mime: loaded?.mime ?? { header: Buffer.alloc(0), fields: [], body: Buffer.alloc(0), type: 'text', subtype: 'plain', params: [] },
    });
    await s.send(fetchResponse(view, m, [...extra, ...values]));
    sent++;
  }
  s.note({ messages: sent, gone: gone || undefined });
  // RFC 9051 7.1 EXPUNGEISSUED: some messages were deleted by another session meanwhile.
  if (gone > 0) return no(c.tag, 'some of the messages no longer exist', 'EXPUNGEISSUED');
  return ok(c.tag, 'FETCH completed');
}

function fetchResponse(view: SelectedMailbox, m: ViewMessage, values: Value[]): Response {
  return data(view.seqOf(m), atom('FETCH'), values);
}

// -----------------------------------------------------------------------------
// STORE.

/** Flags a client may set: the system flags and keywords; \Recent is the server's alone (RFC 3501 2.3.2). */
function checkStorable(flags: readonly string[]): void {
  for (const f of flags) {
    if (f === '\\Recent') throw new ParseError('\\Recent is set by the server, not by a client');
    if (f.startsWith('\\') && !(FLAGS as readonly string[]).includes(f)) throw new ParseError(`${f} is not a flag: the system flags are ${FLAGS.join(' ')}`);
  }
}

function applyFlags(current: readonly string[], change: readonly string[], mode: '+' | '-' | '='): string[] {
  if (mode === '=') return [...change];
  if (mode === '+') return [...new Set([...current, ...change])];
  return current.filter((f) => !change.some((x) => x.toLowerCase() === f.toLowerCase()));
}

// -----------------------------------------------------------------------------
// COPY and MOVE.

async function copy(s: Session, r: Reader, c: Context, move: boolean): Promise<Reply> {
  r.sp();
  const set = sequenceSet(r);
  r.sp();
  const name = mailboxArg(s, r);
  r.end();
  const view = move ? writable(s) : selected(s);
  // RFC 9051 6.4.7: TRYCREATE tells the client it may CREATE the mailbox and try again.
  if (!(await store(s).exists(name))) return no(c.tag, `no mailbox ${name}`, 'TRYCREATE');
  if (move && name === view.folder.name) return no(c.tag, 'a message cannot be moved to the mailbox it is in', 'CANNOT');
  const chosen = pick(view, set, c.uid).filter((m) => !m.gone);
  const { uidvalidity, uids } = await store(s).folder(name).bringIn(view.folder, chosen, move);
  const pairs = chosen.map((m, i) => [m.uid, uids[i]] as const).filter((p): p is readonly [number, number] => p[1] !== undefined);
  s.note({ to: name, messages: pairs.length });
  // RFC 4315 (UIDPLUS): the UIDs the copies got, in the same order as the originals.
  const code = pairs.length > 0 ? `COPYUID ${uidvalidity} ${formatSet(pairs.map((p) => p[0]))} ${formatSet(pairs.map((p) => p[1]))}` : undefined;
  const missing = pairs.length < chosen.length;
  if (!move) return missing ? no(c.tag, 'some of the messages no longer exist', 'EXPUNGEISSUED') : ok(c.tag, 'COPY completed', code);
  // RFC 6851 4.3: MOVE tells the COPYUID in an untagged OK; the EXPUNGEs follow.
  return [...(code ? [ok('*', 'moved', code)] : []), missing ? no(c.tag, 'some of the messages no longer exist', 'EXPUNGEISSUED') : ok(c.tag, 'MOVE completed')];
}
