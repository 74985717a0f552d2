import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AuthThrottle, retryIn, type AuthThrottleOptions } from '../common/authThrottle';
import { errorText, LineSession, SESSION_DEFAULTS, SESSION_MINIMUM, type Farewell } from '../common/lineSession';
import { checkLimits, definedOnly, duration, type Limits } from '../common/options';
import { createLogger, type Logger } from '../common/logger';
import { Maildir, maildirPath } from '../common/maildir';
import { checkDataDir, defaultDataDir } from '../common/paths';
import { SessionHost } from '../common/sessionHost';
import type { TlsStarter } from '../common/tls';
import { checkMailLogin, loadUsers, type LabUser } from '../common/users';
import { LineFramer, parseCommand } from './lines';
import { MaildropLock } from './lock';
import { Maildrop } from './maildrop';
import { encodeReply, err, ok, statusLine, type Reply } from './reply';
import { notAllowed, type State } from './states';
import { VERBS, type Session } from './verbs';

/**
 * mail.lab.test's POP3 server (RFC 1939, with CAPA and response codes from RFC 2449),
 * hand-written on node:net. POP3 is how a mail client downloads the mail that SMTP
 * delivered into a user's mailbox (a Maildir on disk here). A whole session:
 *
 *   S: +OK wirelab POP3 server for lab.test ready      greeting: AUTHORIZATION state
 *   C: USER bob
 *   S: +OK now PASS with the password for bob
 *   C: PASS bob                                         in plain text, on purpose (see README)
 *   S: +OK bob@lab.test has 2 messages (1250 octets)    maildrop locked: TRANSACTION state
 *   C: LIST
 *   S: +OK 2 messages (1250 octets)
 *   S: 1 500
 *   S: 2 750
 *   S: .
 *   C: RETR 1
 *   S: +OK 500 octets
 *   S: (the message, line by line, CRLF, dot-stuffed)
 *   S: .
 *   C: DELE 1                                           only marked...
 *   S: +OK message 1 deleted
 *   C: QUIT                                             ...and removed now: UPDATE state
 *   S: +OK goodbye: 1 messages deleted, 1 left
 *
 * Every command line gets exactly one reply, in order, even when a client sends several
 * at once (PIPELINING, RFC 2449 6.6). Where to read on:
 *   states.ts   the three states and the moves between them (RFC 1939 3)
 *   verbs.ts    one handler per command: the protocol itself
 *   reply.ts    +OK / -ERR, multi-line replies and dot-stuffing
 *   lines.ts    cutting command lines out of the TCP stream, and their length limit
 *   message.ts  CRLF line ends, exact sizes, TOP, UIDL ids
 *   maildrop.ts the session's fixed list of messages, DELE marks, UPDATE
 *   lock.ts     one session per maildrop (RFC 1939 8)
 * This file is the connection: greeting, guards and limits, dispatch. The plumbing every
 * line protocol shares (the command queue, timers, closing) is services/common/lineSession.ts.
 */

export interface Pop3ServerOptions extends AuthThrottleOptions {
  /** The mail domain served: users of this domain log in, and read `<dataDir>/mail/<domain>/<user>/Maildir`. Default: `lab.test`. */
  domain?: string;
  /** Who may log in: the users whose `domain` is this server's. Default: nobody (`[]`); fromLab() loads lab/users.yaml. */
  users?: readonly LabUser[];
  /** The lab's state folder, where the Maildirs are. Never lab/. Default: defaultDataDir() (`data/` or `$WIRELAB_DATA`). */
  dataDir?: string;
  /** Where log lines go. Default: createLogger('pop3') (stderr). */
  log?: Logger;
  /**
   * The longest command line in octets, CRLF included; a longer one gets -ERR and the
   * connection is closed (it is no longer clear where the next command starts). At least 16.
   * Default: 255 (RFC 2449 4).
   */
  maxLineLength?: number;
  /**
   * Autologout: a connection silent for this long is closed, without a reply and without
   * UPDATE, so nothing is deleted and the lock is released (RFC 1939 3: "at least 10
   * minutes"; tests use less). Default: 600000 (10 minutes).
   */
  idleTimeoutMs?: number;
  /**
   * A connection not logged in this long after it opened is closed with
   * `-ERR [SYS/TEMP]`, however busy it keeps itself: a place is not held by a client that
   * never logs in. Default: 60000.
   */
  loginTimeoutMs?: number;
  /** Connections open at once; one more gets `-ERR [SYS/TEMP]` instead of the greeting and is closed. Default: 100. */
  maxConnections?: number;
  /** Connections open at once from one client address; one more gets `-ERR [SYS/TEMP]`. Default: 10. */
  maxConnectionsPerAddress?: number;
  /** Unknown commands on one connection before the server answers `-ERR` and closes it. Default: 10. */
  maxUnknownCommands?: number;
  /** Failed logins (wrong PASS) on one connection before the server answers the last -ERR and closes it. Default: 3. */
  maxAuthFailures?: number;
  /** On close() (SIGTERM), how long a command in progress (a RETR being sent) may finish before the farewell; 0: at once. Default: 10000. */
  closeGraceMs?: number;
  /** The text of the `+OK` greeting. Default: `wirelab POP3 server for <domain> ready`. */
  greeting?: string;
  /**
   * How to start TLS as the server (services/common/tls.ts: the lab CA's
   * `ServiceTls.starter`, or `fixedTls(options)`): STLS on the plain port (RFC 2595) and
   * listenTls() for POP3S (port 995, RFC 8314). Default: none: no STLS.
   */
  tls?: TlsStarter;
  /**
   * Take USER/PASS on a connection in clear: the lab's "passwords in plain text" lesson
   * on port 110. Default: false: the password is only taken inside TLS (as Dovecot's
   * disable_plaintext_auth), and CAPA does not announce USER in clear.
   */
  allowPlaintextLogin?: boolean;
}

/** The defaults of the numeric options, as documented on Pop3ServerOptions. */
export const POP3_SERVER_DEFAULTS = {
  ...SESSION_DEFAULTS,
  maxLineLength: 255,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnections: 100,
  maxConnectionsPerAddress: 10,
} as const;
/** Below these the server could not work at all (limits not named here must be at least 1). */
const MINIMUM = { ...SESSION_MINIMUM, maxLineLength: 16 };

/** What every connection of one server shares. */
interface Config {
  domain: string;
  users: readonly LabUser[];
  dataDir: string;
  greeting: string;
  limits: Limits<typeof POP3_SERVER_DEFAULTS>;
  /** Failed logins per client address, for every connection of this server. */
  throttle: AuthThrottle;
  tls?: TlsStarter;
  allowPlaintextLogin: boolean;
}

export class Pop3Server {
  readonly domain: string;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly host: SessionHost<Connection>;
  private closed?: Promise<void>;

  constructor(options: Pop3ServerOptions = {}) {
    const domain = options.domain ?? 'lab.test';
    this.domain = domain;
    this.log = options.log ?? createLogger('pop3');
    const limits = checkLimits('pop3', POP3_SERVER_DEFAULTS, options, { min: MINIMUM });
    this.config = {
      domain,
      // One server per mail domain: alice@lab.test cannot log in at mail.example.test.
      users: (options.users ?? []).filter((u) => u.domain.toLowerCase() === domain.toLowerCase()),
      dataDir: options.dataDir ?? defaultDataDir(),
      greeting: options.greeting ?? `wirelab POP3 server for ${domain} ready`,
      limits,
      throttle: new AuthThrottle(limits),
      tls: options.tls,
      allowPlaintextLogin: options.allowPlaintextLogin ?? false,
    };
    this.host = new SessionHost({
      service: 'pop3',
      log: this.log,
      limits,
      // An answer instead of a silent close: the client can tell "busy, try later" (RFC 3206 4).
      refuse: ({ reason, limit }) => encodeReply(err(`${reason} (${limit}); try again later`, 'SYS/TEMP')),
      open: (socket, log, id) => {
        const connection = new Connection(socket, this.config, log, id);
        connection.start(ok(this.config.greeting));
        log.info('connected', { domain });
        return connection;
      },
    });
  }

  /** The server of one mail domain of a lab: users from `<labDir>/users.yaml`, Maildirs under `dataDir`. */
  static async fromLab(labDir: string, dataDir: string, options: Pop3ServerOptions = {}): Promise<Pop3Server> {
    checkDataDir(labDir, dataDir);
    return new Pop3Server({ ...definedOnly(options), users: options.users ?? (await loadUsers(labDir)), dataDir });
  }

  /** Clear stale maildrop locks of this domain's users, then bind. Port 0 picks a free port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const { domain, users, dataDir } = this.config;
    if (users.length === 0) this.log.warn('no users for this domain: nobody can log in', { domain });
    for (const user of users) {
      const stale = await MaildropLock.clearStale(maildirPath(dataDir, domain, user.name));
      if (stale) {
        const holder = stale === 'unreadable' ? stale : `pid ${stale.pid} on ${stale.host} since ${stale.since}`;
        this.log.warn('stale lock removed', { user: user.name, holder });
      }
    }
    const address = await this.host.listen(port, host);
    this.log.info('listening', { host: address.address, port: address.port, domain, users: users.length, stls: this.config.tls !== undefined });
    return address;
  }

  /** POP3S (RFC 8314): the same service with TLS from the first byte, on its own port (995). Needs the `tls` option. */
  async listenTls(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    if (!this.config.tls) throw new Error('pop3: listenTls() needs the tls option (the lab CA, or a certificate and key)');
    const address = await this.host.listenTls(port, host, this.config.tls);
    this.log.info('listening', { host: address.address, port: address.port, domain: this.domain, tls: 'implicit' });
    return address;
  }

  /**
   * Stop accepting, tell each open session `-ERR [SYS/TEMP] server shutting down` and
   * close it. A command in progress finishes first (a QUIT completes its UPDATE); every
   * other session ends without UPDATE, so nothing is deleted, and every lock is released.
   */
  close(): Promise<void> {
    this.closed ??= this.host.close().then(() => this.log.info('closed', { domain: this.domain }));
    return this.closed;
  }
}

/**
 * One client's session: the state, the maildrop and its lock, and the dispatch of each
 * command line through the verb table.
 */
class Connection extends LineSession<string, Reply> implements Session {
  state: State = 'AUTHORIZATION';
  pendingUser?: string;
  maildrop?: Maildrop;
  readonly domain: string;
  private lock?: MaildropLock;
  private user?: LabUser;

  constructor(
    socket: net.Socket,
    private readonly config: Config,
    log: Logger,
    private readonly id: string,
  ) {
    super(socket, new LineFramer(config.limits.maxLineLength), config.limits, log, config.throttle);
    this.domain = config.domain;
  }

  // ---------------------------------------------------------------------------
  // What the engine asks of POP3.

  protected encode(reply: Reply): Buffer {
    return encodeReply(reply);
  }

  protected farewellFor(reason: Farewell): Reply | undefined {
    switch (reason) {
      // RFC 1939 3, autologout: a silent client is cut off with no reply and no UPDATE.
      case 'idle':
        return undefined;
      case 'shutdown':
        return err('server shutting down', 'SYS/TEMP');
      case 'login-timeout':
        return err(`not logged in after ${duration(this.config.limits.loginTimeoutMs)}; closing`, 'SYS/TEMP');
      case 'too-many-errors':
        return err(`too many unknown commands (${this.config.limits.maxUnknownCommands}); closing`);
      case 'http':
        return err('this is a POP3 server, not a web server: talk to it with a mail client, or nc (see the lab guide)');
      case 'line-too-long':
      case 'too-many-failures':
        return undefined; // the command's own -ERR said it
    }
  }

  protected overlong(): { reply: Reply; close: boolean } {
    const max = this.config.limits.maxLineLength;
    return { reply: err(`line too long: a command line has at most ${max} octets with its CRLF`), close: true };
  }

  /** One command line: guards, dispatch through the verb table, one reply, one log line. */
  protected async execute(line: string): Promise<Reply | undefined> {
    const { verb, arg } = parseCommand(line);
    if (verb !== 'PASS') this.pendingUser = undefined; // PASS must come right after USER
    const command = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
    // Echo a verb only if it looks like a POP3 keyword (up to 4 letters, RFC 2449 4):
    // anything else may be a password typed on the wrong line, and would reach the log.
    const shown = /^[A-Z]{1,4}$/.test(verb) ? verb : '(not a POP3 keyword)';
    let reply: Reply | undefined;
    if (!command) {
      reply = err(verb === '' ? 'empty command line' : `unknown command ${shown}`);
      this.unknownCommand();
    } else if (!command.states.includes(this.state)) {
      reply = err(notAllowed(verb, this.state));
    } else {
      try {
        reply = await command.run(this, arg);
      } catch (e) {
        // Our bug, or the disk: the client gets a temporary error and the session goes on.
        this.log.error('command failed', { verb, error: errorText(e) });
        reply = err('the server could not do that now; try again later', 'SYS/TEMP');
      }
    }
    const level = verb === 'NOOP' || verb === 'CAPA' ? 'debug' : 'info';
    this.log[level]('command', {
      verb: shown,
      // Never the password; and no arguments of unknown commands (an AUTH line carries credentials).
      arg: command && verb !== 'PASS' && arg !== '' ? arg : undefined,
      reply: reply && statusLine(reply),
      state: this.state,
      ...this.fields,
    });
    return reply;
  }

  /** The connection has closed, every command done: unlock. Never UPDATE here. */
  protected override async onClosed(reason: string): Promise<void> {
    const locked = this.lock !== undefined;
    await this.releaseMaildrop().catch((e: unknown) => this.log.error('unlock failed', { error: errorText(e) }));
    const marked = this.maildrop?.messages.filter((m) => m.deleted).length ?? 0;
    this.log.info('closed', {
      reason: reason === 'idle timeout' ? 'idle timeout (autologout)' : reason,
      state: this.state,
      user: this.user?.name,
      unlocked: locked || undefined,
      // Marked by DELE but the session never reached UPDATE: they stay (RFC 1939 6).
      kept: this.state === 'TRANSACTION' && marked > 0 ? marked : undefined,
    });
  }

  // ---------------------------------------------------------------------------
  // Session: what the handlers in verbs.ts use.

  authenticate(name: string, password: string): LabUser | undefined {
    if (this.loginLockedFor() !== undefined) return undefined; // no password is checked for an address locked out
    return checkMailLogin(this.config.users, this.domain, name, password);
  }

  async loginFailed(name: string): Promise<Reply> {
    // Each wrong password costs the guesser more time, on any connection from its address (authThrottle.ts).
    const { failures, last, lockedForMs } = await this.failedLogin(name);
    if (lockedForMs !== undefined) {
      this.hangUp('too many failed logins from this address', this.farewellFor('too-many-failures'));
      // RFC 3206 4: SYS/TEMP, a problem that goes away: try again later.
      return err(`too many failed logins from your address; try again in ${retryIn(lockedForMs)}`, 'SYS/TEMP');
    }
    if (last) {
      this.hangUp('too many failed logins', this.farewellFor('too-many-failures'));
      return err(`wrong user name or password; ${failures} failed logins, closing the connection`, 'AUTH');
    }
    return err('wrong user name or password', 'AUTH');
  }

  async openMaildrop(user: LabUser): Promise<Maildrop | undefined> {
    const maildir = new Maildir(maildirPath(this.config.dataDir, this.domain, user.name));
    await maildir.create(); // a user who never got mail has no folder yet
    const lock = await MaildropLock.acquire(maildir.dir, this.id);
    if (!lock) {
      this.note({ locked: true });
      return undefined;
    }
    try {
      this.maildrop = await Maildrop.open(maildir);
    } catch (e) {
      await lock.release();
      throw e;
    }
    this.lock = lock;
    this.user = user;
    this.loggedIn();
    return this.maildrop;
  }

  get tlsAvailable(): boolean {
    return this.config.tls !== undefined && !this.secure;
  }

  get plaintextLoginAllowed(): boolean {
    return this.config.allowPlaintextLogin;
  }

  startTls(goAhead: Reply): Promise<boolean> {
    return this.upgradeToTls(goAhead, this.config.tls!);
  }

  async releaseMaildrop(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}
