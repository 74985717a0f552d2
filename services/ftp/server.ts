import { mkdir } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { JailError } from '../common/jail';
import { anonymousRoot, homeDir, seedHomes } from '../common/homes';
import { AuthThrottle, retryIn, type AuthThrottleOptions } from '../common/authThrottle';
import { errorText, LineSession, SESSION_DEFAULTS, SESSION_MINIMUM, type Admission, type Farewell } from '../common/lineSession';
import { checkLimits, definedOnly, duration, type Limits } from '../common/options';
import { createLogger, type Logger } from '../common/logger';
import { checkDataDir, defaultDataDir } from '../common/paths';
import { SessionHost } from '../common/sessionHost';
import type { TlsStarter } from '../common/tls';
import { checkPassword, loadUsers, type LabUser } from '../common/users';
import { normalizeAddress } from './addresses';
import { Code } from './codes';
import { DataChannel, DataConnectionError, type PortRange } from './data';
import { confineRead, confineWrite, fileErrorReply, openRoot, shownPath, type Root } from './files';
import { LineFramer, parseCommand } from './lines';
import { MLST_FACTS, type MlstFact } from './listing';
import { encodeReply, reply, replyLine, type Reply } from './reply';
import { ANONYMOUS_NAMES, NOT_IMPLEMENTED, VERBS, type Session, type SessionUser, type TransferType } from './verbs';

/**
 * ftp.lab.test's FTP server (RFC 959, with FEAT from RFC 2389, EPSV/EPRT from RFC 2428,
 * and SIZE/MDTM/REST/MLSD from RFC 3659), hand-written on node:net.
 *
 * FTP uses two TCP connections. The control connection (port 21) carries commands and
 * replies, as lines of text; each file or listing travels on a data connection of its
 * own, opened for that transfer and closed at its end. A whole session:
 *
 *   S: 220 wirelab FTP server ready                 greeting
 *   C: USER alice
 *   S: 331 Please specify the password.
 *   C: PASS alice                                   in plain text, on purpose (see README)
 *   S: 230 Login successful.                        "/" is now alice's home folder
 *   C: EPSV
 *   S: 229 Entering Extended Passive Mode (|||30001|)   "connect to port 30001 for the data"
 *   C: RETR notes.txt                               (the client connects to port 30001)
 *   S: 150 Opening BINARY mode data connection for notes.txt (84 bytes).
 *                                                   (the file goes over the data connection, which closes)
 *   S: 226 Transfer complete.
 *   C: QUIT
 *   S: 221 Goodbye.
 *
 * Every command gets exactly one final reply, in order; a transfer also gets a
 * preliminary 150 first. Where to read on:
 *   verbs.ts     one handler per command: the protocol itself
 *   data.ts      the data connection: passive and active, and moving the bytes
 *   files.ts     paths (each user's home is "/"), listings from the disk, safe uploads
 *   listing.ts   LIST (ls -l), NLST (names), MLSD (facts) formats
 *   ascii.ts     TYPE A: line ends on the wire
 *   addresses.ts PORT/EPRT/PASV/EPSV arguments
 *   lines.ts     command lines out of the TCP stream
 *   reply.ts     replies, single and multi-line; codes.ts: the reply codes by name
 * This file is the control connection: greeting, login, guards and limits, dispatch. The
 * plumbing every line protocol shares (the command queue, timers, closing) is
 * services/common/lineSession.ts.
 */

export interface FtpServerOptions extends AuthThrottleOptions {
  /** Who may log in (USER/PASS). Default: nobody (`[]`); fromLab() loads lab/users.yaml. */
  users?: readonly LabUser[];
  /** The lab's state folder: each user's root is homeDir(dataDir, user) = `<dataDir>/homes/<user>`. Default: defaultDataDir(). */
  dataDir?: string;
  /**
   * The lab world (read-only): homes are seeded from `<labDir>/homes/<user>` at listen(), and
   * anonymous users see `<labDir>/ftp` (which holds pub/). Default: none: homes start
   * empty and there is no anonymous login.
   */
  labDir?: string;
  /** Allow anonymous login (USER anonymous or ftp, any password), read-only. Needs labDir. Default: true. */
  anonymous?: boolean;
  /** Where log lines go. Default: createLogger('ftp') (stderr). */
  log?: Logger;
  /** The text of the 220 greeting. Default: `wirelab FTP server ready`. */
  greeting?: string;
  /**
   * Ports for passive data connections, both ends included: what a firewall or Docker
   * publishes (the lab uses 30000-30009). Default: undefined: any free port the system
   * picks (fine on loopback and in tests).
   */
  passivePorts?: PortRange;
  /**
   * The IPv4 address a 227 (PASV) reply advertises. Default: the control connection's
   * local address, the one the client already reached: 127.0.0.1 in the embedded lab,
   * the container's lab address in Docker. (EPSV advertises no address at all.)
   */
  pasvAddress?: string;
  /**
   * Let PORT/EPRT name a host other than the client's own (vsftpd's port_promiscuous).
   * Default: false: anything else gets 500 and a log line, so the server cannot be made
   * to connect to third hosts (the "FTP bounce attack", RFC 2577 3).
   */
  activeToOtherHosts?: boolean;
  /**
   * Take a passive data connection from any address (vsftpd's pasv_promiscuous). Default:
   * false: only the control connection's client; others are closed and logged.
   */
  passiveFromOtherHosts?: boolean;
  /** The longest command line in octets, CRLF included; a longer one gets 500 and is skipped. Default: 512. */
  maxLineLength?: number;
  /** A control connection with no command for this long gets 421 and is closed (not during a transfer). Default: 300000 (5 min). */
  idleTimeoutMs?: number;
  /** A control connection not logged in this long after it opened gets 421 and is closed, however busy. Default: 60000. */
  loginTimeoutMs?: number;
  /**
   * The data connection's time limit: to be connected after PASV/EPSV (else the listener
   * closes and the transfer gets 425), to connect for PORT/EPRT, and the longest a
   * transfer may stall. Default: 30000.
   */
  dataTimeoutMs?: number;
  /** Control connections open at once; one more gets 421 and is closed. Default: 100. */
  maxConnections?: number;
  /** Control connections open at once from one address; one more gets 421. Default: 10. */
  maxConnectionsPerAddress?: number;
  /** Unknown commands on one connection before the server answers 421 and closes it. Default: 10. */
  maxUnknownCommands?: number;
  /** Failed logins on one connection before the last 530 closes it. Default: 3. */
  maxAuthFailures?: number;
  /** On close() (SIGTERM), how long a command in progress (an upload or download) may finish before the farewell; 0: at once. Default: 10000. */
  closeGraceMs?: number;
  /**
   * How to start TLS as the server (services/common/tls.ts: the lab CA's
   * `ServiceTls.starter`, or `fixedTls(options)`): AUTH TLS, PBSZ and PROT (RFC 4217) on
   * the control port, PROT P data connections, and listenTls() for implicit FTPS (port
   * 990). Default: none: no TLS.
   */
  tls?: TlsStarter;
  /**
   * Take a lab user's password in clear: the "FTP sends your password in clear" lesson on
   * port 21. Default: false: USER answers 530 until AUTH TLS, as vsftpd's
   * force_local_logins_ssl. Anonymous login (no real password) works either way.
   */
  allowPlaintextLogin?: boolean;
}

/** The defaults of the numeric options, as documented on FtpServerOptions. */
export const FTP_SERVER_DEFAULTS = {
  ...SESSION_DEFAULTS,
  maxLineLength: 512,
  idleTimeoutMs: 5 * 60 * 1000,
  dataTimeoutMs: 30 * 1000,
  maxConnections: 100,
  maxConnectionsPerAddress: 10,
} as const;
/** Below these the server could not work at all (limits not named here must be at least 1). */
const MINIMUM = { ...SESSION_MINIMUM, maxLineLength: 64 };

/** What every connection of one server shares. */
interface Config {
  users: readonly LabUser[];
  dataDir: string;
  /** Anonymous FTP's root, or undefined: no anonymous login. */
  anonymousRoot?: string;
  greeting: string;
  passivePorts?: PortRange;
  pasvAddress?: string;
  activeToOtherHosts: boolean;
  passiveFromOtherHosts: boolean;
  limits: Limits<typeof FTP_SERVER_DEFAULTS>;
  /** Failed logins per client address, for every connection of this server. */
  throttle: AuthThrottle;
  /** Where the next passive port search starts. */
  portCursor: { next: number };
  tls?: TlsStarter;
  allowPlaintextLogin: boolean;
}

export class FtpServer {
  private readonly config: Config;
  private readonly labDir?: string;
  private readonly log: Logger;
  private readonly host: SessionHost<Connection>;
  private closed?: Promise<void>;

  constructor(options: FtpServerOptions = {}) {
    this.log = options.log ?? createLogger('ftp');
    this.labDir = options.labDir;
    const limits = checkLimits('ftp', FTP_SERVER_DEFAULTS, options, { min: MINIMUM });
    this.config = {
      users: options.users ?? [],
      dataDir: options.dataDir ?? defaultDataDir(),
      anonymousRoot: options.labDir !== undefined && options.anonymous !== false ? anonymousRoot(options.labDir) : undefined,
      greeting: options.greeting ?? 'wirelab FTP server ready',
      passivePorts: checkPorts(options.passivePorts),
      pasvAddress: checkPasvAddress(options.pasvAddress),
      activeToOtherHosts: options.activeToOtherHosts ?? false,
      passiveFromOtherHosts: options.passiveFromOtherHosts ?? false,
      limits,
      throttle: new AuthThrottle(limits),
      portCursor: { next: 0 },
      tls: options.tls,
      allowPlaintextLogin: options.allowPlaintextLogin ?? false,
    };
    this.host = new SessionHost({
      service: 'ftp',
      log: this.log,
      limits,
      // An answer instead of a silent close: 421 tells the client to try again later (RFC 959 4.2).
      refuse: ({ reason, limit }) => encodeReply(reply(Code.NOT_AVAILABLE, `There are ${reason} (${limit}); try again later.`)),
      open: (socket, log) => {
        const connection = new Connection(socket, this.config, log);
        connection.start(reply(Code.READY, this.config.greeting));
        log.info('connected');
        return connection;
      },
    });
  }

  /** The lab's FTP server: users from `<labDir>/users.yaml`, homes under `dataDir`, anonymous FTP from `<labDir>/ftp`. */
  static async fromLab(labDir: string, dataDir: string, options: FtpServerOptions = {}): Promise<FtpServer> {
    checkDataDir(labDir, dataDir);
    return new FtpServer({ ...definedOnly(options), users: options.users ?? (await loadUsers(labDir)), labDir, dataDir });
  }

  /** Create the users' homes (seeded from lab/homes the first time), then bind. Port 0 picks a free port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const { users, dataDir, anonymousRoot } = this.config;
    if (this.labDir !== undefined) await seedHomes(this.labDir, dataDir, users);
    else for (const user of users) await mkdir(homeDir(dataDir, user.name), { recursive: true });
    const address = await this.host.listen(port, host);
    const ports = this.config.passivePorts;
    this.log.info('listening', {
      host: address.address,
      port: address.port,
      users: users.length,
      anonymous: anonymousRoot !== undefined,
      passivePorts: ports ? `${ports.from}-${ports.to}` : 'any',
      pasvAddress: this.config.pasvAddress,
      authTls: this.config.tls !== undefined,
    });
    return address;
  }

  /** Implicit FTPS: the control connection is TLS from the first byte, on its own port (990). Needs the `tls` option. */
  async listenTls(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    if (!this.config.tls) throw new Error('ftp: listenTls() needs the tls option (the lab CA, or a certificate and key)');
    const address = await this.host.listenTls(port, host, this.config.tls);
    this.log.info('listening', { host: address.address, port: address.port, tls: 'implicit' });
    return address;
  }

  /**
   * Stop accepting, then end every session: a transfer in progress is stopped (426, an
   * upload is discarded), and each client gets `421 Service closing control connection`.
   */
  close(): Promise<void> {
    this.closed ??= this.host.close().then(() => this.log.info('closed'));
    return this.closed;
  }
}

/**
 * One client's control connection: its state (who, where, which TYPE, what comes next),
 * its data channel, and the dispatch of each command line through the verb table.
 */
class Connection extends LineSession<string, Reply> implements Session {
  // Session state, read and changed by the handlers in verbs.ts.
  pendingUser?: string;
  cwd = '/';
  type: TransferType = 'A';
  restOffset = 0;
  renameFrom?: string;
  epsvAll = false;
  mlstFacts: readonly MlstFact[] = MLST_FACTS;
  readonly clientAddress: string;
  readonly localAddress: string;
  readonly data: DataChannel;
  pbszDone = false;

  private sessionUser?: SessionUser;
  private sessionRoot?: Root;
  /** The client closed its side of the control connection. */
  private controlClosing = false;

  constructor(
    socket: net.Socket,
    private readonly config: Config,
    log: Logger,
  ) {
    super(socket, new LineFramer(config.limits.maxLineLength), config.limits, log, config.throttle);
    this.clientAddress = normalizeAddress(socket.remoteAddress);
    this.localAddress = normalizeAddress(socket.localAddress);
    const { passivePorts, portCursor, pasvAddress, activeToOtherHosts, passiveFromOtherHosts, limits } = config;
    this.data = new DataChannel(
      { client: this.clientAddress, local: this.localAddress, ports: passivePorts, cursor: portCursor, pasvAddress, activeToOtherHosts, passiveFromOtherHosts, timeoutMs: limits.dataTimeoutMs, log, tls: config.tls },
      {
        send: (r) => this.send(r),
        note: (fields) => this.note(fields),
        pauseIdleTimer: () => this.pauseIdleTimer(),
        resumeIdleTimer: () => this.resumeIdleTimer(),
        closing: () => this.controlClosing,
      },
    );
  }

  // ---------------------------------------------------------------------------
  // What the engine asks of FTP.

  protected encode(r: Reply): Buffer {
    return encodeReply(r);
  }

  protected farewellFor(reason: Farewell): Reply | undefined {
    const { idleTimeoutMs, loginTimeoutMs, maxUnknownCommands } = this.config.limits;
    switch (reason) {
      case 'shutdown':
        return reply(Code.NOT_AVAILABLE, 'Service closing control connection: the server is shutting down.');
      case 'idle':
        return reply(Code.NOT_AVAILABLE, `Timeout: no command for ${duration(idleTimeoutMs)}; closing control connection.`);
      case 'login-timeout':
        return reply(Code.NOT_AVAILABLE, `Timeout: not logged in after ${duration(loginTimeoutMs)}; closing control connection.`);
      case 'too-many-errors':
        return reply(Code.NOT_AVAILABLE, `Too many unknown commands (${maxUnknownCommands}); closing control connection.`);
      case 'http':
        return reply(Code.NOT_AVAILABLE, 'This is an FTP server, not a web server: use an FTP client (ftp://ftp.lab.test/ in curl or lftp).');
      case 'line-too-long':
      case 'too-many-failures':
        return undefined; // the command's own reply said it
    }
  }

  /** RFC 959 sets no limit; a server must. The rest of the line is skipped, and the session goes on. */
  protected overlong(): { reply: Reply; close: boolean } {
    const max = this.config.limits.maxLineLength;
    return { reply: reply(Code.UNKNOWN_COMMAND, `Command line too long: at most ${max} octets with its CRLF.`), close: false };
  }

  /** RFC 959 4.1.3: ABOR is heard while a transfer runs. The transfer stops (426); this ABOR, first in line, answers 226. */
  protected override admit(line: string): Admission {
    if (this.data.busy && parseCommand(line).verb === 'ABOR') {
      this.data.abortByClient();
      return 'front';
    }
    return 'queue';
  }

  protected override onEnding(reason: string): void {
    this.data.abort(reason);
  }

  /**
   * The client closed its side of the control connection: it may still read the replies
   * to what it sent, but a transfer in progress is stopped (a client that died closes
   * both connections, and its upload must not be taken for a whole file).
   */
  protected override onClientEnd(): void {
    this.controlClosing = true;
    this.data.abort('control connection closed');
  }

  protected override async onClosed(reason: string): Promise<void> {
    this.controlClosing = true;
    this.data.shutdown('control connection closed');
    this.log.info('closed', { reason, user: this.sessionUser?.name });
  }

  /** One command line: guards, dispatch through the verb table, one reply, one log line. */
  protected async execute(line: string): Promise<Reply | undefined> {
    const { verb, arg } = parseCommand(line);
    // Two-command sequences: PASS right after USER, RNTO right after RNFR (RFC 959 4.1.1, 4.1.3).
    if (verb !== 'PASS') this.pendingUser = undefined;
    if (verb !== 'RNTO') this.renameFrom = undefined;
    const command = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
    let answer: Reply | undefined;
    if (!command && !NOT_IMPLEMENTED.includes(verb)) this.unknownCommand(); // before login too: a browser's header lines
    if (!this.sessionUser && command?.access !== 'any') {
      // Before login only USER, PASS, QUIT and a few harmless ones: everything else, known or not, is 530.
      answer = reply(Code.NOT_LOGGED_IN, 'Please log in with USER and PASS first.');
    } else if (!command) {
      answer = NOT_IMPLEMENTED.includes(verb)
        ? reply(Code.NOT_IMPLEMENTED, `${verb} is not implemented here.`)
        : reply(Code.UNKNOWN_COMMAND, verb === '' ? 'Empty command line.' : 'Unknown command.');
    } else if (command.access === 'write' && this.sessionUser?.anonymous) {
      answer = reply(Code.FILE_UNAVAILABLE, 'Permission denied: anonymous users may only read.');
    } else {
      try {
        answer = await command.run(this, arg);
      } catch (e) {
        answer = this.failure(e, verb, arg);
      }
    }
    if (command?.transfer) this.data.close(); // used up, even by a transfer refused before it began
    const quiet = ['NOOP', 'FEAT', 'SYST', 'HELP', 'STAT', 'PWD', 'TYPE', 'OPTS'].includes(verb);
    this.log[quiet ? 'debug' : 'info']('command', {
      // Only what looks like an FTP verb: anything else may be a password typed on the wrong line.
      verb: /^[A-Z]{3,4}$/.test(verb) ? verb : '(not an FTP command)',
      // Never the password.
      arg: verb === 'PASS' ? '****' : command && arg !== '' ? clip(arg) : undefined,
      reply: answer && replyLine(answer),
      user: this.sessionUser?.name,
      ...this.fields,
    });
    return answer;
  }

  /** A handler threw: the jail, the disk, the data connection, or a bug (451, logged). */
  private failure(e: unknown, verb: string, arg: string): Reply {
    if (e instanceof JailError) this.log.warn('path refused', { verb, path: clip(arg), reason: e.reason, user: this.sessionUser?.name });
    const known = fileErrorReply(e, verb);
    if (known) return known;
    if (e instanceof DataConnectionError) return reply(Code.CANT_OPEN_DATA, `Can't open data connection: ${e.message}.`);
    this.log.error('command failed', { verb, error: errorText(e) });
    return reply(Code.LOCAL_ERROR, 'Requested action aborted: local error in processing.');
  }

  // ---------------------------------------------------------------------------
  // Session: what the handlers in verbs.ts use. Login first.

  get user(): SessionUser | undefined {
    return this.sessionUser;
  }

  get anonymousAllowed(): boolean {
    return this.config.anonymousRoot !== undefined;
  }

  authenticate(name: string, password: string): SessionUser | undefined {
    // Anonymous FTP (RFC 1635): any password; by custom the user's e-mail address.
    if (this.anonymousAllowed && ANONYMOUS_NAMES.includes(name.toLowerCase())) return { name: 'anonymous', anonymous: true };
    if (this.loginLockedFor() !== undefined) return undefined; // no password is checked for an address locked out
    const user = checkPassword(this.config.users, name, password);
    return user ? { name: user.name, anonymous: false } : undefined;
  }

  async loginFailed(name: string): Promise<Reply> {
    // Each wrong password costs the guesser more time, on any connection from its address (authThrottle.ts).
    const { failures, last, lockedForMs } = await this.failedLogin(name);
    if (lockedForMs !== undefined) {
      // 421: service not available, closing the control connection (RFC 959 4.2): try later.
      this.hangUp('too many failed logins from this address');
      return reply(Code.NOT_AVAILABLE, `Too many failed logins from your address; try again in ${retryIn(lockedForMs)}.`);
    }
    if (last) {
      this.hangUp('too many failed logins', this.farewellFor('too-many-failures'));
      return reply(Code.NOT_LOGGED_IN, `Login incorrect; ${failures} failed logins, closing the connection.`);
    }
    return reply(Code.NOT_LOGGED_IN, 'Login incorrect.');
  }

  async startSession(user: SessionUser): Promise<void> {
    const dir = user.anonymous ? this.config.anonymousRoot! : homeDir(this.config.dataDir, user.name);
    if (!user.anonymous) await mkdir(dir, { recursive: true }); // seeded at listen(); a new user starts empty
    this.sessionRoot = await openRoot(dir);
    this.sessionUser = user;
    this.cwd = '/';
    this.loggedIn();
  }

  // Paths: everything through the jail (services/common/jail.ts), via files.ts.

  get root(): Root {
    if (!this.sessionRoot) throw new Error('ftp: a path before login');
    return this.sessionRoot;
  }

  resolveRead(arg: string): Promise<string> {
    return confineRead(this.root, this.cwd, arg);
  }

  resolveWrite(arg: string): Promise<string> {
    return confineWrite(this.root, this.cwd, arg);
  }

  shown(absolute: string): string {
    return shownPath(this.root, absolute);
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

  status(): string[] {
    return [
      ` Connected to ${this.localAddress} from ${this.clientAddress}${this.secure ? ', control connection in TLS' : ''}`,
      ` Logged in as ${this.sessionUser?.name ?? '(nobody)'}`,
      ` TYPE: ${this.type === 'A' ? 'ASCII' : 'BINARY'}; MODE: stream; STRUcture: file`,
      ` Data connection: ${this.data.describe()}`,
      ` Current directory: ${this.cwd}`,
    ];
  }
}

function checkPorts(ports: PortRange | undefined): PortRange | undefined {
  if (ports === undefined) return undefined;
  const ok = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;
  if (!ok(ports.from) || !ok(ports.to) || ports.from > ports.to) {
    throw new RangeError(`ftp: passivePorts must be { from, to } with 1 <= from <= to <= 65535; got ${JSON.stringify(ports)}`);
  }
  return { from: ports.from, to: ports.to };
}

function checkPasvAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  if (!net.isIPv4(address)) throw new RangeError(`ftp: pasvAddress must be an IPv4 address (PASV cannot carry anything else); got ${JSON.stringify(address)}`);
  return address;
}

/** A client's argument in a log line: at most 200 characters (a path can be long). */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...(${text.length} chars)` : text;
}
