import { httpExecutor } from '../../../lab-runner/executors/http';
import { tlsExecutor } from '../../../lab-runner/executors/tls';
import type { TlsHandshake, WireEvent } from '../../../lab-runner/wire';
import { startLab, type Lab } from '../../helpers/lab';

/**
 * `http:` with https:// URLs, and the `tls:` executor, against the embedded lab's HTTPS
 * (www.lab.test:443) and its certificate lessons (the `tls-fault` lab step): the handshake is a transcript event of its own, the
 * request and response after it are marked encrypted, and each broken certificate is a
 * failure with the client's own code, which a step can expect.
 */

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(() => lab.stop());
afterEach(() => lab.fault('http', 'none'));

const kinds = (events: WireEvent[]): string[] => events.map((e) => `${e.kind}${e.encrypted ? ' (encrypted)' : ''}`);
const handshakeOf = (events: WireEvent[]): TlsHandshake => events.find((e) => e.kind === 'tls')!.tls!;

test('https://www.lab.test/: DNS, connect, the handshake as its own event, then HTTP inside TLS', async () => {
  const { output, error, events } = await lab.step(httpExecutor, { url: 'https://www.lab.test/' });
  expect(error).toBeUndefined();
  expect(output).toMatchObject({ status: 200, body: expect.stringContaining('<title>The lab · wirelab') });
  expect(kinds(events)).toEqual(['send', 'recv', 'connect', 'tls', 'send (encrypted)', 'recv (encrypted)']);
  const [, , connect, handshake, request, response] = events as [WireEvent, WireEvent, WireEvent, WireEvent, WireEvent, WireEvent];
  expect(connect).toMatchObject({ to: 'www.lab.test:443', protocol: 'http' });
  expect(handshake).toMatchObject({ from: 'client', to: 'www.lab.test:443', protocol: 'tls', transport: 'tcp' });
  expect(handshake.summary).toBe('TLSv1.3 TLS_AES_256_GCM_SHA384 · SNI www.lab.test · ALPN http/1.1 · certificate trusted');
  // The runner is the client: it shows the plaintext it sent and read inside TLS.
  expect(request.text).toMatch(/^GET \/ HTTP\/1\.1\r\nHost: www\.lab\.test\r\n/);
  expect(response.summary).toBe('200 OK');

  const tls = output!.tls as TlsHandshake;
  expect(tls).toEqual(handshake.tls);
  expect(tls).toMatchObject({ version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', keyExchange: 'X25519', servername: 'www.lab.test', alpn: 'http/1.1', authorized: true, resumed: false });
  expect(tls.error).toBeUndefined();
  // The chain: the host's certificate, the intermediate it came with, the lab root the client trusts.
  expect(tls.chain.map((c) => c.subject)).toEqual([
    expect.stringMatching(/^CN=www\.lab\.test, O=wirelab/),
    expect.stringMatching(/^CN=wirelab lab intermediate CA [0-9a-f]{6}/),
    expect.stringMatching(/^CN=wirelab lab CA [0-9a-f]{6}/),
  ]);
  expect(tls.certificate).toEqual(tls.chain[0]);
  expect(tls.certificate!.issuer).toBe(tls.chain[1]!.subject);
  expect(tls.certificate!.san).toEqual(expect.arrayContaining(['DNS:www.lab.test', 'IP Address:127.0.0.1']));
  expect(tls.certificate!.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  expect(Date.parse(tls.certificate!.validTo)).toBeGreaterThan(Date.now());
  expect(tls.chain[2]).toMatchObject({ ca: true, selfSigned: true });
  // Laid out the way openssl s_client shows a connection.
  expect(handshake.text).toContain('certificate chain');
  expect(handshake.text).toMatch(/ 0 s: CN=www\.lab\.test.*\n   i: CN=wirelab lab intermediate CA/);
});

test('https://shop.lab.test/: the proxy ends TLS with its own certificate, and the app behind it answers', async () => {
  const { output, error, events } = await lab.step(httpExecutor, { url: 'https://shop.lab.test/' });
  expect(error).toBeUndefined();
  expect(output).toMatchObject({ status: 200, tls: { version: 'TLSv1.3', servername: 'shop.lab.test', alpn: 'http/1.1', authorized: true } });
  expect((output!.tls as TlsHandshake).certificate!.subject).toMatch(/^CN=shop\.lab\.test, O=wirelab/);
  expect(kinds(events)).toEqual(['send', 'recv', 'connect', 'tls', 'send (encrypted)', 'recv (encrypted)']);
  // A lesson on the proxy is the proxy's alone: www keeps its good certificate.
  await lab.fault('proxy', 'expired');
  expect((await lab.step(httpExecutor, { url: 'https://shop.lab.test/' })).error!.code).toBe('CERT_HAS_EXPIRED');
  expect((await lab.step(httpExecutor, { url: 'https://www.lab.test/' })).output).toMatchObject({ status: 200 });
  await lab.fault('proxy', 'none');
});

/** The certificate lessons, and what Node (as curl and browsers do, in their words) says to each. */
test.each([
  ['expired', 'CERT_HAS_EXPIRED', 'certificate has expired'],
  ['wrong-name', 'ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: Host: www.lab.test. is not in the cert's altnames: DNS:wrong-name.lab.test"],
  ['self-signed', 'SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
  ['missing-intermediate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
] as const)('fault %s: the client refuses the certificate with %s, and the failure carries the handshake', async (fault, code, message) => {
  await lab.fault('http', fault);
  const { output, error, events } = await lab.step(httpExecutor, { url: 'https://www.lab.test/' });
  expect(output).toBeUndefined();
  expect(error!.code).toBe(code);
  expect(error!.message).toBe(`www.lab.test:443: the client refused the certificate: ${message} (${code})`);
  const tls = error!.output!.tls as TlsHandshake;
  expect(tls).toMatchObject({ version: 'TLSv1.3', authorized: false, error: code, message });
  expect(tls.certificate?.subject).toMatch(/^CN=/);
  // No request left the client: the handshake is the last thing on the wire.
  expect(kinds(events)).toEqual(['send', 'recv', 'connect', 'tls']);
  expect(handshakeOf(events)).toEqual(tls);
  expect(events[3]!.summary).toBe(`TLSv1.3 TLS_AES_256_GCM_SHA384 · SNI www.lab.test · ALPN http/1.1 · certificate refused: ${message}`);
});

test('the expired certificate says when it ended; insecure: true carries on, knowing why it should not', async () => {
  await lab.fault('http', 'expired');
  const { output, events } = await lab.step(httpExecutor, { url: 'https://www.lab.test/', tls: { insecure: true } });
  expect(output).toMatchObject({ status: 200, tls: { authorized: false, error: 'CERT_HAS_EXPIRED', message: 'certificate has expired' } });
  const tls = output!.tls as TlsHandshake;
  expect(Date.parse(tls.certificate!.validTo)).toBeLessThan(Date.now());
  expect(kinds(events)).toEqual(['send', 'recv', 'connect', 'tls', 'send (encrypted)', 'recv (encrypted)']);
  expect(events[3]!.summary).toMatch(/certificate not trusted, ignored: certificate has expired$/);
});

test('tls1.0-only: no version in common; the handshake fails with the alert the server sent', async () => {
  await lab.fault('http', 'tls1.0-only');
  const { error, events } = await lab.step(httpExecutor, { url: 'https://www.lab.test/' });
  expect(error!.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  expect(error!.output!.tls).toEqual({ servername: 'www.lab.test', authorized: false, error: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', message: 'tlsv1 alert protocol version', chain: [] });
  expect(events.at(-1)).toMatchObject({ kind: 'tls', summary: 'TLS handshake failed: tlsv1 alert protocol version (ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION)' });
});

test('ca: system is a client never given the lab CA: the lab certificate leads to no CA it knows', async () => {
  const { error } = await lab.step(httpExecutor, { url: 'https://www.lab.test/', tls: { ca: 'system' } });
  expect(error!.code).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  expect(error!.output!.tls).toMatchObject({ authorized: false, message: 'unable to get local issuer certificate' });
});

test('servername: the name asked for (SNI) and checked, whatever the URL says', async () => {
  const { error, events } = await lab.step(httpExecutor, { url: 'https://www.lab.test/', tls: { servername: 'shop.lab.test' } });
  expect(error!.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  expect(handshakeOf(events)).toMatchObject({ servername: 'shop.lab.test', authorized: false });
});

test('an address in the URL: no SNI (RFC 6066 3), and the certificate is checked against that address', async () => {
  const address = (await lab.step(tlsExecutor, { host: 'www.lab.test' })).output!.address as string;
  const { error } = await lab.step(httpExecutor, { url: `https://${address}/` });
  expect(error!.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  expect(error!.output!.tls).not.toHaveProperty('servername');
  expect((error!.output!.tls as TlsHandshake).message).toContain(`IP: ${address} is not in the cert's list`);
});

test('maxVersion: TLSv1.2 agrees on TLS 1.2 and an ECDHE cipher suite', async () => {
  const { output } = await lab.step(httpExecutor, { url: 'https://www.lab.test/', tls: { maxVersion: 'TLSv1.2' } });
  expect(output).toMatchObject({ status: 200, tls: { version: 'TLSv1.2', cipher: expect.stringMatching(/^TLS_ECDHE_ECDSA_WITH_/) } });
});

test('resume: the second connection of a scenario resumes the first one\'s session', async () => {
  const session = { resources: new Map() };
  const first = await lab.step(httpExecutor, { url: 'https://www.lab.test/', tls: { resume: true } }, { session });
  const second = await lab.step(httpExecutor, { url: 'https://www.lab.test/', tls: { resume: true } }, { session });
  const third = await lab.step(httpExecutor, { url: 'https://www.lab.test/' }, { session });
  for (const r of session.resources.values()) r.close();
  expect(first.output!.tls).toMatchObject({ resumed: false });
  expect(second.output!.tls).toMatchObject({ resumed: true, authorized: true, version: 'TLSv1.3' });
  expect(handshakeOf(second.events)).toMatchObject({ resumed: true });
  expect(second.events.find((e) => e.kind === 'tls')!.summary).toContain('session resumed');
  expect(third.output!.tls).toMatchObject({ resumed: false }); // not asked to
});

test('a kept-alive https connection: one handshake, two requests inside it', async () => {
  const session = { resources: new Map() };
  const first = await lab.step(httpExecutor, { url: 'https://www.lab.test/', connection: 'keep' }, { session });
  const second = await lab.step(httpExecutor, { url: 'https://www.lab.test/', connection: 'keep' }, { session });
  for (const r of session.resources.values()) r.close();
  expect(kinds(first.events)).toEqual(['send', 'recv', 'connect', 'tls', 'send (encrypted)', 'recv (encrypted)']);
  expect(kinds(second.events)).toEqual(['send', 'recv', 'send (encrypted)', 'recv (encrypted)']);
  expect(second.output).toMatchObject({ connection: { reused: true, requests: 2 }, tls: first.output!.tls });
});

test('an https:// URL to a port that speaks no TLS fails the handshake, and says so', async () => {
  const { error } = await lab.step(httpExecutor, { url: 'https://mail.lab.test:25/' });
  expect(error!.code).toMatch(/^ERR_SSL_|ECONNRESET/);
  expect(error!.message).toMatch(/^TLS handshake with mail\.lab\.test:25 failed: /);
});

test('tls: connect, handshake, report, close; like openssl s_client', async () => {
  const { output, events } = await lab.step(tlsExecutor, { host: 'www.lab.test', alpn: ['h2', 'http/1.1'] });
  expect(output).toMatchObject({ tls: { version: 'TLSv1.3', alpn: 'http/1.1', authorized: true, certificate: { subject: expect.stringMatching(/^CN=www\.lab\.test/) } } });
  expect(kinds(events)).toEqual(['send', 'recv', 'connect', 'tls']);
  await lab.fault('http', 'wrong-name');
  const refused = await lab.step(tlsExecutor, { host: 'www.lab.test' });
  expect(refused.error!.output!.tls).toMatchObject({ error: 'ERR_TLS_CERT_ALTNAME_INVALID', certificate: { san: ['DNS:wrong-name.lab.test'] } });
  const looked = await lab.step(tlsExecutor, { host: 'www.lab.test', insecure: true });
  expect(looked.output!.tls).toMatchObject({ authorized: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});
