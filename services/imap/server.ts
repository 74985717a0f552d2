import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AuthThrottle, retryIn, type AuthThrottleOptions } from '../common/authThrottle';
import { errorText, LineSession, SESSION_DEFAULTS, SESSION_MINIMUM, type Admission, type Farewell } from '../common/lineSession';
import { checkLimits, definedOnly, duration, type Limits } from '../common/options';
import { createLogger, type Logger } from '../common/logger';
import { maildirPath } from '../common/maildir';
import { checkDataDir, defaultDataDir } from '../common/paths';
import { SessionHost } from '../common/sessionHost';
import type { TlsStarter } from '../common/tls';
import { checkMailLogin, loadUsers, type LabUser } from '../common/users';
import { SectionError } from './fetch';
import { ImapFramer, type ImapItem } from './framer';
import { MailboxError, MailStore } from './mailbox';
import { NameError } from './names';
import { ParseError, parseCommandLine, type Reader } from './parser';
import { atom, bad, bye, data, encode, no, ok, responses, summary, type Reply, type Response } from './responses';
import type { SelectedMailbox } from './selected';
import { notAllowed, transition, type State } from './states';
import { VERBS, type Session } from './verbs';
import { FolderWatcher } from './watch';

/**
 * mail.lab.test's IMAP server (IMAP4rev2, RFC 9051, with the IMAP4rev1 behaviour of
 * RFC 3501 that existing clients rely on), hand-written on node:net. POP3 downloads mail
 * and (usually) deletes it from the server; IMAP keeps it there, in mailboxes, so a
 * phone and a laptop see the same mail, the same folders, the same "read" marks. A
 * session:
 *
 *   S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED ...] ready
 *   C: a1 STARTTLS                                  (then TLS: nothing below is readable on the path)
 *   S: a1 OK begin TLS negotiation now
 *   C: a2 LOGIN alice alice
 *   S: a2 OK [CAPABILITY ...] alice@lab.test logged in
 *   C: a3 SELECT INBOX
 *   S: * 2 EXISTS                                   untagged: data the client did not ask for by name
 *   S: * OK [UIDVALIDITY 1764806400] UIDs valid
 *   S: a3 OK [READ-WRITE] SELECT completed          tagged: the end of command a3
 *   C: a4 FETCH 1:2 (FLAGS ENVELOPE)
 *   S: * 1 FETCH (FLAGS (\Seen) ENVELOPE ("Thu, 4 Dec 2026 ..." "Hello" ...))
 *   S: * 2 FETCH (FLAGS () ENVELOPE (...))
 *   S: a4 OK FETCH completed
 *   C: a5 IDLE                                      "tell me when mail comes"
 *   S: + idling
 *   S: * 3 EXISTS                                   (SMTP delivered a message)
 *   C: DONE
 *   S: a5 OK IDLE terminated
 *   C: a6 LOGOUT
 *   S: * BYE wirelab IMAP server logging out
 *   S: a6 OK LOGOUT completed
 *
 * Every command carries a tag the client picks; the server may answer several commands
 * at once, and says which one finished by its tag. Where to read on:
 *   states.ts    the four states and the moves between them (RFC 9051 3)
 *   verbs.ts     one handler per command: the protocol itself
 *   parser.ts    the command syntax: atoms, strings, literals, lists, sets, search keys
 *   framer.ts    commands out of the TCP stream, literals included
 *   responses.ts untagged, tagged and continuation responses
 *   mailbox.ts   the mailboxes on disk (Maildir++), flags in file names, UIDs
 *   selected.ts  the selected mailbox as a session sees it, and what changed
 *   message.ts   the message format (RFC 5322, MIME); fetch.ts: ENVELOPE, BODYSTRUCTURE
 *   search.ts    SEARCH; watch.ts: noticing new mail during IDLE
 * This file is the connection: greeting, guards and limits, dispatch. The plumbing every
 * line protocol shares (the command queue, timers, closing, STARTTLS) is
 * services/common/lineSession.ts.
 */

export interface ImapServerOptions extends AuthThrottleOptions {
  /** The mail domain served: its users log in, and read `<dataDir>/mail/<domain>/<user>/Maildir`. Default: `lab.test`. */
  domain?: string;
  /** Who may log in: the users whose `domain` is this server's. Default: nobody (`[]`); fromLab() loads lab/users.yaml. */
  users?: readonly LabUser[];
  /** The lab's state folder, where the Maildirs are. Never lab/. Default: defaultDataDir(). */
  dataDir?: string;
  /** Where log lines go. Default: createLogger('imap') (stderr). */
  log?: Logger;
  /** The text of the greeting. Default: `wirelab IMAP server for <domain> ready`. */
  greeting?: string;
  /**
   * How to start TLS as the server (services/common/tls.ts: the lab CA's
   * `ServiceTls.starter`, or `fixedTls(options)`): STARTTLS on the plain port and the
   * implicit-TLS port (listenTls). Default: none: no STARTTLS, no port 993.
   */
  tls?: TlsStarter;
  /**
   * Accept LOGIN and AUTHENTICATE PLAIN on a connection without TLS: the plain-text
   * lesson (anyone on the path reads the password). Default: false: before TLS they get
   * `NO [PRIVACYREQUIRED]`, and CAPABILITY says LOGINDISABLED (RFC 9051 6.2.3).
   */
  allowPlaintextLogin?: boolean;
  /**
   * The longest command in octets, not counting its literals, CRLFs included; a longer
   * one gets `BAD` and is skipped. RFC 7162 3.2.7.1 asks servers to take at least 8192.
   * At least 1024. Default: 8192.
   */
  maxLineLength?: number;
  /**
   * The largest literal: a message given to APPEND (advertised as APPENDLIMIT, RFC 7889).
   * A bigger one is refused before it is sent (`NO [TOOBIG]`). Before login a literal is
   * at most maxLineLength octets (a name or a password). Default: 10485760 (10 MiB, the
   * lab's SMTP limit).
   */
  maxLiteralSize?: number;
  /**
   * Autologout: a logged-in connection silent for this long gets `* BYE` and is closed.
   * RFC 9051 5.4: "at least 30 minutes" (tests use less). Default: 1800000 (30 min).
   */
  idleTimeoutMs?: number;
  /** A connection not logged in this long after it opened gets `* BYE` and is closed, however busy. Default: 60000. */
  loginTimeoutMs?: number;
  /** Connections open at once; one more gets `* BYE [UNAVAILABLE]` and is closed. Default: 100. */
  maxConnections?: number;
  /** Connections open at once from one client address (mail clients open several). Default: 10. */
  maxConnectionsPerAddress?: number;
  /** Unknown or invalid commands (answered BAD) on one connection before `* BYE` and close. Default: 10. */
  maxUnknownCommands?: number;
  /** Failed logins on one connection before the last NO closes it. Default: 3. */
  maxAuthFailures?: number;
  /** On close() (SIGTERM), how long a command in progress (a FETCH being sent) may finish before the farewell; 0: at once. Default: 10000. */
  closeGraceMs?: number;
  /** During IDLE, look at the mailbox this often even when the file system says nothing changed. Default: 500. */
  idlePollMs?: number;
}

/** The defaults of the numeric options, as documented on ImapServerOptions. */
export const IMAP_SERVER_DEFAULTS = {
  ...SESSION_DEFAULTS,
  maxLineLength: 8192,
  maxLiteralSize: 10 * 1024 * 1024,
  idleTimeoutMs: 30 * 60 * 1000,
  maxConnections: 100,
  maxConnectionsPerAddress: 10,
  idlePollMs: 500,
} as const;
/** Below these the server could not work at all (limits not named here must be at least 1). */
const MINIMUM = { ...SESSION_MINIMUM, maxLineLength: 1024, idlePollMs: 10 };

/** What every connection of one server shares. */
interface Config {
  domain: string;
  users: readonly LabUser[];
  dataDir: string;
  greeting: string;
  tls?: TlsStarter;
  allowPlaintextLogin: boolean;
  limits: Limits<typeof IMAP_SERVER_DEFAULTS>;
  /** Failed logins per client address, for every connection of this server. */
  throttle: AuthThrottle;
}

export class ImapServer {
  readonly domain: string;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly host: SessionHost<Connection>;
  private closed?: Promise<void>;

  constructor(options: ImapServerOptions = {}) {
    const domain = options.domain ?? 'lab.test';
    this.domain = domain;
    this.log = options.log ?? createLogger('imap');
    const limits = checkLimits('imap', IMAP_SERVER_DEFAULTS, options, { min: MINIMUM });
    this.config = {
      domain,
      users: (options.users ?? []).filter((u) => u.domain.toLowerCase() === domain.toLowerCase()),
      dataDir: options.dataDir ?? defaultDataDir(),
      greeting: options.greeting ?? `wirelab IMAP server for ${domain} ready`,
      tls: options.tls,
      allowPlaintextLogin: options.allowPlaintextLogin ?? false,
      limits,
      throttle: new AuthThrottle(limits),
    };
    this.host = new SessionHost({
      service: 'imap',
      log: this.log,
      limits,
      // RFC 9051 7.1.5: BYE instead of a greeting; UNAVAILABLE (RFC 5530) says "try later".
      refuse: ({ reason, limit }) => encode(bye(`${reason} (${limit}); try again later`, 'UNAVAILABLE')),
      open: (socket, log) => {
        const connection = new Connection(socket, this.config, log);
        connection.start(ok('*', this.config.greeting, `CAPABILITY ${connection.capabilities().join(' ')}`));
        log.info('connected', { domain, tls: connection.secure || undefined });
        return connection;
      },
    });
  }

  /** The server of one mail domain of a lab: users from `<labDir>/users.yaml`, Maildirs under `dataDir`. */
  static async fromLab(labDir: string, dataDir: string, options: ImapServerOptions = {}): Promise<ImapServer> {
    checkDataDir(labDir, dataDir);
    return new ImapServer({ ...definedOnly(options), users: options.users ?? (await loadUsers(labDir)), dataDir });
  }

  /** Listen in clear, with STARTTLS when the server has a certificate (port 143). Port 0 picks a free port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.config.users.length === 0) this.log.warn('no users for this domain: nobody can log in', { domain: this.domain });
    const address = await this.host.listen(port, host);
    this.log.info('listening', { host: address.address, port: address.port, domain: this.domain, users: this.config.users.length, starttls: this.config.tls !== undefined, plaintextLogin: this.config.allowPlaintextLogin });
    return address;
  }

  /** Listen with implicit TLS (port 993, RFC 8314): the handshake first, then the greeting. */
  async listenTls(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    if (!this.config.tls) throw new Error('imap: listenTls needs the tls option (the lab CA, or a certificate and key)');
    const address = await this.host.listenTls(port, host, this.config.tls);
    this.log.info('listening', { host: address.address, port: address.port, domain: this.domain, tls: 'implicit' });
    return address;
  }

  /** Stop accepting, tell each open session `* BYE` and close it; a command in progress finishes first. */
  close(): Promise<void> {
    this.closed ??= this.host.close().then(() => this.log.info('closed', { domain: this.domain }));
    return this.closed;
  }
}

/** Commands whose next line is not a command: the answer to AUTHENTICATE's "+", IDLE's DONE. */
const READS_A_LINE = /^\S+ (IDLE|AUTHENTICATE \S+)\r?$/i;

/** FETCH, STORE and SEARCH must not be answered with EXPUNGE: the client's message numbers must hold still (RFC 9051 7.5.1). */
const NO_EXPUNGE = new Set(['FETCH', 'STORE', 'SEARCH']);

/**
 * One client's session: its state, the selected mailbox, and the dispatch of each command
 * through the verb table.
 */
class Connection extends LineSession<ImapItem, Reply> implements Session {
  state: State = 'not authenticated';
  rev2 = false;
  store?: MailStore;
  selected?: SelectedMailbox;
  readonly settings: Session['settings'];
  private readonly imapFramer: ImapFramer;
  private user?: LabUser;
  /** The command queued or running that will read the client's next line itself (AUTHENTICATE, IDLE), until that line comes. */
  private lineReader?: ImapItem;
  /** Lines for it, as they arrive. */
  private readonly lines: Buffer[] = [];
  private lineArrived?: () => void;

  constructor(
    socket: net.Socket,
    private readonly config: Config,
    log: Logger,
  ) {
    const { maxLineLength } = config.limits;
    const framer = new ImapFramer(maxLineLength, maxLineLength);
    super(socket, framer, config.limits, log, config.throttle);
    this.imapFramer = framer;
    this.settings = { domain: config.domain, tls: config.tls !== undefined, allowPlaintextLogin: config.allowPlaintextLogin, maxLiteralSize: config.limits.maxLiteralSize };
  }

  // ---------------------------------------------------------------------------
  // What the engine asks of IMAP.

  protected encode(reply: Reply): Buffer {
    return encode(reply);
  }

  protected farewellFor(reason: Farewell): Reply | undefined {
    const { idleTimeoutMs, loginTimeoutMs, maxUnknownCommands } = this.config.limits;
    switch (reason) {
      case 'shutdown':
        return bye('server shutting down', 'UNAVAILABLE');
      // RFC 9051 5.4: the autologout timer; the server says BYE before it closes.
      case 'idle':
        return bye(`autologout: no command for ${duration(idleTimeoutMs)}`);
      case 'login-timeout':
        return bye(`not logged in after ${duration(loginTimeoutMs)}; closing`);
      case 'too-many-errors':
        return bye(`too many unknown or invalid commands (${maxUnknownCommands}); closing`);
      case 'http':
        return bye('this is an IMAP server, not a web server: use a mail client, or openssl s_client -starttls imap (see the lab guide)');
      case 'too-many-failures':
        return bye('too many failed logins; closing');
      case 'line-too-long':
        return undefined; // the framer refuses long commands itself, with their tag
    }
  }

  protected overlong(): { reply: Reply; close: boolean } {
    // Never used: ImapFramer answers a long command as a refused item, tag included.
    return { reply: bad('*', 'command line too long'), close: false };
  }

  /** IDLE and AUTHENTICATE wait for the client's next line: a shutdown says BYE at once. */
  protected override waitsForClient(): boolean {
    return this.lineReader !== undefined;
  }

  /**
   * Items as they arrive: a synchronizing literal gets its "+" at once (the client waits
   * for it before sending the octets: RFC 9051 7.5), and a line meant for the command
   * that asked for it (AUTHENTICATE, IDLE) goes to that command, not to the queue.
   */
  protected override admit(item: ImapItem): Admission {
    if (item.kind === 'continue') {
      void this.send({ tag: '+', pieces: [`Ready for ${item.size} octets`] });
      return 'drop';
    }
    if (item.kind !== 'command') return 'queue';
    if (this.lineReader) {
      // One line is the whole answer (IDLE's DONE, PLAIN's credentials): what follows are commands again.
      this.lineReader = undefined;
      this.lines.push(item.raw);
      this.lineArrived?.();
      return 'drop';
    }
    if (READS_A_LINE.test(item.raw.toString('latin1', 0, 200))) this.lineReader = item;
    return 'queue';
  }

  protected override async onClosed(reason: string): Promise<void> {
    this.log.info('closed', { reason: reason === 'idle timeout' ? 'idle timeout (autologout)' : reason, state: this.state, user: this.user?.name });
  }

  /** One item: a command (guards, dispatch, the mailbox's news, one log line) or a refusal. */
  protected async execute(item: ImapItem): Promise<Reply | undefined> {
    if (item.kind === 'refused') return this.refused(item);
    if (item.kind !== 'command') return undefined;
    let reply: Reply | undefined;
    let verb = '';
    let tag = item.tag;
    try {
      const line = parseCommandLine(item.raw);
      tag = line.tag;
      verb = line.name;
      reply = await this.dispatch(line.name, line.args, tag);
    } catch (e) {
      reply = this.failure(e, tag, verb);
    } finally {
      if (this.lineReader === item) {
        this.lineReader = undefined;
        this.lines.length = 0;
      }
    }
    if (reply !== undefined && this.selected && this.state === 'selected') reply = await this.withNews(reply, !NO_EXPUNGE.has(verb));
    const shown = Object.hasOwn(VERBS, verb) ? verb : verb === '' ? undefined : '(unknown)';
    const level = ['NOOP', 'CAPABILITY', 'IDLE'].includes(verb) ? 'debug' : 'info';
    this.log[level]('command', {
      tag: tag.slice(0, 20),
      verb: shown,
      // Never the arguments of LOGIN and AUTHENTICATE (a password), nor of unknown commands; APPEND notes its own.
      args: shown && !['LOGIN', 'AUTHENTICATE', 'APPEND'].includes(verb) ? argsText(item.raw, verb === 'UID' ? 3 : 2) : undefined,
      reply: summary(reply),
      state: this.state,
      user: this.user?.name,
      ...this.fields,
    });
    return reply;
  }

  private async dispatch(name: string, args: Reader, tag: string): Promise<Reply | undefined> {
    const command = Object.hasOwn(VERBS, name) ? VERBS[name] : undefined;
    if (!command) {
      this.unknownCommand();
      return bad(tag, name === '' ? 'a command needs a name after the tag: a1 NOOP' : `unknown command ${/^[A-Z0-9.-]{1,20}$/.test(name) ? name : ''}`.trim(), 'CLIENTBUG');
    }
    if (!command.states.includes(this.state)) return bad(tag, notAllowed(name, this.state, command.states));
    return command.run(this, args, { tag, uid: false });
  }

  /** What a handler threw, as the tagged answer. */
  private failure(e: unknown, tag: string, verb: string): Reply {
    if (e instanceof ParseError) {
      this.unknownCommand(); // a malformed command counts like an unknown one
      // Without a usable tag (the framer's '*') the answer is untagged (RFC 9051 7.1.3).
      return bad(tag, e.message, 'CLIENTBUG');
    }
    if (e instanceof MailboxError) return no(tag, e.message, e.code);
    if (e instanceof NameError) return no(tag, e.message, 'CANNOT');
    if (e instanceof SectionError) return no(tag, e.message, e.code);
    // Our bug, or the disk: the client gets a NO and the session goes on.
    this.log.error('command failed', { verb, error: errorText(e) });
    return no(tag, 'the server could not do that now; try again later', 'SERVERBUG');
  }

  /** A command the framer refused for a limit, before reading it (whole). */
  private refused(item: Extract<ImapItem, { kind: 'refused' }>): Reply {
    const { maxLineLength, maxLiteralSize } = this.config.limits;
    this.log.warn('command refused', { tag: item.tag.slice(0, 20), why: item.why, size: item.size, limit: item.why === 'line-too-long' ? maxLineLength : this.imapFramer.maxLiteral });
    if (item.why === 'line-too-long') {
      this.unknownCommand();
      return bad(item.tag, `command too long: at most ${maxLineLength} octets besides its literals`, 'TOOBIG');
    }
    const limit = this.imapFramer.maxLiteral;
    const text = this.state === 'not authenticated' && limit < maxLiteralSize ? `a literal before login is at most ${limit} octets` : `literal of ${item.size} octets is over the limit (APPENDLIMIT=${limit})`;
    // RFC 7888 4: a synchronizing literal is refused before it is sent (NO); a
    // non-synchronizing one came anyway: it was read and dropped (BAD).
    if (item.synchronizing) return no(item.tag, text, 'TOOBIG');
    this.unknownCommand();
    return bad(item.tag, text, 'TOOBIG');
  }

  /** The selected mailbox's news (new mail, expunged messages, changed flags), before the tagged completion. */
  private async withNews(reply: Reply, allowExpunge: boolean): Promise<Reply> {
    const all = [...responses(reply)];
    const last = all.pop();
    const news = await this.news(allowExpunge);
    return last ? [...all, ...news, last] : [...all, ...news];
  }

  private async news(allowExpunge: boolean): Promise<Response[]> {
    if (!this.selected) return [];
    const out: Response[] = [];
    for (const u of await this.selected.sync(allowExpunge)) {
      if (u.kind === 'expunge') out.push(data(u.seq, atom('EXPUNGE')));
      else if (u.kind === 'flags') out.push(data(u.seq, atom('FETCH'), [atom('FLAGS'), u.flags.map(atom)]));
      else if (u.kind === 'exists') out.push(data(u.count, atom('EXISTS')));
      else if (!this.rev2) out.push(data(u.count, atom('RECENT'))); // IMAP4rev1 only
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Session: what the handlers in verbs.ts use.

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2'];
    if (this.state === 'not authenticated') {
      if (!this.secure && this.config.tls) caps.push('STARTTLS');
      caps.push(this.secure || this.config.allowPlaintextLogin ? 'AUTH=PLAIN' : 'LOGINDISABLED');
    }
    caps.push('SASL-IR', 'LITERAL+', 'ENABLE', 'IDLE', 'NAMESPACE', 'ID', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN', 'SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS', 'ESEARCH', 'SEARCHRES', 'BINARY', 'STATUS=SIZE', `APPENDLIMIT=${this.config.limits.maxLiteralSize}`);
    return caps;
  }

  authenticate(name: string, password: string): LabUser | undefined {
    if (this.loginLockedFor() !== undefined) return undefined; // no password is checked for an address locked out
    return checkMailLogin(this.config.users, this.config.domain, name, password);
  }

  async loginFailed(tag: string, name: string): Promise<Reply> {
    const { failures, last, lockedForMs } = await this.failedLogin(name);
    if (lockedForMs !== undefined) {
      this.hangUp('too many failed logins from this address', this.farewellFor('too-many-failures'));
      // RFC 5530 3: UNAVAILABLE, a temporary failure: try again later.
      return no(tag, `too many failed logins from your address; try again in ${retryIn(lockedForMs)}`, 'UNAVAILABLE');
    }
    if (last) {
      this.hangUp('too many failed logins', this.farewellFor('too-many-failures'));
      return no(tag, `wrong user name or password; ${failures} failed logins, closing the connection`, 'AUTHENTICATIONFAILED');
    }
    return no(tag, 'wrong user name or password', 'AUTHENTICATIONFAILED');
  }

  async login(user: LabUser): Promise<void> {
    const store = new MailStore(maildirPath(this.config.dataDir, this.config.domain, user.name));
    await store.ensureDefaults(); // a user who never got mail has no Maildir yet; Sent, Drafts, Trash
    this.store = store;
    this.user = user;
    this.state = transition(this.state, 'login');
    this.imapFramer.maxLiteral = this.config.limits.maxLiteralSize;
    this.loggedIn();
  }

  async startTls(tag: string): Promise<void> {
    this.lineReader = undefined;
    this.lines.length = 0;
    // RFC 9051 6.2.1: after TLS the client asks for CAPABILITY again (it may differ: AUTH=PLAIN).
    await this.upgradeToTls(ok(tag, 'begin TLS negotiation now'), this.config.tls!);
  }

  async nextLine(signal?: AbortSignal): Promise<Buffer | undefined> {
    for (;;) {
      const line = this.lines.shift();
      if (line) return line;
      if (this.stop.signal.aborted || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.lineArrived = undefined;
          this.stop.signal.removeEventListener('abort', done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.lineArrived = done;
        this.stop.signal.addEventListener('abort', done);
        signal?.addEventListener('abort', done);
      });
    }
  }

  async idle(): Promise<Buffer | undefined> {
    const view = this.selected;
    const watcher = view ? new FolderWatcher(view.folder.dir, this.config.limits.idlePollMs) : undefined;
    try {
      for (;;) {
        const stop = new AbortController();
        const next = await Promise.race([this.nextLine(stop.signal).then((line) => ({ line })), ...(watcher ? [watcher.next(stop.signal).then(() => ({ change: true as const }))] : [])]);
        stop.abort();
        if ('line' in next) return next.line;
        if (this.stop.signal.aborted) return undefined;
        // RFC 2177: while idling, the server sends EXISTS and EXPUNGE as they happen.
        for (const news of await this.news(true)) await this.send(news);
      }
    } finally {
      watcher?.close();
    }
  }
}

/** A command's arguments for the log: after the tag and name (`words`), literals shown as {n}, at most 100 characters. */
function argsText(raw: Buffer, words: number): string | undefined {
  const text = raw
    .toString('latin1')
    .replace(/\{(\d+)\+?\}\r\n[\s\S]*/g, (_, n: string) => `{${n}}...`)
    .split(' ')
    .slice(words)
    .join(' ');
  if (text === '') return undefined;
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}
