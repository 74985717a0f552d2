import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Server as SshServer, type AuthContext, type AuthenticationType, type ClientInfo, type Connection as SshConnection, type ParsedKey, type Session, type SFTPWrapper } from 'ssh2';
import { homeDir, publicKeyFile, seedHomes } from '../common/homes';
import { bind } from '../common/listen';
import { checkLimits, definedOnly, type Limits } from '../common/options';
import { HANGUP_GRACE_MS, closeSessions } from '../common/sessions';
import { SHUTDOWN_GRACE_MS } from '../common/shutdown';
import { clientAddress, ConnectionLimiter, type Refusal } from '../common/sessionHost';
import { AUTH_THROTTLE_DEFAULTS, AuthThrottle, type AuthThrottleOptions } from '../common/authThrottle';
import { connectionId, createLogger, type Fields, type Logger } from '../common/logger';
import { checkDataDir, defaultDataDir } from '../common/paths';
import { checkPassword, loadUsers, type LabUser } from '../common/users';
import { checkPublicKey, parsePublicKeys } from './auth';
import { EXTENSION_VERSIONS, REQUESTS } from './handlers';
import { SftpSession } from './session';
import { fingerprint, hostKeyFromText, loadOrCreateHostKey, type HostKey } from './hostKey';

/**
 * files.lab.test's SFTP server: file transfer over SSH (RFC 4251-4254), on ssh2's Server.
 * What happens on one connection:
 *
 *   1. Version lines: `SSH-2.0-wirelab` / `SSH-2.0-OpenSSH_9.2p1`.
 *   2. Key exchange (RFC 4253 7-8): both sides agree on a shared secret; from here on
 *      everything is encrypted. The server signs the exchange with its *host key*, and
 *      the client checks that key against ~/.ssh/known_hosts: that is how it knows it
 *      reached this server and not an impostor (hostKey.ts).
 *   3. User authentication (RFC 4252): a password, or a signature made with the user's
 *      private key (auth.ts). Failed attempts are delayed and counted.
 *   4. Channels (RFC 4254): the client opens a "session" channel and asks for the
 *      "sftp" subsystem. Nothing else is offered here: no shell, no commands, no
 *      port forwarding (the lab's rule: no shell over SSH).
 *   5. SFTP requests on that channel (handlers.ts, run by session.ts): OPEN, READ, WRITE, READDIR, ...,
 *      every path inside the user's home, which the client sees as `/`.
 *
 * This file is the connection: accepting it, the limits, authentication and channels.
 */

export interface SftpServerOptions extends AuthThrottleOptions {
  /** Who may log in (every lab user: homes are per user, not per mail domain). Default: nobody (`[]`); fromLab() loads lab/users.yaml. */
  users?: readonly LabUser[];
  /**
   * Public keys per user name, as the text of an authorized_keys file (`ssh-ed25519 AAAA... comment`
   * per line). Default: none (`{}`); fromLab() reads lab/keys/<user>.pub.
   */
  authorizedKeys?: Readonly<Record<string, string>>;
  /** The lab's state: the homes (`<dataDir>/homes/<user>`) and the host key (`<dataDir>/sftp/ssh_host_key`). Default: defaultDataDir(). */
  dataDir?: string;
  /** The host's private key (OpenSSH or PEM text). Default: `<dataDir>/sftp/ssh_host_key`, made on first use. */
  hostKey?: string | Buffer;
  /** Where log lines go. Default: createLogger('sftp') (stderr). */
  log?: Logger;
  /** Failed authentication requests on one connection before it is closed (OpenSSH's MaxAuthTries). Default: 6. */
  maxAuthAttempts?: number;
  /** On close() (SIGTERM), how long an upload in progress (a file open for writing) may go on until its CLOSE; 0: at once. Default: 10000. */
  closeGraceMs?: number;
  /** A connection that has not logged in this long after it opened is closed (OpenSSH's LoginGraceTime). Default: 30000. */
  loginGraceMs?: number;
  /** Files and folders one SFTP session may hold open; one more OPEN/OPENDIR gets FAILURE. Default: 64. */
  maxOpenHandles?: number;
  /** Session channels open at once on one connection; one more is refused. Default: 2. */
  maxSessionsPerConnection?: number;
  /** Connections open at once; one more is told so and closed before the SSH handshake. Default: 50. */
  maxConnections?: number;
  /**
   * Connections open at once from one client address; one more gets SSH_MSG_DISCONNECT
   * with SSH_DISCONNECT_TOO_MANY_CONNECTIONS (RFC 4253 11.1, code 12) once it has sent its
   * version line: one student cannot take every place. Default: 10.
   */
  maxConnectionsPerAddress?: number;
  /**
   * The most bytes one READ returns (a bigger request gets a short read, which SFTP allows).
   * At most, and default, 261120 (255 KiB, as OpenSSH's sftp-server): a reply must fit in a 256 KiB SFTP packet.
   */
  maxReadBytes?: number;
  /** A logged-in connection with no SFTP request for this long is closed. Default: 1800000 (30 minutes). */
  idleTimeoutMs?: number;
}

/** The defaults of the numeric options, as documented on SftpServerOptions. */
export const SFTP_SERVER_DEFAULTS = {
  maxAuthAttempts: 6,
  ...AUTH_THROTTLE_DEFAULTS,
  // A first wrong password (or a bad signature) waits half a second, growing with the address's failures.
  authFailureDelayMs: 500,
  loginGraceMs: 30_000,
  maxOpenHandles: 64,
  maxSessionsPerConnection: 2,
  maxConnections: 50,
  maxConnectionsPerAddress: 10,
  maxReadBytes: 255 * 1024,
  idleTimeoutMs: 30 * 60 * 1000,
  closeGraceMs: SHUTDOWN_GRACE_MS,
} as const;
/** authFailureDelayMs may be 0 (the rest at least 1); a READ answer must fit in one SSH packet. */
const RANGE = { min: { authFailureDelayMs: 0, closeGraceMs: 0 }, max: { maxReadBytes: SFTP_SERVER_DEFAULTS.maxReadBytes } };

/** The compression methods offered: none, or zlib once the client has logged in. */
export const COMPRESSION = ['none', 'zlib@openssh.com'] as const;

/** What the server offers after a failed attempt (RFC 4252 5.1: "authentications that can continue"). */
const METHODS: AuthenticationType[] = ['publickey', 'password'];
/** SFTP requests waiting on one connection before the server stops reading from it, and when it reads again. */
const BACKLOG_HIGH = 256;
const BACKLOG_LOW = 64;

interface Config {
  users: readonly LabUser[];
  keys: ReadonlyMap<string, ParsedKey[]>;
  dataDir: string;
  limits: Limits<typeof SFTP_SERVER_DEFAULTS>;
  /** Failed passwords per client address, for every connection (authThrottle.ts). */
  throttle: AuthThrottle;
}

export class SftpServer {
  /** The host key's fingerprint as OpenSSH prints it: `SHA256:<base64, no padding>`. */
  readonly hostKeyFingerprint: string;
  /** The host's public key as a known_hosts line without the host name: `ssh-ed25519 AAAA...`. */
  readonly hostPublicKey: string;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly ssh: SshServer;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  /** Accepted sockets whose SSH version line has not arrived yet, by `address:port`. */
  private readonly waiting = new Map<string, Connection>();
  /** Connections per client address (maxConnectionsPerAddress; this.connections counts them in all). */
  private readonly perAddress: ConnectionLimiter;
  /** Accepted sockets over their address's share, by `address:port`: told so once they have said who they are. */
  private readonly refused = new Map<string, Refusal>();
  private closed?: Promise<void>;

  constructor(options: SftpServerOptions = {}) {
    this.log = options.log ?? createLogger('sftp');
    const dataDir = options.dataDir ?? defaultDataDir();
    const keys = new Map<string, ParsedKey[]>();
    for (const [user, text] of Object.entries(options.authorizedKeys ?? {})) keys.set(user, parsePublicKeys(text, `public keys of ${user}`));
    const limits = checkLimits('sftp', SFTP_SERVER_DEFAULTS, options, RANGE);
    this.config = { users: options.users ?? [], keys, dataDir, limits, throttle: new AuthThrottle(limits) };
    this.perAddress = new ConnectionLimiter({ maxConnections: Infinity, maxConnectionsPerAddress: this.config.limits.maxConnectionsPerAddress });
    const hostKey: HostKey = options.hostKey
      ? hostKeyFromText(options.hostKey)
      : loadOrCreateHostKey(dataDir, (note) => this.log.info('host key', { note }));
    this.hostKeyFingerprint = hostKey.fingerprint;
    this.hostPublicKey = hostKey.publicKey;
    // Compression only after login (zlib@openssh.com, RFC 4253 6.2 with OpenSSH's delay),
    // as OpenSSH offers it: plain `zlib` would run the decompressor on a stranger's bytes
    // before authentication. (session.ts catches what ssh2's compressor throws on close.)
    this.ssh = new SshServer({ hostKeys: [hostKey.privateKey], ident: 'wirelab', algorithms: { compress: [...COMPRESSION] } });
    this.ssh.on('connection', (client: SshConnection, info: ClientInfo) => this.onHandshakeStart(client, info));
    this.ssh.on('error', (e: Error) => this.log.error('ssh server error', { error: e.message }));
    // Our own listener hands each socket to ssh2 (injectSocket): the socket stays ours
    // to count, time out and cut off.
    this.server = net.createServer((socket) => this.onSocket(socket));
  }

  /** The lab's SFTP server: users from lab/users.yaml, keys from lab/keys/<user>.pub, homes seeded from lab/homes. */
  static async fromLab(labDir: string, dataDir: string, options: SftpServerOptions = {}): Promise<SftpServer> {
    checkDataDir(labDir, dataDir);
    const users = options.users ?? (await loadUsers(labDir));
    const authorizedKeys: Record<string, string> = {};
    if (!options.authorizedKeys) {
      for (const user of users) {
        const file = publicKeyFile(labDir, user.name);
        if (existsSync(file)) authorizedKeys[user.name] = await readFile(file, 'utf8');
      }
    }
    await seedHomes(labDir, dataDir, users);
    return new SftpServer({ ...definedOnly(options), users, authorizedKeys: options.authorizedKeys ?? authorizedKeys, dataDir });
  }

  /** Port 0 picks a free port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const address = await bind('sftp', this.server, () => this.server.listen(port, host), host, port);
    this.server.on('error', (e) => this.log.error('server error', { error: e.message }));
    this.log.info('listening', { host: address.address, port: address.port, users: this.config.users.length, hostKey: this.hostKeyFingerprint });
    return address;
  }

  /** Stop accepting, disconnect every client (their open files are closed), and resolve when all are gone. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    await closeSessions(this.server, this.connections, (connection) => connection.shutdown(this.config.limits.closeGraceMs));
    this.log.info('closed');
  }

  private onSocket(socket: net.Socket): void {
    const id = connectionId();
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.log.child({ conn: id, client });
    socket.on('error', (e) => log.debug('socket error', { error: e.message }));
    if (this.closed) {
      socket.destroy();
      return;
    }
    const { maxConnections } = this.config.limits;
    if (this.connections.size >= maxConnections) {
      // RFC 4253 4.2 lets a server send lines before its version line: say why, then close.
      log.warn('connection refused', { reason: 'too many connections', limit: maxConnections });
      socket.end(`wirelab sftp: too many connections (${maxConnections}); try again later\r\n`);
      setTimeout(() => socket.destroy(), HANGUP_GRACE_MS).unref();
      return;
    }
    const address = clientAddress(socket);
    const refusal = this.perAddress.admit(address);
    if (refusal) {
      // The refusal is an SSH message, so ssh2 reads the client's version line first
      // (onHandshakeStart); a client that never sends one is cut after the grace.
      log.warn('connection refused', { ...refusal });
      this.refused.set(client, refusal);
      socket.once('close', () => this.refused.delete(client));
      setTimeout(() => socket.destroy(), HANGUP_GRACE_MS).unref();
      this.ssh.injectSocket(socket);
      return;
    }
    socket.once('close', () => this.perAddress.release(address));
    const connection = new Connection(socket, this.config, log);
    this.connections.add(connection);
    this.waiting.set(client, connection);
    void connection.finished.then(() => {
      this.connections.delete(connection);
      this.waiting.delete(client);
    });
    this.ssh.injectSocket(socket);
  }

  /** ssh2 read the client's version line: from here its Connection object carries the protocol. */
  private onHandshakeStart(client: SshConnection, info: ClientInfo): void {
    const key = `${info.ip}:${info.port}`;
    if (this.refused.has(key)) {
      client.on('error', () => {});
      disconnect(client, DISCONNECT_TOO_MANY_CONNECTIONS);
      return;
    }
    const connection = this.waiting.get(key);
    this.waiting.delete(key);
    if (!connection) {
      client.on('error', () => {});
      client.end();
      return;
    }
    connection.attach(client, info);
  }
}

/** SSH_DISCONNECT_TOO_MANY_CONNECTIONS (RFC 4253 11.1): what OpenSSH shows as `Received disconnect ...:12:`. */
const DISCONNECT_TOO_MANY_CONNECTIONS = 12;

/**
 * SSH_MSG_DISCONNECT with a reason code, then the close. ssh2's own end() always says
 * SSH_DISCONNECT_BY_APPLICATION; the code is what tells the client why (RFC 4253 11.1),
 * so this reaches for the protocol object under it.
 */
function disconnect(client: SshConnection, reason: number): void {
  const internals = client as unknown as { _protocol?: { disconnect(reason: number): void }; _sock?: net.Socket };
  internals._protocol?.disconnect(reason);
  internals._sock?.end();
}

/** One client connection: its limits and timers, authentication, and its channels. */
class Connection {
  readonly finished: Promise<void>;
  private client?: SshConnection;
  private user?: string;
  private home?: string;
  /** The client's software, from its version line (`OpenSSH_9.2p1`). */
  private software = '';
  private authFailures = 0;
  private sessions = 0;
  private readonly sftpSessions = new Set<SftpSession>();
  private backlog = 0;
  /** Why the server is closing this connection; once set, nothing more is answered. */
  private ending?: string;
  private readonly graceTimer: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  /** Cancels a failed-login delay when the connection goes. */
  private readonly stop = new AbortController();

  constructor(
    private readonly socket: net.Socket,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.finished = new Promise((resolve) => socket.once('close', () => void this.onClose().then(resolve)));
    // RFC 4252 4: the server should have a timeout for authentication. Counted from the
    // first byte, so a client that never even sends its version line is cut off too.
    this.graceTimer = setTimeout(() => {
      if (this.user) return;
      this.log.warn('login grace time over', { limitMs: config.limits.loginGraceMs });
      this.hangUp('not logged in in time');
    }, config.limits.loginGraceMs);
    this.graceTimer.unref();
    this.log.info('connected');
  }

  attach(client: SshConnection, info: ClientInfo): void {
    this.client = client;
    // An 'error' without a listener would end the whole process (a reset socket, a bad packet).
    // After one the byte stream is out of step (RFC 4253 11.1): cut it. ssh2 only half-closes,
    // and would read the next bytes with the refused packet length (1.8 GB allocated for `n-2+`).
    client.on('error', (e: Error & { level?: string }) => {
      this.log.debug('connection error', { error: e.message, level: e.level });
      this.socket.destroy();
    });
    this.software = info.header.versions.software;
    this.log.debug('ssh client', { software: this.software });
    if (this.ending) {
      client.end();
      return;
    }
    client.on('authentication', (ctx) => void this.onAuthentication(ctx).catch((e: unknown) => this.internalError('authentication', e)));
    client.on('ready', () => this.onReady());
    client.on('session', (accept, reject) => this.onSession(accept, reject));
    // Port forwarding, both ways, and Unix sockets: refused (RFC 4254 7, OpenSSH's streamlocal).
    client.on('tcpip', (_accept, reject, to) => this.refuse(reject, 'direct-tcpip', { to: `${to.destIP}:${to.destPort}` }));
    client.on('openssh.streamlocal', (_accept, reject, to) => this.refuse(reject, 'direct-streamlocal', { to: to.socketPath }));
    client.on('request', (_accept: unknown, reject: (() => void) | undefined, name: string) => this.refuse(reject, name));
  }

  /**
   * The server is shutting down: an upload in progress (a file open for writing) may go
   * on until the client closes the file, within `graceMs`; then SSH_MSG_DISCONNECT.
   */
  shutdown(graceMs: number): void {
    const uploads = [...this.sftpSessions].filter((s) => s.uploading);
    if (uploads.length === 0 || graceMs === 0) return this.hangUp('server shutting down');
    this.log.info('shutting down after the uploads in progress', { uploads: uploads.length, graceMs });
    const cut = setTimeout(() => this.hangUp('server shutting down: grace period over'), graceMs);
    cut.unref();
    void Promise.all(uploads.map((s) => s.settled())).then(() => {
      clearTimeout(cut);
      this.hangUp('server shutting down');
    });
  }

  /** Close the connection: SSH_MSG_DISCONNECT, then the socket; cut it if the client does not read. */
  hangUp(reason: string): void {
    if (this.ending) return;
    this.ending = reason;
    this.stop.abort();
    clearTimeout(this.graceTimer);
    clearTimeout(this.idleTimer);
    if (this.client) this.client.end();
    else this.socket.end();
    setTimeout(() => this.socket.destroy(), HANGUP_GRACE_MS).unref();
  }

  // ---------------------------------------------------------------------------
  // Authentication (RFC 4252)

  private async onAuthentication(ctx: AuthContext): Promise<void> {
    if (this.ending) return; // closing: leave it unanswered
    const user = ctx.username.slice(0, 64);
    switch (ctx.method) {
      case 'none':
        // RFC 4252 5.2: a client's first request, to learn which methods may continue.
        this.log.debug('auth', { method: 'none', user, result: 'methods listed' });
        ctx.reject(METHODS);
        return;
      case 'password': {
        // An address that guessed too often is not asked for a password until its cool-down
        // has passed (a key still works: it cannot be guessed).
        const lockedForMs = this.config.throttle.lockedFor(clientAddress(this.socket));
        if (lockedForMs !== undefined) {
          this.log.warn('auth refused: too many failed logins from this address', { method: 'password', user, address: clientAddress(this.socket), lockedForMs });
          ctx.reject(METHODS);
          this.hangUp('too many failed logins from this address');
          return;
        }
        // checkPassword compares in constant time, whether or not the user exists.
        const ok = checkPassword(this.config.users, ctx.username, ctx.password);
        if (ok) return this.accept(ctx, 'password');
        return this.fail(ctx, { method: 'password', user, reason: 'wrong user name or password' }, true);
      }
      case 'publickey': {
        const key = fingerprint(ctx.key.data);
        const verdict = checkPublicKey(ctx, this.config.keys.get(ctx.username) ?? []);
        if (verdict === 'accept') return this.accept(ctx, 'publickey', { key });
        if (verdict === 'key-ok') {
          // RFC 4252 7: "yes, that key would do": SSH_MSG_USERAUTH_PK_OK; nothing is proven yet.
          this.log.info('auth', { method: 'publickey', user, key, result: 'key accepted, waiting for the signature' });
          ctx.accept();
          return;
        }
        const reason = verdict === 'bad-signature' ? 'the signature does not verify' : 'not a key of this user';
        return this.fail(ctx, { method: 'publickey', user, key, reason }, verdict === 'bad-signature');
      }
      default:
        return this.fail(ctx, { method: ctx.method, user, reason: 'method not offered' }, false);
    }
  }

  private async accept(ctx: AuthContext, method: string, fields: Fields = {}): Promise<void> {
    const home = homeDir(this.config.dataDir, ctx.username);
    await mkdir(home, { recursive: true }); // a user without a seeded home gets an empty one
    const real = await realpath(home);
    if (this.ending) return;
    this.user = ctx.username;
    this.home = real;
    clearTimeout(this.graceTimer);
    this.log.info('auth', { method, user: ctx.username, ...fields, result: 'logged in' });
    ctx.accept();
  }

  private async fail(ctx: AuthContext, fields: Fields, delayed: boolean): Promise<void> {
    const failures = ++this.authFailures;
    const { maxAuthAttempts } = this.config.limits;
    const address = clientAddress(this.socket);
    // A wrong password counts for its address, on every connection (authThrottle.ts); a key
    // that is not the user's is what clients try first, and costs nothing.
    const { failures: fromAddress, delayMs } = delayed ? this.config.throttle.failed(address) : { failures: undefined, delayMs: 0 };
    this.log.warn('auth failed', { ...fields, address, failures, fromAddress, delayMs });
    // Each wrong password costs the guesser this long, more each time; ssh2 queues the
    // client's next request meanwhile, and other connections are served (the wait blocks nothing).
    if (delayMs > 0) {
      await delay(delayMs, undefined, { signal: this.stop.signal, ref: false }).catch(() => {});
    }
    if (this.ending) return;
    if (failures >= maxAuthAttempts) {
      this.log.warn('too many authentication failures', { failures, limit: maxAuthAttempts });
      this.hangUp('too many authentication failures');
      return;
    }
    ctx.reject(METHODS);
  }

  private onReady(): void {
    const ms = this.config.limits.idleTimeoutMs;
    this.idleTimer = setTimeout(() => {
      this.log.info('idle timeout', { limitMs: ms });
      this.hangUp('idle timeout');
    }, ms);
    this.idleTimer.unref();
  }

  private touch(): void {
    this.idleTimer?.refresh();
  }

  // ---------------------------------------------------------------------------
  // Channels (RFC 4254): session channels with the sftp subsystem, nothing else.

  private onSession(accept: () => Session, reject: () => void): void {
    const { maxSessionsPerConnection } = this.config.limits;
    if (this.ending) return reject();
    if (this.sessions >= maxSessionsPerConnection) {
      this.log.warn('session refused', { reason: 'too many sessions', limit: maxSessionsPerConnection });
      return reject();
    }
    const session = accept();
    this.sessions++;
    this.touch();
    session.once('close', () => this.sessions--);
    session.on('error', (e: Error) => this.log.debug('session error', { error: e.message }));
    // Everything a session can ask for besides SFTP is refused, and logged: a terminal,
    // environment variables, X11, agent forwarding, a shell, a command, another subsystem.
    // (`reject` is undefined when the client asked for no reply.)
    session.on('pty', (_accept, reject) => this.refuse(reject, 'pty'));
    // OpenSSH sends LANG with every session (SendEnv in Debian's ssh_config): logged, not warned about.
    session.on('env', (_accept, reject, info) => this.refuse(reject, 'env', { name: String(info.key).slice(0, 64) }, 'info'));
    session.on('x11', (_accept, reject) => this.refuse(reject, 'x11'));
    session.on('auth-agent', (_accept, reject) => this.refuse(reject, 'auth-agent'));
    session.on('shell', (_accept, reject) => this.refuse(reject, 'shell'));
    session.on('exec', (_accept, reject, info) => this.refuse(reject, 'exec', { command: String(info.command).slice(0, 200) }));
    session.on('subsystem', (_accept, reject, info) => this.refuse(reject, 'subsystem', { name: String(info.name).slice(0, 64) }));
    session.on('sftp', (acceptSftp) => this.startSftp(acceptSftp()));
  }

  private startSftp(sftp: SFTPWrapper): void {
    const { maxOpenHandles, maxReadBytes } = this.config.limits;
    this.log.info('sftp session started', { user: this.user });
    const session = new SftpSession(sftp, {
      requests: REQUESTS,
      extensions: EXTENSION_VERSIONS,
      home: this.home!,
      user: this.user!,
      clientSoftware: this.software,
      log: this.log,
      maxOpenHandles,
      maxReadBytes,
      onActivity: () => this.touch(),
      onBacklog: (delta) => this.onBacklog(delta),
    });
    this.sftpSessions.add(session);
    void session.finished.then(() => this.sftpSessions.delete(session));
  }

  /** Too many requests waiting: stop reading from the client until most are answered. */
  private onBacklog(delta: number): void {
    this.backlog += delta;
    if (this.backlog >= BACKLOG_HIGH && !this.socket.isPaused()) this.socket.pause();
    else if (this.backlog <= BACKLOG_LOW && this.socket.isPaused()) this.socket.resume();
  }

  private refuse(reject: (() => void) | undefined, what: string, fields: Fields = {}, level: 'info' | 'warn' = 'warn'): void {
    this.log[level]('refused', { request: what, ...fields, reason: 'this server offers only the sftp subsystem' });
    reject?.();
  }

  private internalError(where: string, e: unknown): void {
    this.log.error('internal error', { where, error: e instanceof Error ? e.message : String(e) });
    this.hangUp(`internal error in ${where}`);
  }

  private async onClose(): Promise<void> {
    const reason = this.ending ?? 'client closed the connection';
    this.ending = reason; // a delayed answer still pending is dropped
    this.stop.abort();
    clearTimeout(this.graceTimer);
    clearTimeout(this.idleTimer);
    // A client that vanished mid-transfer: each session finishes its request in progress
    // and closes the files it left open.
    await Promise.all([...this.sftpSessions].map((s) => s.finished));
    this.log.info('closed', { reason, user: this.user, authFailures: this.authFailures || undefined });
  }
}

