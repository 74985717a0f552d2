import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { CLIENT, StepError, type Route, type TlsHandshake, type Wire } from '../wire';
import { describeTls, type CertificateSummary, type TlsDescription } from './describe';
import type { KeylogFile } from './keylog';
import { handshakeSummary, handshakeText } from './view';

/**
 * The runner as a TLS client: the one place its executors start TLS, on a connection
 * just made (HTTPS, SMTPS, POP3S, FTPS on 990) or after a command that asks for it
 * (STARTTLS, STLS, AUTH TLS). The handshake is recorded as a step of its own (a `tls`
 * event: version, cipher, SNI, ALPN, the certificate chain, resumption), and the key
 * log gets the session's secrets when the run has one (`--keylog`).
 *
 * The client always lets Node finish the handshake (rejectUnauthorized: false), then
 * judges the certificate itself, as Node would have: so a refused certificate is still
 * described (its chain, and why: CERT_HAS_EXPIRED...), and `insecure: true` carries on
 * the way `curl -k` does, knowing what it ignored.
 */

export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const satisfies readonly tls.SecureVersion[];

/** What a step may say about TLS (`tls: { ca, servername, insecure, minVersion, maxVersion, resume }`). */
export interface TlsSettings {
  /**
   * Whom to trust: `lab` (the default: the lab CA), `system` (Node's list of public
   * CAs, as a client that was never given the lab CA), a PEM certificate, or a PEM file.
   */
  ca?: string;
  /** The name to ask for (SNI) and to check the certificate against. Default: the host the step names. */
  servername?: string;
  /** Carry on whatever is wrong with the certificate (curl -k). Default: false. */
  insecure?: boolean;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** Offer the session of the scenario's last connection to the same server (a ticket), as browsers do. Default: false. */
  resume?: boolean;
}

/** What the client needs of a step's context (an executor's ExecContext has all of it). */
export interface TlsClientContext {
  wire: Wire;
  signal: AbortSignal;
  network: { trustedCa(): Buffer | undefined };
  keylog?: KeylogFile;
  session: { resources: Map<string, { close(): void }> };
}

export interface TlsStart {
  /** Where the connection goes, as the transcript names it. */
  route: Route;
  /** The host the step named (a lab name or an address): the default SNI and the name the certificate must carry. */
  host: string;
  /** ALPN protocols to offer, e.g. ['http/1.1']. */
  alpn?: string[];
  settings?: TlsSettings;
}

export interface SecureConnection {
  socket: tls.TLSSocket;
  handshake: TlsHandshake;
}

/**
 * Start TLS as the client on `socket` (plain TCP, connected). Resolves once the
 * handshake is done and the certificate accepted; throws a StepError whose output
 * carries `tls` (with `error`, and the chain when one came) when the handshake fails
 * or the client refuses the certificate.
 */
export async function startTls(socket: net.Socket, start: TlsStart, ctx: TlsClientContext): Promise<SecureConnection> {
  const settings = start.settings ?? {};
  const options = clientOptions(start, ctx.network);
  const sessionKey = `tls-session ${start.route.label} ${options.servername ?? ''}`;
  const saved = settings.resume ? (ctx.session.resources.get(sessionKey) as SavedSession | undefined) : undefined;
  const secure = tls.connect({ ...options, socket, ...(saved ? { session: saved.session } : {}) });
  ctx.keylog?.attach(secure);
  secure.on('session', (session: Buffer) => {
    const kept: SavedSession = { session, close() {} };
    ctx.session.resources.set(sessionKey, kept);
  });
  try {
    await handshakeDone(secure, ctx.signal);
  } catch (err) {
    secure.destroy();
    const failed = failedHandshake(err as HandshakeError, options.servername, ctx.signal.aborted);
    record(failed, start, ctx);
    throw refusal(failed, start, 'failed');
  }
  const handshake = judge(secure, start, ctx);
  if (!handshake.authorized && !settings.insecure) {
    secure.destroy();
    throw refusal(handshake, start, 'refused');
  }
  return { socket: secure, handshake };
}

/**
 * A connection a line protocol (POP3, IMAP) opens: TLS at once with implicit TLS (995,
 * 993), or later with `upgrade` (STLS, STARTTLS on the plain port). `handshake` is the
 * one that happened, for the step's `tls` output.
 */
export interface MaybeTls {
  socket: net.Socket;
  upgrade(plain: net.Socket): Promise<net.Socket>;
  handshake(): TlsHandshake | undefined;
}

export async function openMaybeTls(plain: net.Socket, implicit: boolean, start: TlsStart, ctx: TlsClientContext): Promise<MaybeTls> {
  let handshake: TlsHandshake | undefined;
  const upgrade = async (socket: net.Socket): Promise<net.Socket> => {
    const secure = await startTls(socket, start, ctx).catch((err: unknown) => {
      socket.destroy();
      throw err;
    });
    handshake = secure.handshake;
    return secure.socket;
  };
  return { socket: implicit ? await upgrade(plain) : plain, upgrade, handshake: () => handshake };
}

/**
 * Node's options for a TLS client connection as a step asks for it: the name asked
 * for (SNI, never an address: RFC 6066 3), ALPN, whom to trust, the versions. The
 * certificate is judged, not refused, by Node (rejectUnauthorized: false), against the
 * name the step used: the one asked for, else the address as the step wrote it (not
 * the address the connection really went to, which differs between backends).
 */
export function clientOptions(start: TlsStart, network: TlsClientContext['network']): tls.ConnectionOptions {
  const settings = start.settings ?? {};
  const servername = servernameOf(start);
  const identity = servername ?? start.host;
  return {
    ...(servername ? { servername } : {}),
    ...(start.alpn ? { ALPNProtocols: start.alpn } : {}),
    ...trustOf(settings.ca, network),
    ...(settings.minVersion ? { minVersion: settings.minVersion } : {}),
    ...(settings.maxVersion ? { maxVersion: settings.maxVersion } : {}),
    rejectUnauthorized: false,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(identity, cert),
  };
}

/**
 * A TLS socket a library started with clientOptions() (basic-ftp's data connections
 * under PROT P): its keys go to the key log, its handshake is recorded like startTls's,
 * and a certificate the client would refuse ends it.
 */
export function followTls(secure: tls.TLSSocket, start: TlsStart, ctx: TlsClientContext): void {
  ctx.keylog?.attach(secure);
  const onError = (err: HandshakeError): void => {
    record(failedHandshake(err, secure.servername || undefined, false), start, ctx);
  };
  secure.once('error', onError);
  secure.once('secureConnect', () => {
    secure.removeListener('error', onError);
    const handshake = judge(secure, start, ctx);
    if (!handshake.authorized && !start.settings?.insecure) secure.destroy(refusal(handshake, start, 'refused'));
  });
}

/** The name to ask for: the step's `servername`, else the host it named, unless that is an address. */
function servernameOf(start: TlsStart): string | undefined {
  return start.settings?.servername ?? (net.isIP(start.host) ? undefined : start.host);
}

/** Describe a finished handshake and record it. */
function judge(secure: tls.TLSSocket, start: TlsStart, ctx: TlsClientContext): TlsHandshake {
  const handshake = handshakeOf(describeTls(secure, servernameOf(start) ?? start.host));
  record(handshake, start, ctx);
  return handshake;
}

/** The `tls` event: the handshake as a step of its own, from the client to the server it secures. */
function record(handshake: TlsHandshake, start: TlsStart, ctx: TlsClientContext): void {
  const insecure = start.settings?.insecure;
  ctx.wire.record({
    kind: 'tls',
    protocol: 'tls',
    transport: 'tcp',
    from: CLIENT,
    to: start.route.label,
    summary: handshakeSummary(handshake, insecure),
    text: handshakeText(handshake, start.route.label, insecure),
    tls: handshake,
  });
}

/** A failed or refused handshake as the StepError a step's output shows (`error`, `code`, and `tls`). */
function refusal(handshake: TlsHandshake, start: TlsStart, how: 'failed' | 'refused'): StepError {
  const message =
    how === 'failed'
      ? `TLS handshake with ${start.route.label} failed: ${handshake.message}`
      : `${start.route.label}: the client refused the certificate: ${handshake.message} (${handshake.error})`;
  return new StepError(message, handshake.error, { tls: handshake });
}

/**
 * The client asked for TLS in the plain protocol (STARTTLS, STLS), the server did not
 * give it, and the client requires it: it stops (`farewell`: QUIT, IMAP's LOGOUT), and
 * the step fails with code ETLS (`tls.error` too), having said `why` (`refused STLS (-ERR ...)`).
 */
export function tlsRequired(server: string, why: string, message: string, farewell = 'QUIT'): StepError {
  return new StepError(`${server} ${why}: this client requires TLS, so it said ${farewell} and sent nothing more in clear`, 'ETLS', {
    tls: { authorized: false, error: 'ETLS', message, chain: [] },
  });
}

interface SavedSession {
  session: Buffer;
  close(): void;
}

/** The `ca` option of tls.connect for a step's `ca:` setting; none means Node's own list. */
function trustOf(ca: string | undefined, network: TlsClientContext['network']): Pick<tls.ConnectionOptions, 'ca'> {
  if (ca === undefined || ca === 'lab') {
    const lab = network.trustedCa();
    return lab ? { ca: lab } : {};
  }
  if (ca === 'system') return { ca: [...tls.rootCertificates] };
  if (ca.includes('-----BEGIN CERTIFICATE-----')) return { ca };
  try {
    return { ca: readFileSync(ca) };
  } catch (err) {
    throw new StepError(`tls.ca: cannot read ${ca}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code);
  }
}

type HandshakeError = Error & { code?: string; reason?: string };

function handshakeDone(secure: tls.TLSSocket, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      secure.removeListener('secureConnect', onSecure);
      secure.removeListener('error', onError);
      secure.removeListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onSecure = (): void => settle();
    const onError = (err: Error): void => settle(err);
    const onClose = (): void => settle(Object.assign(new Error('the server closed the connection during the handshake'), { code: 'ECONNRESET' }));
    const onAbort = (): void => settle(Object.assign(new Error('no TLS handshake in time'), { code: 'ETIMEDOUT' }));
    if (signal.aborted) return onAbort();
    secure.once('secureConnect', onSecure);
    secure.once('error', onError);
    secure.once('close', onClose);
    signal.addEventListener('abort', onAbort);
  });
}

/**
 * A handshake that did not complete: Node's code (ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION)
 * and OpenSSL's reason in words ("tlsv1 alert protocol version"), as curl and
 * `openssl s_client` print it.
 */
function failedHandshake(err: HandshakeError, servername: string | undefined, timedOut: boolean): TlsHandshake {
  const code = timedOut ? 'ETIMEDOUT' : (err.code ?? 'EPROTO');
  const message = err.reason ?? err.message;
  return { ...(servername ? { servername } : {}), authorized: false, error: code, message, chain: [] };
}

/** describeTls's view, in the shape a step's output and a transcript carry. */
function handshakeOf(d: TlsDescription): TlsHandshake {
  const chain = d.chain.map(certificateOf);
  return {
    ...(d.protocol ? { version: d.protocol } : {}),
    cipher: d.cipher,
    ...(d.keyExchange ? { keyExchange: d.keyExchange } : {}),
    ...(d.servername ? { servername: d.servername } : {}),
    ...(d.alpn ? { alpn: d.alpn } : {}),
    authorized: d.authorized,
    ...(d.authorizationError ? { error: d.authorizationError.code, message: d.authorizationError.message } : {}),
    resumed: d.sessionReused,
    ...(chain[0] ? { certificate: chain[0] } : {}),
    chain,
  };
}

function certificateOf(c: CertificateSummary): TlsHandshake['chain'][number] {
  return {
    subject: c.subject,
    issuer: c.issuer,
    san: c.altNames,
    validFrom: c.validFrom,
    validTo: c.validTo,
    fingerprint: c.fingerprint256,
    serialNumber: c.serialNumber,
    ca: c.ca,
    selfSigned: c.selfSigned,
  };
}
