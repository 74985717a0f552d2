import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The certificate lessons (faults), and where the lab's TLS state is kept. A light
 * module (no X.509 library): the runner and `main.js tls-fault` switch faults with it,
 * the services read them through tls.ts, and certificates.ts makes the CA at the place
 * named here.
 */

/** The lab's TLS state: the CA and the host certificates (certificates.ts), the faults (here). */
export function tlsDir(dataDir: string): string {
  return path.join(dataDir, 'tls');
}

/** Where the lab's CA is (certificates.ts makes it). */
export function caDir(dataDir: string): string {
  return path.join(tlsDir(dataDir), 'ca');
}

/** The root CA's certificate: what a client is given to trust the lab (`curl --cacert`, NODE_EXTRA_CA_CERTS). */
export function caCertificateFile(dataDir: string): string {
  return path.join(caDir(dataDir), 'root.pem');
}

/** The name the wrong-name lesson's certificate is made out to. */
export const WRONG_NAME = 'wrong-name.lab.test';

/** The certificate lessons. Each is undone by setting no fault, and by `wirelab reset`. */
export const TLS_FAULTS = ['expired', 'wrong-name', 'self-signed', 'missing-intermediate', 'tls1.0-only'] as const;
export type TlsFault = (typeof TLS_FAULTS)[number];

/** What a client meets under each fault, in a sentence (logs, `wirelab` help). */
export const TLS_FAULT_LESSONS: Record<TlsFault, string> = {
  expired: "the certificate's validity ended the day before it was made",
  'wrong-name': `the certificate is made out to ${WRONG_NAME}, not to the host the client asked for`,
  'self-signed': "the certificate comes from a CA of the server's own making, which no client trusts",
  'missing-intermediate': 'the server sends its certificate without the intermediate CA that links it to the root',
  'tls1.0-only': 'the server speaks only TLS 1.0, which clients refuse today (RFC 8996)',
};

export function isTlsFault(text: string): text is TlsFault {
  return (TLS_FAULTS as readonly string[]).includes(text);
}

/** Where a service's fault is kept: <dataDir>/tls/faults/<service>. */
export function faultFile(dataDir: string, service: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(service)) throw new Error(`not a lab service name: ${JSON.stringify(service)}`);
  return path.join(tlsDir(dataDir), 'faults', service);
}

/**
 * Make `service` present a broken certificate (or speak TLS 1.0 only), or with no fault
 * put it right again. The file is replaced by a rename, so a service never reads half of it.
 */
export async function setFault(dataDir: string, service: string, fault: TlsFault | undefined): Promise<void> {
  const file = faultFile(dataDir, service);
  if (fault === undefined) return rm(file, { force: true });
  if (!isTlsFault(fault)) throw new Error(`no TLS fault named ${JSON.stringify(fault)}; the faults are ${TLS_FAULTS.join(', ')}`);
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(temp, fault + '\n');
  await rename(temp, file);
}

/** The fault file's word, or '' when there is none. */
export function readFault(dataDir: string, service: string): string {
  try {
    return readFileSync(faultFile(dataDir, service), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** The services a fault is on for: the names in <dataDir>/tls/faults/. */
export function faultsOn(dataDir: string): string[] {
  try {
    return readdirSync(path.join(tlsDir(dataDir), 'faults')).filter((name) => !name.includes('.')); // not a half-written temp file
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Switch every fault of the lab off; resolves with the services one was on for. */
export async function clearFaults(dataDir: string): Promise<string[]> {
  const names = faultsOn(dataDir);
  await Promise.all(names.map((name) => rm(faultFile(dataDir, name), { force: true })));
  return names;
}
