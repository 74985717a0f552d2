import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { setFault, type TlsFault } from '../../../services/common/tlsFaults';
import { describeTls, type TlsDescription } from '../../../lab-runner/tls/describe';
import { startHttpsServer, type TlsTestServer } from '../../helpers/tls';
import { within } from '../../helpers/wait';

/**
 * describeTls(): what the runner's transcript says about a TLS connection, checked
 * against a real handshake with the lab's TLS server, and, for each certificate
 * lesson, against the error Node itself raises when it refuses the certificate.
 */

let server: TlsTestServer;
let ca: Buffer;
beforeAll(async () => {
  server = await startHttpsServer({ hosts: ['www.lab.test', 'shop.lab.test'] });
  ca = await readFile(server.caFile);
});
afterAll(() => server.close());
afterEach(() => setFault(server.dataDir, 'web', undefined));

/** Connect as the runner would, describe the connection, close it. */
function connect(options: tls.ConnectionOptions, host?: string): Promise<TlsDescription> {
  const described = new Promise<TlsDescription>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca, ...options }, () => {
      resolve(describeTls(socket, host));
      socket.end();
    });
    socket.on('error', reject);
  });
  return within(described, `a TLS handshake with 127.0.0.1:${server.port}`);
}

/** The error Node raises for the same connection when it does refuse the certificate. */
function refusal(options: tls.ConnectionOptions): Promise<{ code: string; message: string }> {
  const refused = new Promise<{ code: string; message: string }>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca, ...options }, () => reject(new Error('the connection was accepted')));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code!, message: err.message }));
  });
  return within(refused, `Node's refusal of the certificate from 127.0.0.1:${server.port}`);
}

test('a good connection: version, cipher, SNI, ALPN, trusted, and the chain up to the lab root', async () => {
  const seen = await connect({ servername: 'shop.lab.test', ALPNProtocols: ['http/1.1'] });
  expect(seen).toMatchObject({ protocol: 'TLSv1.3', keyExchange: 'X25519', servername: 'shop.lab.test', alpn: 'http/1.1', authorized: true, sessionReused: false });
  expect(seen.cipher).toMatch(/^TLS_AES_(128|256)_GCM_SHA(256|384)$|^TLS_CHACHA20_POLY1305_SHA256$/);
  expect(seen.authorizationError).toBeUndefined();
  expect(seen.chain.map((c) => [c.subject, c.ca, c.selfSigned])).toEqual([
    ['CN=shop.lab.test, O=wirelab (lab use only)', false, false],
    [expect.stringMatching(/^CN=wirelab lab intermediate CA [0-9a-f]{6}, O=wirelab \(lab use only\)$/), true, false],
    [expect.stringMatching(/^CN=wirelab lab CA [0-9a-f]{6}, O=wirelab \(lab use only\)$/), true, true],
  ]);
  const [leaf] = seen.chain;
  expect(leaf!.altNames).toEqual(['DNS:shop.lab.test', 'DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']);
  expect(leaf!.issuer).toBe(seen.chain[1]!.subject);
  expect(leaf!.fingerprint256).toBe(new X509Certificate(await readFile(`${server.dataDir}/tls/hosts/shop.lab.test/leaf.pem`)).fingerprint256);
  expect(Date.parse(leaf!.validFrom)).toBeLessThan(Date.now());
  expect(leaf!.validTo).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
});

test('a connection to an address sends no SNI and is checked against the address', async () => {
  const seen = await connect({}, '127.0.0.1');
  expect(seen.servername).toBeUndefined();
  expect(seen.authorized).toBe(true);
  expect(seen.chain[0]!.subject).toBe('CN=www.lab.test, O=wirelab (lab use only)');
});

test.each<[TlsFault, string, (chain: TlsDescription['chain']) => void]>([
  ['expired', 'CERT_HAS_EXPIRED', (chain) => expect(Date.parse(chain[0]!.validTo)).toBeLessThan(Date.now())],
  ['wrong-name', 'ERR_TLS_CERT_ALTNAME_INVALID', (chain) => expect(chain[0]!.altNames).toEqual(['DNS:wrong-name.lab.test'])],
  ['self-signed', 'SELF_SIGNED_CERT_IN_CHAIN', (chain) => expect(chain.map((c) => [c.subject, c.selfSigned])).toEqual([
    ['CN=www.lab.test, O=wirelab (lab use only)', false],
    ["CN=Self-signed CA of www.lab.test (not the lab's)", true],
  ])],
  ['missing-intermediate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', (chain) => expect(chain).toHaveLength(1)],
])('fault %s: not authorized, with the code and message Node gives when it refuses (%s)', async (fault, code, checkChain) => {
  await setFault(server.dataDir, 'web', fault);
  const seen = await connect({ servername: 'www.lab.test', rejectUnauthorized: false });
  const refused = await refusal({ servername: 'www.lab.test' });
  expect(seen.authorized).toBe(false);
  expect(seen.authorizationError).toEqual(refused);
  expect(seen.authorizationError!.code).toBe(code);
  checkChain(seen.chain);
});

test('tls1.0-only, with a client that allows TLS 1.0: the old version and its cipher suite show', async () => {
  await setFault(server.dataDir, 'web', 'tls1.0-only');
  const seen = await connect({ servername: 'www.lab.test', minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
  expect(seen).toMatchObject({ protocol: 'TLSv1', authorized: true });
  expect(seen.cipher).toMatch(/^TLS_ECDHE_ECDSA_WITH_AES_(128|256)_CBC_SHA$/);
});

test('a resumed session says so', async () => {
  const ticket = new Promise<Buffer>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca, servername: 'www.lab.test' });
    socket.once('session', (s: Buffer) => {
      resolve(s);
      socket.end();
    });
    socket.on('error', reject);
  });
  const session = await within(ticket, `a TLS session ticket from 127.0.0.1:${server.port}`);
  const seen = await connect({ servername: 'www.lab.test', session });
  expect(seen).toMatchObject({ sessionReused: true, authorized: true });
});
