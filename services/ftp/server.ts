import { mkdir } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isInside, JailError } from '../common/jail';
import { anonymousRoot, homeDir, seedHomes } from '../common/homes';
import { bind } from '../common/listen';
import { checkLimits, definedOnly } from '../common/options';
import { endSocket, closeSessions, writeWithBackpressure } from '../common/sessions';
import { connectionId, createLogger, type Fields, type Logger } from '../common/logger';
import { defaultDataDir } from '../common/paths';
import { checkPassword, loadUsers, type LabUser } from '../common/users';
import { normalizeAddress, sameHost, type HostPort } from './addresses';
import { Code } from './codes';
import { connectActive, DataConnectionError, PassiveListener, receiveData, sendData, TransferError, type PortRange } from './data';
import { confineRead, confineWrite, fileErrorReply, openRoot, shownPath, type Root } from './files';
import { INITIAL_LINE_STATE, parseCommand, parseLines, TOO_LONG, type LineItem, type LineState } from './lines';
import { MLST_FACTS, type MlstFact } from './listing';
import { encodeReply, reply, replyLine, type Reply } from './reply';
import { ANONYMOUS_NAMES, NOT_IMPLEMENTED, VERBS, type Session, type SessionUser, type TransferSpec, type TransferType } from './verbs';

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
 * This file is the control connection: greeting, login, guards and limits, dispatch.
 */

export interface FtpServerOptions {
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
  /** Failed logins on one connection before the last 530 closes it. Default: 3. */
  maxAuthFailures?: number;
  /** A failed login waits this long before its 530, so guessing is slow; others are served meanwhile. Default: 1000. */
  authFailureDelayMs?: number;
}

/** The defaults of the numeric options, as documented on FtpServerOptions. */
export const FTP_SERVER_DEFAULTS = {
  maxLineLength: 512,
  idleTimeoutMs: 5 * 60 * 1000,
  dataTimeoutMs: 30 * 1000,
  maxConnections: 100,
  maxConnectionsPerAddress: 10,
  maxAuthFailures: 3,
  authFailureDelayMs: 1000,
} as const;
type Limits = { -readonly [K in keyof typeof FTP_SERVER_DEFAULTS]: number };
/** Below these the server could not work at all (limits not named here must be at least 1). */
const MINIMUM = { maxLineLength: 64, authFailureDelayMs: 0 };

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
  limits: Limits;
  /** Where the next passive port search starts. */
  portCursor: { next: number };
}

/** Commands waiting their turn before the server stops reading from a client that sends without reading. */
const MAX_QUEUED_LINES = 64;

export class FtpServer {
  private readonly config: Config;
  private readonly labDir?: string;
  private readonly log: Logger;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  /** Open control connections per client address, for maxConnectionsPerAddress. */
  private readonly perAddress = new Map<string, number>();
  private closed?: Promise<void>;

  constructor(options: FtpServerOptions = {}) {
    this.log = options.log ?? createLogger('ftp');
    this.labDir = options.labDir;
    this.config = {
      users: options.users ?? [],
      dataDir: options.dataDir ?? defaultDataDir(),
      anonymousRoot: options.labDir !== undefined && options.anonymous !== false ? anonymousRoot(options.labDir) : undefined,
      greeting: options.greeting ?? 'wirelab FTP server ready',
      passivePorts: checkPorts(options.passivePorts),
      pasvAddress: checkPasvAddress(options.pasvAddress),
      activeToOtherHosts: options.activeToOtherHosts ?? false,
      passiveFromOtherHosts: options.passiveFromOtherHosts ?? false,
      limits: checkLimits('ftp', FTP_SERVER_DEFAULTS, options, { min: MINIMUM }),
      portCursor: { next: 0 },
    };
    // allowHalfOpen: a client may send its commands and then close its sending side
    // (`printf 'USER alice\r\nPASS alice\r\nPWD\r\nQUIT\r\n' | nc -N ...`); it still gets every reply.
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
  }

  /** The lab's FTP server: users from `<labDir>/users.yaml`, homes under `dataDir`, anonymous FTP from `<labDir>/ftp`. */
  static async fromLab(labDir: string, dataDir: string, options: FtpServerOptions = {}): Promise<FtpServer> {
    if (isInside(path.resolve(labDir), path.resolve(dataDir))) {
      throw new Error(`the data directory ${dataDir} is inside the lab directory ${labDir}; lab/ stays read-only`);
    }
    return new FtpServer({ ...definedOnly(options), users: options.users ?? (await loadUsers(labDir)), labDir, dataDir });
  }

  /** Create the users' homes (seeded from lab/homes the first time), then bind. Port 0 picks a free port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const { users, dataDir, anonymousRoot } = this.config;
    if (this.labDir !== undefined) await seedHomes(this.labDir, dataDir, users);
    else for (const user of users) await mkdir(homeDir(dataDir, user.name), { recursive: true });
    const address = await bind('ftp', this.server, () => this.server.listen(port, host), host, port);
    this.server.on('error', (e) => this.log.error('server error', { error: e.message })); // after the bind: bind() explains its own errors
    const ports = this.config.passivePorts;
    this.log.info('listening', {
      host: address.address,
      port: address.port,
      users: users.length,
      anonymous: anonymousRoot !== undefined,
      passivePorts: ports ? `${ports.from}-${ports.to}` : 'any',
      pasvAddress: this.config.pasvAddress,
    });
    return address;
  }

  /**
   * Stop accepting, then end every session: a transfer in progress is stopped (426, an
   * upload is discarded), and each client gets `421 Service closing control connection`.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    await closeSessions(this.server, this.connections, (connection) => connection.shutdown());
    this.log.info('closed');
  }

  private onConnection(socket: net.Socket): void {
    const id = connectionId();
    const client = normalizeAddress(socket.remoteAddress);
    const log = this.log.child({ conn: id, client: `${client}:${socket.remotePort}` });
    socket.on('error', (e) => log.debug('connection error', { error: e.message }));
    if (this.closed) {
      socket.destroy();
      return;
    }
    const { maxConnections, maxConnectionsPerAddress } = this.config.limits;
    const fromHere = this.perAddress.get(client) ?? 0;
    const busy =
      this.connections.size >= maxConnections
        ? `too many connections (${maxConnections})`
        : fromHere >= maxConnectionsPerAddress
          ? `too many connections from your address (${maxConnectionsPerAddress})`
          : undefined;
    if (busy) {
      // An answer instead of a silent close: 421 tells the client to try again later (RFC 959 4.2).
      log.warn('connection refused', { reason: busy });
      socket.write(encodeReply(reply(Code.NOT_AVAILABLE, `There are ${busy}; try again later.`)));
      endSocket(socket);
      return;
    }
    this.perAddress.set(client, fromHere + 1);
    // Counted down as the socket closes, before anything else runs: the address has room at once.
    socket.once('close', () => {
      const left = (this.perAddress.get(client) ?? 1) - 1;
      if (left > 0) this.perAddress.set(client, left);
      else this.perAddress.delete(client);
    });
    const connection = new Connection(socket, this.config, log);
    this.connections.add(connection);
    void connection.finished.then(() => this.connections.delete(connection));
    connection.start();
  }
}

/** What the next transfer will use: a passive listener, or where to connect to. */
type DataPlan = PassiveListener | { kind: 'active'; target: HostPort };

/**
 * One client's session: its state (who, where, which TYPE, what comes next), the data
 * connection setup, and the loop that answers the client's lines one after another.
 */
class Connection implements Session {
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
  readonly finished: Promise<void>;

  private sessionUser?: SessionUser;
  private sessionRoot?: Root;
  private authFailures = 0;
  private data?: DataPlan;
  /** Set while a transfer runs: ABOR (or the end of the session) stops it. */
  private transferring?: AbortController;
  /** ABOR stopped a transfer; the ABOR command's own reply says so. */
  private aborted = false;

  private lineState: LineState = INITIAL_LINE_STATE;
  private readonly queue: LineItem[] = [];
  private busy = false;
  private work: Promise<void> = Promise.resolve();
  /** Why the server is ending the session; once set, no more commands are answered. */
  private ending?: string;
  /** The reply sent before closing, when the server ends the session on its own (421). */
  private farewell?: Reply;
  private finishing = false;
  /** The client has closed its sending side: answer what is queued, then close. */
  private clientDone = false;
  private gone = false;
  /** Fields for the current command's log line. */
  private fields: Fields = {};
  /** Cancels a failed-login delay when the connection goes. */
  private readonly stop = new AbortController();

  constructor(
    private readonly socket: net.Socket,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.clientAddress = normalizeAddress(socket.remoteAddress);
    this.localAddress = normalizeAddress(socket.localAddress);
    this.finished = new Promise((resolve) => socket.once('close', () => void this.onClose().then(resolve)));
  }

  start(): void {
    const { socket } = this;
    socket.setTimeout(this.config.limits.idleTimeoutMs);
    socket.on('timeout', () => {
      this.leave('idle timeout', reply(Code.NOT_AVAILABLE, `Timeout: no command for ${duration(this.config.limits.idleTimeoutMs)}; closing control connection.`));
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.clientDone = true;
      // The client closed its side of the control connection: it may still read the replies
      // to what it sent, but a transfer in progress is stopped (a client that died closes
      // both connections, and its upload must not be taken for a whole file).
      this.transferring?.abort('control connection closed');
      this.kick();
    });
    socket.write(encodeReply(reply(Code.READY, this.config.greeting)));
    this.log.info('connected');
  }

  /** From FtpServer.close(). */
  shutdown(): void {
    this.leave('server shutting down', reply(Code.NOT_AVAILABLE, 'Service closing control connection: the server is shutting down.'));
  }

  /** End the session from the server's side: stop what runs, send `farewell` after the reply in progress, close. */
  private leave(reason: string, farewell: Reply): void {
    if (this.gone || this.ending) return;
    this.ending = reason;
    this.farewell = farewell;
    this.transferring?.abort(reason);
    this.stop.abort();
    if (!this.busy) void this.finish();
  }

  private async finish(): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    if (this.farewell) await this.send(this.farewell);
    endSocket(this.socket);
  }

  // ---------------------------------------------------------------------------
  // Reading: bytes -> lines -> a queue answered in order, one command at a time.

  private onData(chunk: Buffer): void {
    if (this.ending) return; // after QUIT, or a decision to close: what still comes is dropped
    const { items, state } = parseLines(this.lineState, chunk, this.config.limits.maxLineLength);
    this.lineState = state;
    for (const item of items) {
      if (item !== TOO_LONG && this.transferring && parseCommand(item).verb === 'ABOR') {
        // RFC 959 4.1.3: ABOR is heard while a transfer runs. The transfer stops and
        // answers 426; then this ABOR, first in line, answers 226.
        this.transferring.abort('ABOR');
        this.aborted = true;
        this.queue.unshift(item);
        continue;
      }
      this.queue.push(item);
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
    while (!this.gone && !this.ending) {
      const item = this.queue.shift();
      if (item === undefined) break;
      if (item === TOO_LONG) {
        const max = this.config.limits.maxLineLength;
        this.log.warn('line too long', { limit: max });
        await this.send(reply(Code.UNKNOWN_COMMAND, `Command line too long: at most ${max} octets with its CRLF.`));
        continue;
      }
      await this.execute(item);
      if (this.socket.isPaused() && this.queue.length < MAX_QUEUED_LINES / 2) this.socket.resume();
    }
    if (this.gone) return;
    if (this.ending) await this.finish();
    else if (this.clientDone && this.queue.length === 0) endSocket(this.socket);
  }

  /** One command line: guards, dispatch through the verb table, one reply, one log line. */
  private async execute(line: string): Promise<void> {
    const { verb, arg } = parseCommand(line);
    this.fields = {};
    // Two-command sequences: PASS right after USER, RNTO right after RNFR (RFC 959 4.1.1, 4.1.3).
    if (verb !== 'PASS') this.pendingUser = undefined;
    if (verb !== 'RNTO') this.renameFrom = undefined;
    const command = Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
    let answer: Reply;
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
    if (command?.transfer) this.closeData(); // used up, even by a transfer refused before it began
    const quiet = ['NOOP', 'FEAT', 'SYST', 'HELP', 'STAT', 'PWD', 'TYPE', 'OPTS'].includes(verb);
    this.log[quiet ? 'debug' : 'info']('command', {
      // Only what looks like an FTP verb: anything else may be a password typed on the wrong line.
      verb: /^[A-Z]{3,4}$/.test(verb) ? verb : '(not an FTP command)',
      // Never the password.
      arg: verb === 'PASS' ? '****' : command && arg !== '' ? clip(arg) : undefined,
      reply: replyLine(answer),
      user: this.sessionUser?.name,
      ...this.fields,
    });
    await this.send(answer);
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

  private async send(r: Reply): Promise<void> {
    if (this.gone || this.socket.destroyed) return;
    await writeWithBackpressure(this.socket, encodeReply(r));
  }

  private async onClose(): Promise<void> {
    this.gone = true;
    this.stop.abort();
    this.transferring?.abort('control connection closed');
    this.closeData();
    await this.work;
    this.log.info('closed', { reason: this.ending ?? 'client closed the connection', user: this.sessionUser?.name });
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
    const user = checkPassword(this.config.users, name, password);
    return user ? { name: user.name, anonymous: false } : undefined;
  }

  async loginFailed(name: string): Promise<Reply> {
    const { maxAuthFailures, authFailureDelayMs } = this.config.limits;
    const failures = ++this.authFailures;
    const fields = { user: name, failures, delayMs: authFailureDelayMs };
    this.note(fields);
    this.log.warn('login failed', fields);
    // Each wrong password costs the guesser this long, one guess at a time per connection;
    // other clients are served meanwhile (the wait blocks nothing else).
    await delay(authFailureDelayMs, undefined, { signal: this.stop.signal, ref: false }).catch(() => {});
    if (failures >= maxAuthFailures) {
      this.hangUp('too many failed logins');
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

  // The data connection.

  get pasvAddress(): string {
    return this.config.pasvAddress ?? this.localAddress;
  }

  async openPassive(): Promise<PassiveListener> {
    this.closeData(); // at most one passive listener per session
    const listener = await PassiveListener.open({
      host: this.localAddress,
      ports: this.config.passivePorts,
      cursor: this.config.portCursor,
      client: this.clientAddress,
      fromOtherHosts: this.config.passiveFromOtherHosts,
      timeoutMs: this.config.limits.dataTimeoutMs,
      log: this.log,
    });
    if (this.gone) {
      listener.close();
      throw new DataConnectionError('the control connection closed');
    }
    this.data = listener;
    return listener;
  }

  activeAllowed(target: HostPort, verb: string): boolean {
    if (this.config.activeToOtherHosts || sameHost(target.host, this.clientAddress)) return true;
    // The FTP bounce attack (RFC 2577 3): "connect to that other host and send it this file".
    this.log.warn(`illegal ${verb}`, { to: `${target.host}:${target.port}`, expected: this.clientAddress, user: this.sessionUser?.name });
    return false;
  }

  setActive(target: HostPort): void {
    this.closeData();
    this.data = { kind: 'active', target };
  }

  closeData(): boolean {
    const had = this.data !== undefined;
    if (this.data?.kind === 'passive') this.data.close();
    this.data = undefined;
    return had;
  }

  takeAborted(): boolean {
    const aborted = this.aborted;
    this.aborted = false;
    return aborted;
  }

  /**
   * One transfer (RFC 959 3.2, 5.2): the data connection (accepted or connected), the
   * preliminary reply, the bytes, then the final reply. The data setup is used up by it,
   * whatever happens: the next transfer needs a new PASV/EPSV/PORT/EPRT.
   */
  async transfer(spec: TransferSpec): Promise<Reply> {
    const plan = this.data;
    this.data = undefined;
    const discard = async (): Promise<void> => {
      if ('source' in spec) spec.source.destroy();
      else await spec.upload.discard();
    };
    if (!plan) {
      await discard();
      return reply(Code.CANT_OPEN_DATA, 'Use PASV, EPSV, PORT or EPRT first.');
    }
    const abort = new AbortController();
    this.transferring = abort;
    this.aborted = false;
    const { idleTimeoutMs, dataTimeoutMs } = this.config.limits;
    this.socket.setTimeout(0); // the control connection may be silent while data flows
    let data: net.Socket | undefined;
    try {
      const alreadyOpen = plan.kind === 'passive' && plan.connected;
      try {
        if (plan.kind === 'passive') {
          abort.signal.addEventListener('abort', () => plan.close(), { once: true });
          data = await plan.accept();
        } else {
          data = await connectActive(plan.target, this.localAddress, dataTimeoutMs, abort.signal);
        }
      } catch (e) {
        await discard();
        if (abort.signal.aborted) return reply(Code.TRANSFER_ABORTED, 'Transfer aborted before the data connection opened.');
        this.note({ data: errorText(e) });
        return reply(Code.CANT_OPEN_DATA, `Can't open data connection: ${errorText(e)}.`);
      }
      // 125 when the client had connected already (passive), 150 "about to open" otherwise.
      await this.send(
        alreadyOpen
          ? reply(Code.DATA_ALREADY_OPEN, `Data connection already open; ${spec.mode} mode transfer starting for ${spec.what}.`)
          : reply(Code.OPENING_DATA, `Opening ${spec.mode} mode data connection for ${spec.what}.`),
      );
      const options = { ascii: spec.ascii, signal: abort.signal, stallTimeoutMs: dataTimeoutMs };
      try {
        const bytes = 'source' in spec ? await sendData(data, spec.source, options) : await receiveData(data, spec.upload.stream(), options);
        this.note({ bytes });
      } catch (e) {
        await discard();
        const reason = e instanceof TransferError ? e.reason : 'local';
        this.note({ interrupted: reason });
        if (reason === 'aborted') {
          const why = String(abort.signal.reason);
          return reply(Code.TRANSFER_ABORTED, why === 'ABOR' ? 'Transfer aborted by ABOR; data connection closed.' : `Transfer aborted: ${why}.`);
        }
        if (reason === 'timeout') return reply(Code.TRANSFER_ABORTED, `Data connection timed out: nothing moved for ${duration(dataTimeoutMs)}.`);
        if (reason === 'connection') return reply(Code.TRANSFER_ABORTED, 'Connection closed; transfer aborted.');
        this.log.error('transfer failed', { error: errorText(e) });
        return fileErrorReply(e, 'STOR') ?? reply(Code.LOCAL_ERROR, 'Requested action aborted: local error in processing.');
      }
      if ('upload' in spec) {
        // The control connection is closing: the client died, so the data may be cut short.
        if (this.gone || this.clientDone) {
          await spec.upload.discard();
          return reply(Code.TRANSFER_ABORTED, 'Control connection closed; upload discarded.');
        }
        try {
          await spec.upload.commit(); // now, and only now, the file has its real name
        } catch (e) {
          const known = fileErrorReply(e, 'STOR');
          if (!known) this.log.error('upload rename failed', { error: errorText(e) });
          return known ?? reply(Code.LOCAL_ERROR, 'Requested action aborted: local error in processing.');
        }
      }
      return reply(Code.TRANSFER_COMPLETE, 'Transfer complete.');
    } finally {
      data?.destroy();
      if (plan.kind === 'passive') plan.close();
      this.transferring = undefined;
      if (!this.gone) this.socket.setTimeout(idleTimeoutMs);
    }
  }

  hangUp(reason: string): void {
    this.ending ??= reason;
  }

  note(fields: Fields): void {
    Object.assign(this.fields, fields);
  }

  status(): string[] {
    const d = this.data;
    const dataLine = !d ? 'no data connection set up' : d.kind === 'passive' ? `passive, port ${d.port}` : `active, to ${d.target.host}:${d.target.port}`;
    return [
      ` Connected to ${this.localAddress} from ${this.clientAddress}`,
      ` Logged in as ${this.sessionUser?.name ?? '(nobody)'}`,
      ` TYPE: ${this.type === 'A' ? 'ASCII' : 'BINARY'}; MODE: stream; STRUcture: file`,
      ` Data connection: ${dataLine}`,
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

/** `150 ms`, `30 s`, `5 min`: a limit in a reply, as a person would say it. */
function duration(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return `${ms} ms`;
  return ms % 60000 === 0 ? `${ms / 60000} min` : `${ms / 1000} s`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A client's argument in a log line: at most 200 characters (a path can be long). */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...(${text.length} chars)` : text;
}
