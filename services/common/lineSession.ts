import type net from 'node:net';
import tls from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import type { Fields, Logger } from './logger';
import type { TlsStarter } from './tls';
import { endSocket, writeWithBackpressure } from './sessions';
import { SHUTDOWN_GRACE_MS } from './shutdown';
import { AUTH_THROTTLE_DEFAULTS, type AuthThrottle } from './authThrottle';
import { clientAddress as plainAddress } from './clf';

/**
 * The connection engine of the line-based servers (POP3, FTP's control connection, IMAP).
 * A protocol plugs in what makes it itself: how bytes become commands (its framer), how
 * a command is answered (execute: its verb table), how a reply is written (encode) and
 * what it says when the server ends a session on its own (farewell). The engine does the
 * plumbing every one of them needs, in one place:
 *
 *   - commands are answered one at a time, in the order they came, even when a client
 *     sends several at once (pipelining); a client that sends without reading is paused;
 *   - a client that closes its sending side still gets the replies to what it sent;
 *   - the idle timer, and a login deadline that activity does not move;
 *   - a limit on unknown or invalid commands (smtp-server closes at 10, so do we);
 *   - an HTTP request sent to the port (a browser pointed at port 110) gets an answer;
 *   - failed logins wait before they are answered;
 *   - upgrading the connection to TLS in place (STARTTLS, STLS, AUTH TLS), discarding
 *     whatever the client sent after the command in clear (RFC 3207 4.2, RFC 2595 4);
 *   - hanging up with a closing reply, and the server's shutdown.
 */

/** Why the server ends a session on its own; the protocol answers each in its own words (or silently). */
export type Farewell =
  /** The server is shutting down. */
  | 'shutdown'
  /** No command for idleTimeoutMs. */
  | 'idle'
  /** Not logged in within loginTimeoutMs of connecting. */
  | 'login-timeout'
  /** maxUnknownCommands unknown or invalid commands. */
  | 'too-many-errors'
  /** The first line was an HTTP request: this is not a web server. */
  | 'http'
  /** A line over the limit, for a protocol that cannot find the next command after one. */
  | 'line-too-long'
  /** maxAuthFailures wrong passwords. */
  | 'too-many-failures';

/** A line over the protocol's limit, where it stood among the commands: the engine answers it in turn. */
export const TOO_LONG = Symbol('line too long');

/** Cuts a protocol's commands out of the bytes that arrive (one per connection: it keeps a partial command). */
export interface Framer<Item> {
  /** The complete items in `chunk` and what was kept from before; TOO_LONG for a line over the limit. */
  push(chunk: Buffer): (Item | typeof TOO_LONG)[];
  /** Forget what is kept of a command still arriving; returns how many bytes that was. */
  reset(): number;
}

/** The engine's limits; each protocol declares them as named options with its defaults. */
export interface SessionLimits {
  /** The longest command line in octets, CRLF included (the framer enforces it; the engine logs it). */
  maxLineLength: number;
  /** No command for this long: the session ends (farewell 'idle'). */
  idleTimeoutMs: number;
  /** Not logged in this long after connecting, however busy: the session ends (farewell 'login-timeout'). */
  loginTimeoutMs: number;
  /** Unknown or invalid commands before the session ends (farewell 'too-many-errors'). */
  maxUnknownCommands: number;
  /** Wrong passwords on one connection before the session ends. */
  maxAuthFailures: number;
  /** How long a wrong password waits for its answer, times the failures of its address (authThrottle.ts). */
  authFailureDelayMs: number;
  /** On shutdown, how long a command in progress (a transfer, a RETR, a FETCH) may run before it is cut. */
  closeGraceMs: number;
  /** Wrong passwords from one address, on any connection, before it is locked out for authCooldownMs. */
  maxAuthFailuresPerAddress: number;
  /** How long an address's failures are remembered after its last one, and a lock-out lasts. */
  authCooldownMs: number;
}

/** The defaults every line protocol starts from (each may choose its own idle timeout). */
export const SESSION_DEFAULTS = {
  loginTimeoutMs: 60 * 1000,
  maxUnknownCommands: 10,
  maxAuthFailures: 3,
  ...AUTH_THROTTLE_DEFAULTS,
  closeGraceMs: SHUTDOWN_GRACE_MS,
} as const;

/** The lowest value each engine limit may take (checkLimits' `min`); the others are at least 1. */
export const SESSION_MINIMUM = { authFailureDelayMs: 0, closeGraceMs: 0 } as const;

/** Commands waiting for their turn before the engine stops reading from a client that sends without reading. */
const MAX_QUEUED = 64;

/** The request line of HTTP/1.x (RFC 9112 3): `GET / HTTP/1.1`. */
const HTTP_REQUEST_LINE = /^[A-Z]{3,7} \S+ HTTP\/\d\.\d\r?$/;

/** What the engine does with an item as it arrives (see admit()). */
export type Admission = 'queue' | 'front' | 'drop';

export abstract class LineSession<Item, Reply> {
  /** Resolves when the connection has closed and onClosed() is done. */
  readonly finished: Promise<void>;
  /** Why the server is ending the session (QUIT, a limit, shutdown); once set, no more commands are answered. */
  protected ending?: string;
  /** Fires when the session ends: waits (a failed-login delay, a transfer) stop early. */
  protected readonly stop = new AbortController();
  /** Fields for the current command's log line (note()). */
  protected fields: Fields = {};
  /** The client sent this many unknown or invalid commands. */
  protected unknownCommands = 0;
  /** Wrong passwords on this connection. */
  protected authFailures = 0;

  private readonly queue: (Item | typeof TOO_LONG)[] = [];
  private busy = false;
  private work: Promise<void> = Promise.resolve();
  private farewell?: Reply;
  private finishing = false;
  /** No more input is taken (after a line the protocol cannot resync from, or during a TLS upgrade). */
  private deaf = false;
  /** The client has closed its sending side: answer what is queued, then close. */
  private clientDone = false;
  /** The socket has closed. */
  private gone = false;
  /** The first line has been looked at (the HTTP check). */
  private firstLineSeen = false;
  private firstBytes = '';
  private loginTimer?: NodeJS.Timeout;
  /** The command in progress reached a limit whose farewell is its answer. */
  private replyReplaced = false;
  /** The server is shutting down and lets the command in progress finish: none after it is started. */
  private draining = false;

  constructor(
    /** The connection: a plain socket, or a TLS socket on an implicit-TLS port; replaced by upgradeToTls(). */
    protected socket: net.Socket,
    protected readonly framer: Framer<Item>,
    protected readonly limits: SessionLimits,
    protected readonly log: Logger,
    /** The server's count of failed logins per client address (one for all its connections). */
    private readonly throttle: AuthThrottle,
  ) {
    this.finished = new Promise((resolve) => socket.once('close', () => void this.onSocketClose().then(resolve)));
  }

  // ---------------------------------------------------------------------------
  // What a protocol plugs in.

  /** A reply as bytes on the wire. */
  protected abstract encode(reply: Reply): Buffer;
  /** Answer one command: its reply (sent by the engine), or undefined when the handler sent everything itself. */
  protected abstract execute(item: Item): Promise<Reply | undefined>;
  /** What to say before closing for `reason`; undefined closes without a word (POP3's autologout). */
  protected abstract farewellFor(reason: Farewell): Reply | undefined;
  /** The answer to a line over the limit; `close` when the protocol cannot find the next command after it. */
  protected abstract overlong(): { reply: Reply; close: boolean };

  /**
   * Each item as it arrives, before it is queued: 'queue' (the default), 'front' (it
   * jumps the queue: FTP's ABOR during a transfer), or 'drop' (handled already: IMAP's
   * DONE ending an IDLE).
   */
  protected admit(_item: Item): Admission {
    return 'queue';
  }

  /**
   * The command in progress waits on the client, not on work (IMAP's IDLE, the next line
   * of an AUTHENTICATE): a shutdown ends it at once rather than after the grace.
   */
  protected waitsForClient(): boolean {
    return false;
  }

  /** The session is ending (a limit, shutdown, QUIT, the connection gone): stop what runs (a transfer). */
  protected onEnding(_reason: string): void {}

  /** The client closed its sending side; queued commands are still answered. */
  protected onClientEnd(): void {}

  /** The connection has closed, with every command finished: release what the session holds, log. */
  protected async onClosed(_reason: string): Promise<void> {}

  // ---------------------------------------------------------------------------
  // The life of a session.

  /** Greet the client and start reading. */
  start(greeting: Reply): void {
    this.watch(this.socket);
    this.armTimers();
    this.socket.write(this.encode(greeting));
  }

  /**
   * The server is shutting down: a command in progress (an upload, a RETR) may finish
   * within `graceMs`, then the farewell, then close; no command after it is started. An
   * idle session gets the farewell at once. What outlasts the grace is stopped as any
   * ending session's work is (the transfer aborted), and the farewell follows.
   */
  shutdown(graceMs = 0): void {
    if (this.gone || this.ending !== undefined || this.draining) return;
    if (!this.busy || graceMs === 0 || this.waitsForClient()) return this.hangUp('server shutting down', this.farewellFor('shutdown'));
    this.draining = true;
    this.log.info('shutting down after the command in progress', { graceMs });
    const cut = setTimeout(() => {
      this.log.warn('grace period over: stopping the command in progress', { graceMs });
      this.hangUp('server shutting down', this.farewellFor('shutdown'));
    }, graceMs);
    cut.unref();
    void this.finished.then(() => clearTimeout(cut));
  }

  /** Is the connection encrypted (an implicit-TLS port, or after STARTTLS)? */
  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** The client's address, as the socket saw it. */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /**
   * End the session: no more commands are answered; `farewell` (if any) is sent after
   * the reply in progress, then the connection closes. The first reason given stays.
   */
  hangUp(reason: string, farewell?: Reply): void {
    if (this.gone || this.ending !== undefined) return;
    this.ending = reason;
    this.farewell = farewell;
    this.stop.abort(reason);
    this.onEnding(reason);
    if (!this.busy) void this.finish();
  }

  /** Extra fields for this command's log line. */
  note(fields: Fields): void {
    Object.assign(this.fields, fields);
  }

  /** Send a reply now, in between (a preliminary reply, an untagged response, a server push). */
  async send(reply: Reply): Promise<void> {
    if (this.gone || this.socket.destroyed) return;
    await writeWithBackpressure(this.socket, this.encode(reply));
  }

  /** The client has logged in: the login deadline no longer applies. */
  protected loggedIn(): void {
    clearTimeout(this.loginTimer);
    this.loginTimer = undefined;
  }

  /**
   * Count an unknown or invalid command. At maxUnknownCommands the session ends: the
   * farewell ('too-many-errors') answers this command instead of its own reply.
   */
  protected unknownCommand(): void {
    this.unknownCommands++;
    if (this.unknownCommands >= this.limits.maxUnknownCommands) {
      this.log.warn('too many unknown commands', { count: this.unknownCommands, limit: this.limits.maxUnknownCommands });
      this.hangUp('too many unknown commands', this.farewellFor('too-many-errors'));
      this.replyReplaced = true;
    }
  }

  /**
   * Before a password is checked: how long this client's address is still locked out
   * (too many failures from it, on any connection: authThrottle.ts), or undefined. A
   * protocol's authenticate() checks no password while it is.
   */
  protected loginLockedFor(): number | undefined {
    return this.throttle.lockedFor(plainAddress(this.remoteAddress));
  }

  /**
   * A failed login: log it with the client's address, wait (authFailureDelayMs times the
   * failures from this address: other clients are served meanwhile; the wait ends early
   * if the session does), and tell whether this was the last one allowed here. The
   * protocol then answers in its own words; on the last, it ends the session with the
   * farewell 'too-many-failures'. `lockedForMs`: the address is locked out, no password
   * was checked; the protocol says "try again later" and ends the session.
   */
  protected async failedLogin(name: string): Promise<{ failures: number; last: boolean; lockedForMs?: number }> {
    const address = plainAddress(this.remoteAddress);
    const lockedForMs = this.throttle.lockedFor(address);
    if (lockedForMs !== undefined) {
      const fields = { user: name, address, lockedForMs };
      this.note(fields);
      this.log.warn('login refused: too many failed logins from this address', fields);
      return { failures: this.authFailures, last: true, lockedForMs };
    }
    const failures = ++this.authFailures;
    const { failures: fromAddress, delayMs } = this.throttle.failed(address);
    const fields = { user: name, address, failures, fromAddress, delayMs };
    this.note(fields);
    this.log.warn('login failed', fields);
    await delay(delayMs, undefined, { signal: this.stop.signal, ref: false }).catch(() => {});
    return { failures, last: failures >= this.limits.maxAuthFailures };
  }

  /**
   * Stop the idle timer while the session waits on something other than the client (an
   * FTP transfer, an IMAP IDLE); `resumeIdleTimer()` starts it again.
   */
  protected pauseIdleTimer(): void {
    this.socket.setTimeout(0);
  }

  protected resumeIdleTimer(): void {
    if (!this.gone) this.socket.setTimeout(this.limits.idleTimeoutMs);
  }

  /**
   * STARTTLS, STLS, AUTH TLS: send `goAhead`, then run the TLS handshake on this same
   * connection. Whatever the client sent after the command, in clear, is thrown away
   * unread: it could have been injected by anyone on the path, and would otherwise run
   * inside the encrypted session (RFC 3207 4.2, RFC 2595 4; the "command injection"
   * attack). Resolves true once the session is encrypted; false if the handshake failed
   * (the connection is then closed). The protocol resets its own state after it.
   */
  protected async upgradeToTls(goAhead: Reply, start: TlsStarter): Promise<boolean> {
    if (this.secure) throw new Error('upgradeToTls on a connection that is already encrypted');
    const discarded = { commands: this.queue.length, bytes: this.framer.reset() };
    this.queue.length = 0;
    if (discarded.commands > 0 || discarded.bytes > 0) this.log.warn('discarded input sent before the TLS handshake', discarded);
    const plain = this.socket;
    this.deaf = true; // until the handshake is done, nothing in clear is read
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.removeAllListeners('timeout');
    plain.setTimeout(0);
    // Written before the handshake starts, in the same turn: the client starts it only after reading this.
    plain.write(this.encode(goAhead));
    let secure: tls.TLSSocket;
    try {
      secure = await start(plain, this.log); // a failure is logged there, and the connection closed
    } catch {
      return false;
    }
    this.socket = secure;
    this.deaf = false;
    this.watch(secure);
    this.resumeIdleTimer();
    this.log.info('tls started', { version: secure.getProtocol() ?? undefined, cipher: secure.getCipher()?.name });
    return true;
  }

  // ---------------------------------------------------------------------------
  // Reading: bytes -> items -> a queue answered in order, one command at a time.

  private watch(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.clientDone = true;
      this.onClientEnd();
      this.kick();
    });
    socket.on('timeout', () => this.onIdle());
  }

  private armTimers(): void {
    this.socket.setTimeout(this.limits.idleTimeoutMs);
    this.loginTimer = setTimeout(() => {
      this.log.warn('login timeout', { limitMs: this.limits.loginTimeoutMs });
      this.closeWith('login timeout', this.farewellFor('login-timeout'));
    }, this.limits.loginTimeoutMs);
    this.loginTimer.unref();
  }

  private onIdle(): void {
    this.log.info('idle timeout', { limitMs: this.limits.idleTimeoutMs });
    this.closeWith('idle timeout', this.farewellFor('idle'));
  }

  /** End the session for a timer: with a farewell if the protocol has one, else cut at once. */
  private closeWith(reason: string, farewell: Reply | undefined): void {
    if (farewell !== undefined) return this.hangUp(reason, farewell);
    this.ending ??= reason;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.ending !== undefined || this.deaf) return; // what comes after the end is read and dropped
    if (!this.firstLineSeen && this.looksLikeHttp(chunk)) return;
    for (const item of this.framer.push(chunk)) {
      if (item === TOO_LONG) {
        this.queue.push(item);
        if (this.overlong().close) {
          this.deaf = true; // nobody knows where the next command starts
          break;
        }
        continue;
      }
      const admission = this.admit(item);
      if (admission === 'front') this.queue.unshift(item);
      else if (admission === 'queue') this.queue.push(item);
    }
    if (this.queue.length >= MAX_QUEUED) this.socket.pause();
    this.kick();
  }

  /**
   * A browser or curl pointed at this port sends `GET / HTTP/1.1` as its first line: it
   * gets the protocol's own answer that says so, and the connection closes.
   */
  private looksLikeHttp(chunk: Buffer): boolean {
    this.firstBytes += chunk.toString('latin1', 0, Math.min(chunk.length, 512));
    const lf = this.firstBytes.indexOf('\n');
    if (lf === -1 && this.firstBytes.length < 512) return false;
    this.firstLineSeen = true;
    const line = this.firstBytes.slice(0, lf === -1 ? undefined : lf);
    this.firstBytes = '';
    if (!HTTP_REQUEST_LINE.test(line)) return false;
    this.log.warn('http request on a line port', { request: line.trim().slice(0, 100) });
    this.hangUp('http request', this.farewellFor('http'));
    return true;
  }

  private kick(): void {
    if (this.busy) return;
    this.busy = true;
    this.work = this.run()
      .catch((e: unknown) => this.log.error('session failed', { error: errorText(e) }))
      .finally(() => {
        this.busy = false;
        if (this.queue.length > 0 && !this.gone && this.ending === undefined) this.kick();
      });
  }

  private async run(): Promise<void> {
    while (!this.gone && this.ending === undefined) {
      // Shutting down: the command that was running is done; the next is not started.
      if (this.draining) this.hangUp('server shutting down', this.farewellFor('shutdown'));
      if (this.ending !== undefined) break;
      const item = this.queue.shift();
      if (item === undefined) break;
      this.fields = {};
      if (item === TOO_LONG) {
        const { reply, close } = this.overlong();
        this.log.warn('line too long', { limit: this.limits.maxLineLength });
        if (close) this.hangUp('line too long', this.farewellFor('line-too-long'));
        await this.send(reply);
        continue;
      }
      const reply = await this.execute(item);
      // When this very command reached the unknown-command limit, the farewell answers it instead.
      if (reply !== undefined && !this.replyReplaced) await this.send(reply);
      if (this.socket.isPaused() && this.queue.length < MAX_QUEUED / 2 && !this.deaf) this.socket.resume();
    }
    if (this.gone) return;
    if (this.ending !== undefined) await this.finish();
    else if (this.clientDone && this.queue.length === 0) endSocket(this.socket);
  }

  private async finish(): Promise<void> {
    if (this.finishing || this.gone) return;
    this.finishing = true;
    if (this.farewell !== undefined) await this.send(this.farewell);
    endSocket(this.socket);
  }

  private async onSocketClose(): Promise<void> {
    this.gone = true;
    clearTimeout(this.loginTimer);
    this.stop.abort('connection closed');
    this.onEnding('connection closed');
    await this.work;
    await this.onClosed(this.ending ?? 'client closed the connection').catch((e: unknown) =>
      this.log.error('closing the session failed', { error: errorText(e) }),
    );
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
