import 'reflect-metadata'; // @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildFolderOnce } from './once';
import { caCertificateFile, caDir, tlsDir, WRONG_NAME } from './tlsFaults';

/**
 * The lab's certificate authority: a root CA, an intermediate CA that signs the hosts'
 * certificates, and for each lab host name a key and its certificates, the good one
 * and the broken ones the certificate lessons present (services/common/tls.ts).
 *
 * All of it is lab state, made at the first start into the data folder, unique to each
 * lab, kept across restarts and gone with `wirelab reset`:
 *
 *   <dataDir>/tls/ca/root.pem             the root CA: the one certificate a client trusts (`wirelab ca`)
 *   <dataDir>/tls/ca/root.key             its key; it signed the intermediate and nothing else
 *   <dataDir>/tls/ca/intermediate.pem     the intermediate CA, which signs every host certificate
 *   <dataDir>/tls/ca/intermediate.key
 *   <dataDir>/tls/hosts/<host>/key.pem    the host's key, the same in all its certificates
 *   <dataDir>/tls/hosts/<host>/chain.pem  host certificate + intermediate: what a well-set-up server sends
 *   <dataDir>/tls/hosts/<host>/leaf.pem   the host certificate alone (the missing-intermediate lesson)
 *   <dataDir>/tls/hosts/<host>/expired.pem, wrong-name.pem, self-signed.pem   (the other lessons)
 *
 * Keys are ECDSA P-256 (RFC 5480): made in a millisecond (an RSA-2048 key takes ~100 ms
 * and a lab needs about twenty), and every client the lab meets knows them, down to TLS 1.0.
 * Key files are written 0600 and are never copied out of the data folder.
 *
 * The root carries name constraints (RFC 5280 §4.2.1.10): it can vouch only for names
 * under .test (reserved for testing by RFC 6761), localhost and the loopback addresses.
 * So a student who trusts it in a browser cannot be fooled by it about any real site,
 * even if the key leaks.
 */

x509.cryptoProvider.set(webcrypto as typeof globalThis.crypto);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };

const DAY_MS = 24 * 60 * 60 * 1000;
/** The CAs outlive any class. */
const CA_VALIDITY_DAYS = 10 * 365;
/** Browsers refuse server certificates valid for more than 398 days (CA/Browser Forum). */
const HOST_VALIDITY_DAYS = 397;
/** A host certificate this close to its end is made again at the next start. */
const RENEW_BEFORE_DAYS = 30;
/** Certificates start an hour back: containers' and laptops' clocks differ a little. */
const BACKDATE_MS = 60 * 60 * 1000;

/** What the root may vouch for (its name constraints) and what every host certificate names besides the host. */
export const PERMITTED_DNS = ['test', 'localhost'] as const;
export const HOST_EXTRA_NAMES = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] } as const;
export { caCertificateFile };

export function hostDir(dataDir: string, host: string): string {
  return path.join(tlsDir(dataDir), 'hosts', checkHostName(host));
}

export interface LabCa {
  dir: string;
  /** The root certificate (PEM): what clients trust. */
  rootPem: string;
  /** The root's subject, unique to this lab: `CN=wirelab lab CA 3f9a1c, O=wirelab (lab use only)`. */
  subject: string;
  /** The root's SHA-256 fingerprint, `AB:CD:...`, as browsers and `openssl x509 -fingerprint -sha256` show it. */
  fingerprint256: string;
  /** The root's common name (`wirelab lab CA 3f9a1c`): the nickname to remove it by from a trust store. */
  commonName: string;
  validTo: Date;
  intermediatePem: string;
  intermediate: x509.X509Certificate;
  intermediateKey: CryptoKey;
}

/**
 * The lab's CA, made if the data folder has none yet. Safe to call from several
 * processes at once on one data folder: the CA is built in a temporary folder and
 * renamed into place, and every caller ends up with the one that won.
 */
export async function ensureCa(dataDir: string): Promise<LabCa> {
  return oneAtATime(`ca:${path.resolve(dataDir)}`, async () => {
    await buildFolderOnce(caDir(dataDir), makeCa);
    return loadCa(dataDir);
  });
}

async function makeCa(folder: string): Promise<void> {
  const now = Date.now();
  // A short random tag in the name tells this lab's CA from another lab's in a trust store.
  const tag = randomBytes(3).toString('hex');
  const validity = { notBefore: now - BACKDATE_MS, notAfter: now + CA_VALIDITY_DAYS * DAY_MS };
  const rootKeys = await newKeys();
  // pathLength 1: the root signs one level of CA (the intermediate), which signs hosts only.
  const root = await caCertificate(`CN=wirelab lab CA ${tag}, O=wirelab (lab use only)`, rootKeys, { pathLength: 1, ...validity, constrained: true });
  const intermediateKeys = await newKeys();
  const intermediate = await caCertificate(`CN=wirelab lab intermediate CA ${tag}, O=wirelab (lab use only)`, intermediateKeys, {
    pathLength: 0,
    ...validity,
    signer: { certificate: root, key: rootKeys.privateKey },
  });
  await writeFile(path.join(folder, 'root.pem'), root.toString('pem') + '\n');
  await writeKey(path.join(folder, 'root.key'), rootKeys.privateKey);
  await writeFile(path.join(folder, 'intermediate.pem'), intermediate.toString('pem') + '\n');
  await writeKey(path.join(folder, 'intermediate.key'), intermediateKeys.privateKey);
}

async function loadCa(dataDir: string): Promise<LabCa> {
  const dir = caDir(dataDir);
  const rootPem = await readFile(path.join(dir, 'root.pem'), 'utf8');
  const intermediatePem = await readFile(path.join(dir, 'intermediate.pem'), 'utf8');
  const root = new X509Certificate(rootPem);
  return {
    dir,
    rootPem,
    subject: root.subject.split('\n').join(', '),
    commonName: /^CN=(.*)$/m.exec(root.subject)?.[1] ?? root.subject,
    fingerprint256: root.fingerprint256,
    validTo: new Date(root.validTo),
    intermediatePem,
    intermediate: new x509.X509Certificate(intermediatePem),
    intermediateKey: await readKey(path.join(dir, 'intermediate.key')),
  };
}

/** A host's key and the certificates it can present (PEM texts, leaf first in each chain). */
export interface HostCertificates {
  host: string;
  dir: string;
  key: string;
  /** Host certificate + intermediate: the right thing to send. */
  chain: string;
  /** The host certificate without the intermediate a client needs to reach the root. */
  leaf: string;
  /** Like `chain`, but the host certificate's validity ended the day before it was made. */
  expired: string;
  /** Like `chain`, but made out to wrong-name.lab.test only. */
  wrongName: string;
  /** The host certificate signed by a CA no client trusts (not the lab's), sent with that CA. */
  selfSigned: string;
}

const HOST_FILES = { key: 'key.pem', chain: 'chain.pem', leaf: 'leaf.pem', expired: 'expired.pem', wrongName: 'wrong-name.pem', selfSigned: 'self-signed.pem' } as const;

/**
 * The certificates of `host` (a lab name such as www.lab.test), made by the lab CA if the
 * data folder has none for it yet, or made again when they are about to expire or were
 * signed by a CA that is no longer the lab's. Safe to call from several processes at once.
 */
export async function ensureHostCertificates(dataDir: string, host: string): Promise<HostCertificates> {
  const dir = hostDir(dataDir, host);
  return oneAtATime(`host:${path.resolve(dir)}`, async () => {
    const ca = await ensureCa(dataDir);
    if (existsSync(dir) && !(await stillGood(dir, ca))) await rm(dir, { recursive: true, force: true });
    await buildFolderOnce(dir, (folder) => makeHost(folder, host.toLowerCase(), ca));
    const files = await Promise.all(Object.values(HOST_FILES).map((file) => readFile(path.join(dir, file), 'utf8')));
    const [key, chain, leaf, expired, wrongName, selfSigned] = files as [string, string, string, string, string, string];
    return { host: host.toLowerCase(), dir, key, chain, leaf, expired, wrongName, selfSigned };
  });
}

/** A host's certificate is kept while it is the lab CA's and has more than RENEW_BEFORE_DAYS to live. */
async function stillGood(dir: string, ca: LabCa): Promise<boolean> {
  try {
    const leaf = new X509Certificate(await readFile(path.join(dir, HOST_FILES.leaf), 'utf8'));
    const intermediate = new X509Certificate(ca.intermediatePem);
    return leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey) && Date.parse(leaf.validTo) - Date.now() > RENEW_BEFORE_DAYS * DAY_MS;
  } catch {
    return false; // unreadable or half there: make it again
  }
}

async function makeHost(folder: string, host: string, ca: LabCa): Promise<void> {
  const now = Date.now();
  const keys = await newKeys();
  const intermediate = ca.intermediate.toString('pem') + '\n';
  const sign = (names: { dns: readonly string[]; ip: readonly string[] }, notBefore: number, notAfter: number): Promise<string> =>
    hostCertificate({ host: names.dns[0]!, names, publicKey: keys.publicKey, issuer: ca.intermediate, signingKey: ca.intermediateKey, notBefore, notAfter });
  const names = { dns: [host, ...HOST_EXTRA_NAMES.dns.filter((n) => n !== host)], ip: HOST_EXTRA_NAMES.ip };
  const leaf = await sign(names, now - BACKDATE_MS, now + HOST_VALIDITY_DAYS * DAY_MS);
  const expired = await sign(names, now - 90 * DAY_MS, now - DAY_MS);
  const wrongName = await sign({ dns: [WRONG_NAME], ip: [] }, now - BACKDATE_MS, now + HOST_VALIDITY_DAYS * DAY_MS);

  // The self-signed lesson: a CA of the server's own making, which no client trusts.
  const strangerKeys = await newKeys();
  const stranger = await caCertificate(`CN=Self-signed CA of ${host} (not the lab's)`, strangerKeys, {
    pathLength: 0,
    notBefore: now - BACKDATE_MS,
    notAfter: now + HOST_VALIDITY_DAYS * DAY_MS,
  });
  const strangers = await hostCertificate({
    host,
    names,
    publicKey: keys.publicKey,
    issuer: stranger,
    signingKey: strangerKeys.privateKey,
    notBefore: now - BACKDATE_MS,
    notAfter: now + HOST_VALIDITY_DAYS * DAY_MS,
  });

  await writeKey(path.join(folder, HOST_FILES.key), keys.privateKey);
  await writeFile(path.join(folder, HOST_FILES.leaf), leaf);
  await writeFile(path.join(folder, HOST_FILES.chain), leaf + intermediate);
  await writeFile(path.join(folder, HOST_FILES.expired), expired + intermediate);
  await writeFile(path.join(folder, HOST_FILES.wrongName), wrongName + intermediate);
  await writeFile(path.join(folder, HOST_FILES.selfSigned), strangers + stranger.toString('pem') + '\n');
}

interface CaRequest {
  pathLength: number;
  notBefore: number;
  notAfter: number;
  /** The CA that signs this one; none for a root, which signs itself. */
  signer?: { certificate: x509.X509Certificate; key: CryptoKey };
  /** Carry the lab's name constraints (the root). */
  constrained?: boolean;
}

/** A CA certificate (RFC 5280 §4.2.1.9): it may sign certificates, down `pathLength` more CA levels. */
async function caCertificate(name: string, keys: CryptoKeyPair, r: CaRequest): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: name,
    issuer: r.signer?.certificate.subject ?? name,
    publicKey: keys.publicKey,
    signingKey: r.signer?.key ?? keys.privateKey,
    notBefore: new Date(r.notBefore),
    notAfter: new Date(r.notAfter),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, r.pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ...(r.constrained ? [nameConstraints()] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(r.signer ? [await x509.AuthorityKeyIdentifierExtension.create(r.signer.certificate.publicKey)] : []),
    ],
  });
}

interface HostCertificateRequest {
  host: string;
  names: { dns: readonly string[]; ip: readonly string[] };
  publicKey: CryptoKey;
  issuer: x509.X509Certificate;
  signingKey: CryptoKey;
  notBefore: number;
  notAfter: number;
}

/** A server certificate (RFC 5280 §4.2): names in subjectAltName, for TLS servers only, no CA. */
async function hostCertificate(r: HostCertificateRequest): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${r.host}, O=wirelab (lab use only)`,
    issuer: r.issuer.subject,
    publicKey: r.publicKey,
    signingKey: r.signingKey,
    notBefore: new Date(r.notBefore),
    notAfter: new Date(r.notAfter),
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...r.names.dns.map((value) => ({ type: 'dns' as const, value })), ...r.names.ip.map((value) => ({ type: 'ip' as const, value }))]),
      await x509.SubjectKeyIdentifierExtension.create(r.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(r.issuer.publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

/**
 * The root's name constraints: permitted DNS names under .test and localhost, and the
 * loopback addresses 127.0.0.0/8 and ::1 (an address and its mask, RFC 5280 §4.2.1.10).
 * @peculiar/x509 has no class for this extension, so its value is written out in DER.
 */
function nameConstraints(): x509.Extension {
  const subtree = (tag: number, base: Buffer): Buffer => der(SEQUENCE, der(tag, base));
  const ipv6Loopback = Buffer.concat([Buffer.alloc(15), Buffer.from([1]), Buffer.alloc(16, 0xff)]);
  const permitted = [
    ...PERMITTED_DNS.map((name) => subtree(DNS_NAME, Buffer.from(name, 'ascii'))),
    subtree(IP_ADDRESS, Buffer.from([127, 0, 0, 0, 255, 0, 0, 0])),
    subtree(IP_ADDRESS, ipv6Loopback),
  ];
  return new x509.Extension(ID_CE_NAME_CONSTRAINTS, true, new Uint8Array(der(SEQUENCE, der(PERMITTED_SUBTREES, ...permitted))));
}

const ID_CE_NAME_CONSTRAINTS = '2.5.29.30';
const SEQUENCE = 0x30;
/** Context-specific tags: [0] permittedSubtrees; GeneralName's [2] dNSName and [7] iPAddress. */
const PERMITTED_SUBTREES = 0xa0;
const DNS_NAME = 0x82;
const IP_ADDRESS = 0x87;

/** One DER element: tag, definite length, contents (X.690 §8.1). */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

/** A host name the lab CA can vouch for: under .test, or localhost. Anything else is refused here, not by a client later. */
export function checkHostName(host: string): string {
  const name = host.toLowerCase();
  const label = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
  if (name.length > 253 || !new RegExp(`^${label}(?:\\.${label})*$`).test(name)) throw new Error(`not a host name: ${JSON.stringify(host)}`);
  if (!PERMITTED_DNS.some((p) => name === p || name.endsWith(`.${p}`))) {
    throw new Error(`the lab CA only vouches for names under .test and localhost, not ${name}`);
  }
  return name;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A private key as PKCS #8 PEM, readable by its owner only. */
async function writeKey(file: string, key: CryptoKey): Promise<void> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  await writeFile(file, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n', { mode: 0o600 });
}

async function readKey(file: string): Promise<CryptoKey> {
  const pkcs8 = x509.PemConverter.decodeFirst(await readFile(file, 'utf8'));
  return webcrypto.subtle.importKey('pkcs8', pkcs8, KEY_ALGORITHM, false, ['sign']);
}

/**
 * One run of `work` per key at a time in this process: the embedded lab starts its
 * services together, and they would otherwise all build the same folders at once
 * (harmless, the renames sort it out, but wasted). Other processes are handled by
 * buildFolderOnce's rename.
 */
const running = new Map<string, Promise<unknown>>();
function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const pending = running.get(key) as Promise<T> | undefined;
  if (pending) return pending;
  const started = work().finally(() => running.delete(key));
  running.set(key, started);
  return started;
}
