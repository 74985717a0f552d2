import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { caCertificateFile, checkHostName, ensureCa, ensureHostCertificates, hostDir } from '../../../services/common/certificates';
import { buildFolderOnce } from '../../../services/common/once';
import { tlsDir } from '../../../services/common/tlsFaults';
import { wirelab } from '../../helpers/process';
import { LAB_HOSTS, run } from '../../helpers/tls';

/**
 * The lab's certificate authority: made once per data folder, kept across restarts,
 * new after a reset, keys 0600, one CA even when several processes start together,
 * and certificates that OpenSSL itself accepts (and refuses where it should).
 */


let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-ca-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

const openssl = (args: string[]): Promise<{ code: number; output: string }> => run('openssl', args);

describe('the lab CA', () => {
  test('a root, an intermediate it signed, and a certificate per lab host that openssl verifies through the intermediate', async () => {
    const ca = await ensureCa(dataDir);
    const root = caCertificateFile(dataDir);
    const intermediate = path.join(tlsDir(dataDir), 'ca', 'intermediate.pem');
    expect(ca.subject).toMatch(/^CN=wirelab lab CA [0-9a-f]{6}, O=wirelab \(lab use only\)$/);
    for (const host of LAB_HOSTS) {
      const certs = await ensureHostCertificates(dataDir, host);
      const leaf = path.join(certs.dir, 'leaf.pem');
      const verified = await openssl(['verify', '-CAfile', root, '-untrusted', intermediate, '-verify_hostname', host, '-purpose', 'sslserver', leaf]);
      expect(verified).toMatchObject({ code: 0, output: `${leaf}: OK\n` });
      const text = (await openssl(['x509', '-in', leaf, '-noout', '-ext', 'subjectAltName,basicConstraints'])).output;
      expect(text).toContain(`DNS:${host}, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`);
      expect(text).toContain('CA:FALSE');
      // Without the intermediate a client cannot get from the host to the root: the missing-intermediate lesson.
      expect((await openssl(['verify', '-CAfile', root, leaf])).output).toContain('unable to get local issuer certificate');
    }
  });

  test('the CA vouches for .test, localhost and loopback only: a certificate for a real site fails its name constraints', async () => {
    const ca = await ensureCa(dataDir);
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const forged = await x509.X509CertificateGenerator.create({
      subject: 'CN=www.example.com',
      issuer: ca.intermediate.subject,
      publicKey: keys.publicKey,
      signingKey: ca.intermediateKey, // as if the key had leaked
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'www.example.com' }])],
    });
    const file = path.join(dataDir, 'forged.pem');
    await writeFile(file, forged.toString('pem'));
    const verified = await openssl(['verify', '-CAfile', caCertificateFile(dataDir), '-untrusted', path.join(tlsDir(dataDir), 'ca', 'intermediate.pem'), file]);
    expect(verified.code).not.toBe(0);
    expect(verified.output).toContain('permitted subtree violation');
    expect(() => checkHostName('www.example.com')).toThrow('the lab CA only vouches for names under .test and localhost, not www.example.com');
    expect(() => checkHostName('../../etc')).toThrow('not a host name');
  });

  test('keys are readable by their owner only', async () => {
    await ensureHostCertificates(dataDir, 'www.lab.test');
    const mode = async (file: string): Promise<string> => ((await stat(file)).mode & 0o777).toString(8);
    const caFolder = path.join(tlsDir(dataDir), 'ca');
    expect(await mode(path.join(caFolder, 'root.key'))).toBe('600');
    expect(await mode(path.join(caFolder, 'intermediate.key'))).toBe('600');
    expect(await mode(path.join(hostDir(dataDir, 'www.lab.test'), 'key.pem'))).toBe('600');
    // The host folder holds the host's key and no CA key.
    expect((await readdir(hostDir(dataDir, 'www.lab.test'))).sort()).toEqual(['chain.pem', 'expired.pem', 'key.pem', 'leaf.pem', 'self-signed.pem', 'wrong-name.pem']);
  });

  test('the CA survives a restart (the same certificate from another process) and a deleted data folder gives a new one', async () => {
    const first = await wirelab(['ca', '--data', dataDir, '--pem']);
    const again = await wirelab(['ca', '--data', dataDir, '--pem']);
    expect(first.code).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    expect(new X509Certificate(first.stdout).fingerprint256).toBe((await ensureCa(dataDir)).fingerprint256);

    await rm(dataDir, { recursive: true }); // what `wirelab reset` does
    const reset = await wirelab(['ca', '--data', dataDir, '--pem']);
    expect(reset.code).toBe(0);
    expect(new X509Certificate(reset.stdout).fingerprint256).not.toBe(new X509Certificate(first.stdout).fingerprint256);
  });

  test('several processes making the CA at once end with one CA and no half-built folders', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => wirelab(['ca', '--data', dataDir, '--pem'])));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
    expect(await readFile(caCertificateFile(dataDir), 'utf8')).toBe(runs[0]!.stdout);
    expect((await readdir(tlsDir(dataDir))).sort()).toEqual(['ca', 'hosts']);
    expect((await readdir(path.join(tlsDir(dataDir), 'hosts'))).filter((f) => f.includes('.building-'))).toEqual([]);
    const intermediate = new X509Certificate(await readFile(path.join(tlsDir(dataDir), 'ca', 'intermediate.pem')));
    const leaf = new X509Certificate(await readFile(path.join(hostDir(dataDir, 'www.lab.test'), 'leaf.pem')));
    expect(leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey)).toBe(true);
  });

  test('a host certificate signed by a CA that is no longer the lab\'s is made again', async () => {
    const before = await ensureHostCertificates(dataDir, 'www.lab.test');
    await rm(path.join(tlsDir(dataDir), 'ca'), { recursive: true });
    const ca = await ensureCa(dataDir);
    const after = await ensureHostCertificates(dataDir, 'www.lab.test');
    expect(after.leaf).not.toBe(before.leaf);
    expect(new X509Certificate(after.leaf).checkIssued(new X509Certificate(ca.intermediatePem))).toBe(true);
  });
});

describe('buildFolderOnce', () => {
  test('the loser of a race drops its copy and keeps the winner\'s folder', async () => {
    const target = path.join(dataDir, 'made');
    let letLoserFinish!: () => void;
    const loserMayFinish = new Promise<void>((resolve) => (letLoserFinish = resolve));
    const loser = buildFolderOnce(target, async (folder) => {
      await writeFile(path.join(folder, 'who'), 'loser');
      await loserMayFinish; // the winner renames its folder into place meanwhile
    });
    const winner = await buildFolderOnce(target, (folder) => writeFile(path.join(folder, 'who'), 'winner'));
    letLoserFinish();
    expect(winner).toBe(true);
    expect(await loser).toBe(false);
    expect(await readFile(path.join(target, 'who'), 'utf8')).toBe('winner');
    expect(await readdir(dataDir)).toEqual(['made']);
    expect(await buildFolderOnce(target, () => Promise.reject(new Error('not called')))).toBe(false);
  });

  test('a build that fails leaves nothing behind and says why', async () => {
    const target = path.join(dataDir, 'made');
    await expect(buildFolderOnce(target, () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(await readdir(dataDir)).toEqual([]);
  });
});
