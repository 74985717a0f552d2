import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

/**
 * What a TLS connection was, for a transcript: the version and cipher agreed, the name
 * the client asked for (SNI), the application protocol (ALPN), whether the client
 * trusted the server and, if not, why (in the words Node, curl and OpenSSL use), and
 * the server's certificate chain as the client saw it.
 *
 *   const socket = tls.connect({ host, port, servername, ca, rejectUnauthorized: false }, () => {
 *     const seen = describeTls(socket);   // seen.authorizationError?.message: 'certificate has expired'
 *   });
 *
 * Connect with rejectUnauthorized: false to describe a connection the client would
 * refuse (the certificate lessons): Node then still completes it and says why not.
 */

export interface CertificateSummary {
  /** `CN=www.lab.test, O=wirelab (lab use only)` */
  subject: string;
  issuer: string;
  /** The subject alternative names, as OpenSSL prints them: `DNS:www.lab.test`, `IP Address:127.0.0.1`. */
  altNames: string[];
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
  /** `AB:CD:...`, as browsers and `openssl x509 -fingerprint -sha256` show it. */
  fingerprint256: string;
  serialNumber: string;
  /** A CA certificate (basicConstraints CA:TRUE). */
  ca: boolean;
  /** Issued by itself: a root, or the self-signed lesson's CA. */
  selfSigned: boolean;
}

export interface TlsDescription {
  /** `TLSv1.3`, `TLSv1.2`, `TLSv1`. */
  protocol: string | null;
  /** The cipher suite's IANA name, `TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** The key exchange group, `X25519` (TLS 1.3 and ECDHE). */
  keyExchange?: string;
  /** The host name the client sent in the handshake (SNI); absent when it connected to an address. */
  servername?: string;
  /** The application protocol both sides agreed on (ALPN), e.g. `http/1.1`. */
  alpn?: string;
  /** Whether the client trusted the certificate for the name it asked for. */
  authorized: boolean;
  /** Why not: Node's code and the message a client prints. */
  authorizationError?: { code: string; message: string };
  /** The server's certificate first, then each issuer the client found, up to the root it trusts (if any). */
  chain: CertificateSummary[];
  /** The session was resumed (a ticket or session id from an earlier connection), so no certificate was sent. */
  sessionReused: boolean;
}

/**
 * Describe a client-side TLS socket once it is connected (`secureConnect`). `host` is
 * the name the client checked the certificate against when it sent no SNI (an address).
 */
export function describeTls(socket: tls.TLSSocket, host?: string): TlsDescription {
  const cipher = socket.getCipher();
  const key = socket.getEphemeralKeyInfo();
  const servername = typeof socket.servername === 'string' ? socket.servername : undefined;
  const peer = socket.getPeerCertificate(true);
  const error = socket.authorizationError as unknown as string | Error | null | undefined;
  return {
    protocol: socket.getProtocol(),
    cipher: cipher.standardName ?? cipher.name,
    ...(key && 'name' in key && key.name ? { keyExchange: key.name } : {}),
    ...(servername ? { servername } : {}),
    ...(socket.alpnProtocol ? { alpn: socket.alpnProtocol } : {}),
    authorized: socket.authorized,
    ...(error && !socket.authorized ? { authorizationError: explain(error, peer, servername ?? host) } : {}),
    chain: certificateChain(peer),
    sessionReused: socket.isSessionReused(),
  };
}

/** The chain Node hands back from getPeerCertificate(true), leaf first, each certificate once. */
function certificateChain(peer: tls.DetailedPeerCertificate): CertificateSummary[] {
  const chain: CertificateSummary[] = [];
  const seen = new Set<string>();
  for (let cert: tls.DetailedPeerCertificate | undefined = peer; cert?.raw && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
    seen.add(cert.fingerprint256);
    chain.push(summarize(new X509Certificate(cert.raw)));
  }
  return chain;
}

export function summarize(cert: X509Certificate): CertificateSummary {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    altNames: cert.subjectAltName ? cert.subjectAltName.split(', ') : [],
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber,
    ca: cert.ca,
    selfSigned: cert.checkIssued(cert) && cert.verify(cert.publicKey),
  };
}

/** Node prints a name one attribute a line; a transcript wants `CN=..., O=...`. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

/**
 * Node keeps only the code of a refused certificate when the connection goes on
 * (rejectUnauthorized: false). The message is OpenSSL's text for that code
 * (X509_verify_cert_error_string), which curl, Python and `openssl s_client` print too;
 * for a wrong name it is Node's own check, run again to get its words.
 */
function explain(error: string | Error, peer: tls.PeerCertificate, host: string | undefined): { code: string; message: string } {
  const code = typeof error === 'string' ? error : ((error as NodeJS.ErrnoException).code ?? error.message);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' && host) {
    const mismatch = tls.checkServerIdentity(host, peer);
    if (mismatch) return { code, message: mismatch.message };
  }
  return { code, message: VERIFY_ERRORS[code] ?? (typeof error === 'string' ? code : error.message) };
}

/** OpenSSL's words for the verification errors (crypto/x509/x509_txt.c), under Node's names for them. */
export const VERIFY_ERRORS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_HAS_EXPIRED: 'certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  CERT_REVOKED: 'certificate revoked',
  INVALID_CA: 'invalid CA certificate',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  HOSTNAME_MISMATCH: 'hostname mismatch',
};
