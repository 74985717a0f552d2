import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isInside } from '../common/jail';
import { bind } from '../common/listen';
import { checkLimits, definedOnly } from '../common/options';
import { endSocket, closeSessions, writeWithBackpressure } from '../common/sessions';
import { connectionId, createLogger, type Fields, type Logger } from '../common/logger';
import { Maildir, maildirPath } from '../common/maildir';
import { defaultDataDir } from '../common/paths';
import { checkPassword, loadUsers, type LabUser } from '../common/users';
import { parseCommand, parseLines } from './lines';
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
 * This file is the connection: greeting, reading lines, guards and limits, dispatch.
 */

export interface Pop3ServerOptions {
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
  /** Connections open at once; one more gets `-ERR [SYS/TEMP]` instead of the greeting and is closed. Default: 100. */
  maxConnections?: number;
  /** Failed logins (wrong PASS) on one connection before the server answers the last -ERR and closes it. Default: 3. */
  maxAuthFailures?: number;
  /**
   * A failed login waits this long before its `-ERR [AUTH]`, so guessing passwords is
   * slow; other connections are served meanwhile. Default: 1000.
   */
  authFailureDelayMs?: number;
  /** The text of the `+OK` greeting. Default: `wirelab POP3 server for <domain> ready`. */
  greeting?: string;
}

/** The defaults of the numeric options, as documented on Pop3ServerOptions. */
export const POP3_SERVER_DEFAULTS = {
  maxLineLength: 255,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnections: 100,
  maxAuthFailures: 3,
  authFailureDelayMs: 1000,
} as const;
type Limits = { -readonly [K in keyof typeof POP3_SERVER_DEFAULTS]: number };
/** Below these the server could not work at all (limits not named here must be at least 1). */
const MINIMUM = { maxLineLength: 16, authFailureDelayMs: 0 };

/** What every connection of one server shares. */
interface Config {
  domain: string;
  users: readonly LabUser[];
  dataDir: string;
  greeting: string;
  limits: Limits;
}

/** Commands waiting for their turn before the server stops reading from a client that sends without reading. */
const MAX_QUEUED_LINES = 64;

export class Pop3Server {
  readonly domain: string;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private closed?: Promise<void>;

  constructor(options: Pop3ServerOptions = {}) {
    const domain = options.domain ?? 'lab.test';
    this.domain = domain;
    this.log = options.log ?? createLogger('pop3');
    this.config = {
      domain,
      // One server per mail domain: alice@lab.test cannot log in at mail.example.test.
      users: (options.users ?? []).filter((u) => u.domain.toLowerCase() === domain.toLowerCase()),
      dataDir: options.dataDir ?? defaultDataDir(),
      greeting: options.greeting ?? `wirelab POP3 server for ${domain} ready`,
      limits: checkLimits('pop3', POP3_SERVER_DEFAULTS, options, { min: MINIMUM }),
    };
    // allowHalfOpen: a client may send its commands and then close its sending side
    // (`printf 'USER bob\r\n...QUIT\r\n' | nc -N`); it still gets every reply.
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
  }

  /** The server of one mail domain of a lab: users from `<labDir>/users.yaml`, Maildirs under `dataDir`. */
  static async fromLab(labDir: string, dataDir: string, options: Pop3ServerOptions = {}): Promise<Pop3Server> {
    if (isInside(path.resolve(labDir), path.resolve(dataDir))) {
      throw new Error(`the data directory ${dataDir} is inside the lab directory ${labDir}; lab/ stays read-only`);
    }
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
    const address = await bind('pop3', this.server, () => this.server.listen(port, host), host, port);
    this.server.on('error', (e) => this.log.error('server error', { error: e.message })); // after the bind: bind() explains its own errors
    this.log.info('listening', { host: address.address, port: address.port, domain, users: users.length });
    return address;
  }

  /**
   * Stop accepting, tell each open session `-ERR [SYS/TEMP] server shutting down` and
   * close it. A command in progress finishes first (a QUIT completes its UPDATE); every
   * other session ends without UPDATE, so nothing is deleted, and every lock is released.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    await closeSessions(this.server, this.connections, (connection) => connection.shutdown());
    this.log.info('closed', { domain: this.domain });
  }

  private onConnection(socket: net.Socket): void {
    const id = connectionId();
    const log = this.log.child({ conn: id, client: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.on('error', (e) => log.debug('connection error', { error: e.message }));
    if (this.closed) {
      socket.destroy();
      return;
    }
    const { maxConnections } = this.config.limits;
    if (this.connections.size >= maxConnections) {
      // An answer instead of a silent close: the client can tell "busy, try later" (RFC 3206 4).
      log.warn('connection refused', { reason: 'too many connections', limit: maxConnections });
      socket.write(encodeReply(err(`too many connections (${maxConnections}); try again later`, 'SYS/TEMP')));
      endSocket(socket);
      return;
    }
    const connection = new Connection(socket, this.config, log, id);
    this.connections.add(connection);
    void connection.finished.then(() => this.connections.delete(connection));
    connection.start();
  }
}

/** A line that was over maxLineLength: where it stood in the queue, the -ERR goes. */
const TOO_LONG = Symbol('line too long');

/**
 * One client's session: the state, the maildrop and its lock, and the loop that answers
 * the client's lines one after another.
 */
class Connection implements Session {
  state: State = 'AUTHORIZATION';
  pendingUser?: string;
  maildrop?: Maildrop;
  readonly domain: string;
  readonly finished: Promise<void>;
  private lock?: MaildropLock;
  private user?: LabUser;
  private authFailures = 0;
  /** Bytes of a command line still arriving. */
  private pending: Buffer = Buffer.alloc(0);
  private readonly queue: (string | typeof TOO_LONG)[] = [];
  private busy = false;
  private work: Promise<void> = Promise.resolve();
  /** Why the server is ending the session (QUIT, too many failures, ...); once set, no more commands are answered. */
  private ending?: string;
  /** No more input is taken: after a line that was too long, nobody knows where the next command starts. */
  private deaf = false;
  /** The client has closed its sending side: answer what is queued, then close. */
  private clientDone = false;
  /** The socket has closed. */
  private gone = false;
  /** Fields for the current command's log line. */
  private fields: Fields = {};
  /** Cancels a failed-login delay when the connection goes. */
  private readonly stop = new AbortController();

  constructor(
    private readonly socket: net.Socket,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly id: string,
  ) {
    this.domain = config.domain;
    this.finished = new Promise((resolve) => socket.once('close', () => void this.onClose().then(resolve)));
  }

  start(): void {
    const { socket } = this;
    // RFC 1939 3, autologout: a silent client is cut off with no reply and no UPDATE.
    socket.setTimeout(this.config.limits.idleTimeoutMs);
    socket.on('timeout', () => {
      this.ending ??= 'idle timeout (autologout)';
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.clientDone = true;
      this.kick();
    });
    socket.write(encodeReply(ok(this.config.greeting)));
    this.log.info('connected', { domain: this.domain });
  }

  /** From Pop3Server.close(). */
  shutdown(): void {
    if (this.gone) return;
    const betweenCommands = !this.busy && !this.ending;
    this.ending ??= 'server shutting down';
    this.stop.abort(); // a failed-login delay need not run to its end
    if (!betweenCommands) return; // the command in progress finishes, then run() ends the connection
    void this.send(err('server shutting down', 'SYS/TEMP'));
    endSocket(this.socket);
  }

  // ---------------------------------------------------------------------------
  // Reading: bytes -> lines -> a queue answered in order, one command at a time.

  private onData(chunk: Buffer): void {
    if (this.ending || this.deaf) return; // after QUIT, or a decision to close: what still comes is read and dropped
    const { lines, rest, tooLong } = parseLines(
      this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk,
      this.config.limits.maxLineLength,
    );
    this.pending = rest;
    this.queue.push(...lines);
    if (tooLong) {
      this.queue.push(TOO_LONG); // the lines before it are answered first
      this.deaf = true;
    }
    // A client that sends without reading the replies: stop reading until the queue empties.
    if (this.queue.length >= MAX_QUEUED_LINES) this.socket.pause();
    this.kick();
  }

  private kick(): void {
    if (this.busy) return;
    this.busy = true;
    this.work = this.run()
      .catch((e: unknown) => this.log.error('session failed', { error: errorText(e) }))
      .finally(() => {
        this.busy = false;
        if (this.queue.length > 0 && !this.gone && !this.ending) this.kick();
      });
  }

  private async run(): Promise<void> {
    while (!this.gone) {
      const item = this.queue.shift();
      if (item === undefined) break;
      if (item === TOO_LONG) {
        const max = this.config.limits.maxLineLength;
        this.hangUp('line too long');
        this.log.warn('line too long', { limit: max });
        await this.send(err(`line too long: a command line has at most ${max} octets with its CRLF`));
        break;
      }
      await this.execute(item);
      if (this.ending) break; // QUIT, or too many failed logins: the lines after it are not answered
      if (this.socket.isPaused() && this.queue.length < MAX_QUEUED_LINES / 2) this.socket.resume();
    }
    if (this.gone) return;
    if (this.ending || (this.clientDone && this.queue.length === 0)) endSocket(this.socket);
  }

  /** One command line: guards, dispatch through the verb table, one reply, one log line. */
  private async execute(line: string): Promise<void> {
    const { verb, arg } = parseCommand(line);
    if (verb !== 'PASS') this.pendingUser = undefined; // PASS must come right after USER
    this.fields = {};
    const command = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
    // Echo a verb only if it looks like a POP3 keyword (up to 4 letters, RFC 2449 4):
    // anything else may be a password typed on the wrong line, and would reach the log.
    const shown = /^[A-Z]{1,4}$/.test(verb) ? verb : '(not a POP3 keyword)';
    let reply: Reply;
    if (!command) {
      reply = err(verb === '' ? 'empty command line' : `unknown command ${shown}`);
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
      reply: statusLine(reply),
      state: this.state,
      ...this.fields,
    });
    await this.send(reply);
  }

  private async send(reply: Reply): Promise<void> {
    if (this.gone || this.socket.destroyed) return;
    await writeWithBackpressure(this.socket, encodeReply(reply));
  }

  /** The socket closed, however: wait for the command in progress, then unlock. Never UPDATE here. */
  private async onClose(): Promise<void> {
    this.gone = true;
    this.stop.abort();
    await this.work;
    const locked = this.lock !== undefined;
    await this.releaseMaildrop().catch((e: unknown) => this.log.error('unlock failed', { error: errorText(e) }));
    const marked = this.maildrop?.messages.filter((m) => m.deleted).length ?? 0;
    this.log.info('closed', {
      reason: this.ending ?? 'client closed the connection',
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
    // `alice` or `alice@lab.test`: many mail clients send the whole address as the name.
    const at = name.lastIndexOf('@');
    const local = at === -1 ? name : name.slice(0, at);
    const ours = at === -1 || name.slice(at + 1).toLowerCase() === this.domain.toLowerCase();
    // Checked even for a foreign domain, so the answer takes as long either way.
    const user = checkPassword(this.config.users, local, password);
    return ours ? user : undefined;
  }

  async loginFailed(name: string): Promise<Reply> {
    const { maxAuthFailures, authFailureDelayMs } = this.config.limits;
    const failures = ++this.authFailures;
    const fields = { user: name, failures, delayMs: authFailureDelayMs };
    this.note(fields);
    this.log.warn('login failed', fields);
    // Each wrong password costs the guesser this long, and only one guess per connection
    // runs at a time; other clients are served meanwhile (the wait blocks nothing).
    await delay(authFailureDelayMs, undefined, { signal: this.stop.signal, ref: false }).catch(() => {});
    if (failures >= maxAuthFailures) {
      this.hangUp('too many failed logins');
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
    return this.maildrop;
  }

  async releaseMaildrop(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }

  hangUp(reason: string): void {
    this.ending ??= reason;
  }

  note(fields: Fields): void {
    Object.assign(this.fields, fields);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
