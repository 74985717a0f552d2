import type { Fields } from '../common/logger';
import type { LabUser } from '../common/users';
import { splitArgs } from './lines';
import type { Maildrop, Pop3Message } from './maildrop';
import { topOf } from './message';
import { err, ok, type Reply } from './reply';
import { transition, type State } from './states';

/**
 * The POP3 commands, one handler each (RFC 1939 4-7, RFC 2449 5). A handler gets the
 * session and the text after the verb, and returns the reply; server.ts has already
 * checked that the verb is allowed in the session's state, sends the reply, and logs
 * one line per command. A verb that is not in the table does not exist here (APOP and
 * AUTH, for instance): it gets "-ERR unknown command".
 */

/** What a handler may see and do; server.ts implements it, one per connection. */
export interface Session {
  state: State;
  /** The name given by USER, waiting for PASS. Cleared by every other command (RFC 1939 7: PASS comes right after USER). */
  pendingUser?: string;
  /** Set at login: the maildrop of this session. */
  maildrop?: Maildrop;
  readonly domain: string;
  /** The user, if this name and password are right (`alice` or `alice@lab.test`). */
  authenticate(name: string, password: string): LabUser | undefined;
  /** Count a failed login, wait authFailureDelayMs, and build the -ERR (closing after maxAuthFailures). */
  loginFailed(name: string): Promise<Reply>;
  /** Lock and open the user's maildrop; undefined if another session holds the lock. */
  openMaildrop(user: LabUser): Promise<Maildrop | undefined>;
  /** End the session's hold on the maildrop: unlock it. */
  releaseMaildrop(): Promise<void>;
  /** Close the connection once this command's reply is sent. */
  hangUp(reason: string): void;
  /** Extra fields for this command's log line. */
  note(fields: Fields): void;
  /** Is the connection encrypted (port 995, or after STLS)? */
  readonly secure: boolean;
  /** Can STLS start TLS here (the server has a certificate, and the connection is not encrypted yet)? */
  readonly tlsAvailable: boolean;
  /** May USER/PASS be used on a connection in clear (the "passwords in plain text" lesson)? */
  readonly plaintextLoginAllowed: boolean;
  /** STLS: answer +OK, then the TLS handshake; false if it failed (the connection is closed then). */
  startTls(goAhead: Reply): Promise<boolean>;
}

/** A handler's reply; undefined when it answered already (STLS answers before its handshake). */
export type Handler = (session: Session, arg: string) => Reply | undefined | Promise<Reply | undefined>;

export interface Verb {
  /** The states the command is allowed in (RFC 1939 lists each command under its state). */
  states: readonly State[];
  run: Handler;
}

/**
 * What CAPA announces (RFC 2449 5, 6). A client reads this to know what it may use:
 * TOP and UIDL (optional in RFC 1939, supported here), RESP-CODES and AUTH-RESP-CODE
 * (the [IN-USE], [AUTH], [SYS/TEMP] after -ERR), PIPELINING (the client may send several
 * commands without waiting; they are answered in order). Then, depending on the
 * connection: STLS (RFC 2595 4) while it is in clear and TLS is there, and USER (plain
 * USER/PASS login) only where a password may be sent (RFC 2595 4: a client must not send
 * it in clear when USER is not announced).
 */
export const CAPABILITIES = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'IMPLEMENTATION wirelab'] as const;

export function capabilities(s: Session): string[] {
  const before = s.state === 'AUTHORIZATION';
  return [
    ...(before && (s.secure || s.plaintextLoginAllowed) ? ['USER'] : []),
    ...CAPABILITIES,
    ...(before && s.tlsAvailable ? ['STLS'] : []),
  ];
}

/** RFC 2595 2.1 and Dovecot's words: a password is not taken on a connection in clear unless the lesson allows it. */
const PLAINTEXT_REFUSED = 'plain-text login is not allowed on a connection in clear: use STLS first (or port 995)';

const AUTH: readonly State[] = ['AUTHORIZATION'];
const TRANS: readonly State[] = ['TRANSACTION'];
const BOTH: readonly State[] = ['AUTHORIZATION', 'TRANSACTION'];

export const VERBS: Readonly<Record<string, Verb>> = {
  // RFC 2449 5: allowed before and after login, so a client can look before it logs in.
  CAPA: { states: BOTH, run: (s) => ok('Capability list follows', capabilities(s)) },

  // RFC 2595 4, STLS: switch this connection to TLS, then start over (USER again, CAPA again).
  // Whatever the client sent after STLS in clear is thrown away unread (the engine does it).
  STLS: {
    states: AUTH,
    run: async (s) => {
      if (s.secure) return err('the connection is encrypted already');
      if (!s.tlsAvailable) return err('STLS is not offered here');
      s.pendingUser = undefined;
      await s.startTls(ok('Begin TLS negotiation now'));
      return undefined;
    },
  },

  // RFC 1939 7, USER. The RFC allows -ERR for a name without a maildrop; answering +OK
  // for every name does not tell a stranger which names exist. PASS decides.
  USER: {
    states: AUTH,
    run: (s, arg) => {
      if (arg === '') return err('USER needs a name: USER alice');
      if (!s.secure && !s.plaintextLoginAllowed) return err(PLAINTEXT_REFUSED, 'AUTH');
      s.pendingUser = arg;
      return ok(`now PASS with the password for ${arg}`);
    },
  },

  // RFC 1939 7, PASS: the password travels in plain text, readable by anyone on the path.
  PASS: {
    states: AUTH,
    run: async (s, arg) => {
      const name = s.pendingUser;
      s.pendingUser = undefined; // one attempt per USER
      if (name === undefined) return err('PASS comes right after USER: USER name, then PASS password');
      const user = s.authenticate(name, arg);
      if (!user) return s.loginFailed(name);
      s.note({ user: user.name });
      const maildrop = await s.openMaildrop(user);
      // RFC 1939 8, RFC 2449 8.1.1: one session per maildrop at a time.
      if (!maildrop) return err('your maildrop is locked by another session; QUIT that one first', 'IN-USE');
      s.state = transition(s.state, 'login');
      s.note({ messages: maildrop.count, octets: maildrop.size });
      return ok(`${user.name}@${s.domain} has ${maildrop.count} messages (${maildrop.size} octets)`);
    },
  },

  // RFC 1939 4 and 6, QUIT: in AUTHORIZATION just goodbye; in TRANSACTION, UPDATE first.
  QUIT: {
    states: BOTH,
    run: async (s) => {
      s.hangUp('QUIT');
      const maildrop = s.maildrop;
      if (s.state === 'AUTHORIZATION' || !maildrop) return ok('goodbye');
      s.state = transition(s.state, 'quit'); // UPDATE: now, and only now, marked messages go
      const { removed, failed } = await maildrop.expunge();
      await s.releaseMaildrop();
      s.note({ removed, failed: failed || undefined, left: maildrop.count });
      if (failed > 0) return err(`some deleted messages not removed (${failed} of ${removed + failed})`);
      return ok(`goodbye: ${removed} messages deleted, ${maildrop.count} left`);
    },
  },

  // RFC 1939 5, STAT: "+OK count octets", without the marked messages.
  STAT: { states: TRANS, run: (s) => ok(`${drop(s).count} ${drop(s).size}`) },

  // RFC 1939 5, LIST [msg]: the "scan listing", number and size of each message.
  LIST: {
    states: TRANS,
    run: (s, arg) => {
      const md = drop(s);
      if (arg.trim() === '') return ok(`${md.count} messages (${md.size} octets)`, md.visible().map((m) => `${m.number} ${m.size}`));
      const m = pick(s, arg);
      return 'ok' in m ? m : ok(`${m.number} ${m.size}`);
    },
  },

  // RFC 1939 5, RETR msg: the whole message, with CRLF line ends and dot-stuffed.
  RETR: {
    states: TRANS,
    run: async (s, arg) => {
      const m = pick(s, arg);
      if ('ok' in m) return m;
      const lines = await drop(s).lines(m);
      return lines ? ok(`${m.size} octets`, lines) : gone(m);
    },
  },

  // RFC 1939 7, TOP msg n: the header and the first n lines of the body.
  TOP: {
    states: TRANS,
    run: async (s, arg) => {
      const [number = '', count = '', ...extra] = splitArgs(arg);
      if (!/^\d{1,9}$/.test(count) || extra.length > 0) return err('TOP needs a message number and a number of lines: TOP 1 10');
      const m = pick(s, number);
      if ('ok' in m) return m;
      const lines = await drop(s).lines(m);
      return lines ? ok('top of message follows', topOf(lines, Number(count))) : gone(m);
    },
  },

  // RFC 1939 7, UIDL [msg]: an id per message that stays the same in every session.
  UIDL: {
    states: TRANS,
    run: (s, arg) => {
      if (arg.trim() === '') return ok('unique-id listing follows', drop(s).visible().map((m) => `${m.number} ${m.uidl}`));
      const m = pick(s, arg);
      return 'ok' in m ? m : ok(`${m.number} ${m.uidl}`);
    },
  },

  // RFC 1939 5, DELE msg: only a mark. The message goes at QUIT, if QUIT comes.
  DELE: {
    states: TRANS,
    run: (s, arg) => {
      const m = pick(s, arg);
      if ('ok' in m) return m;
      m.deleted = true;
      return ok(`message ${m.number} deleted`);
    },
  },

  // RFC 1939 5, RSET: take every DELE back.
  RSET: {
    states: TRANS,
    run: (s) => {
      const md = drop(s);
      md.reset();
      return ok(`maildrop has ${md.count} messages (${md.size} octets)`);
    },
  },

  // RFC 1939 5, NOOP: nothing, but it shows the server is alive (and resets the idle timer).
  NOOP: { states: TRANS, run: () => ok('') },
};

/** A listed message that is no longer on disk: an IMAP session (on the same Maildir) expunged it. */
function gone(m: Pop3Message): Reply {
  return err(`message ${m.number} is gone: another program (an IMAP client) deleted it since you logged in`);
}

/** The session's maildrop: always there in TRANSACTION, where these commands run. */
function drop(s: Session): Maildrop {
  if (!s.maildrop) throw new Error('pop3: a TRANSACTION command without a maildrop');
  return s.maildrop;
}

/**
 * The message an argument names, or the -ERR to send: not a number, no such message,
 * or marked by DELE (RFC 1939 5: a marked message "may not be referenced").
 */
function pick(s: Session, arg: string): Pop3Message | Reply {
  const [number = '', extra] = splitArgs(arg);
  if (!/^\d{1,9}$/.test(number) || extra !== undefined) return err('needs one message number, such as 1');
  const md = drop(s);
  const m = md.get(Number(number));
  if (!m) return err(`no such message, only ${md.messages.length} messages in maildrop`);
  if (m.deleted) return err(`message ${m.number} already deleted`);
  return m;
}
