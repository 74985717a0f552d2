import path from 'node:path';
import { ServiceTls } from '../../../services/common/tls';
import { setFault, TLS_FAULTS, type TlsFault } from '../../../services/common/tlsFaults';
import { createLogger } from '../../../services/common/logger';
import { built } from '../../helpers/paths';
import { RawSocket } from '../../helpers/socket';
import { clients, LAB_HOSTS, run, startHttpsServer, startStartTlsServer, type TlsTestServer } from '../../helpers/tls';

/**
 * TLS for a service (services/common/tls.ts) against real clients: curl, openssl
 * s_client, Python's ssl and smtplib, Node's tls. Each certificate lesson gives every
 * client's own words, takes effect from the next connection, and is undone again.
 */

const TLS10 = ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0'];
const NODE_TLS10 = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

/**
 * What each client says to each fault, as measured here (curl 7.88, OpenSSL 3.0, Python
 * 3.11, Node 20). Under tls1.0-only, curl and openssl offer TLS 1.0 too but refuse its
 * SHA-1 signature at their security level; Node and Python offer 1.2 and up only.
 */
const CLIENT_WORDS: Record<TlsFault, { curl: string; node: string; openssl: string; python: string }> = {
  expired: {
    curl: 'curl: (60) SSL certificate problem: certificate has expired',
    node: 'CERT_HAS_EXPIRED: certificate has expired',
    openssl: 'verify error:num=10:certificate has expired',
    python: 'certificate verify failed: certificate has expired',
  },
  'wrong-name': {
    curl: "curl: (60) SSL: no alternative certificate subject name matches target host name 'www.lab.test'",
    node: "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: Host: www.lab.test. is not in the cert's altnames: DNS:wrong-name.lab.test",
    openssl: 'verify error:num=62:hostname mismatch',
    python: "certificate verify failed: Hostname mismatch, certificate is not valid for 'www.lab.test'.",
  },
  'self-signed': {
    curl: 'curl: (60) SSL certificate problem: self-signed certificate in certificate chain',
    node: 'SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain',
    openssl: 'verify error:num=19:self-signed certificate in certificate chain',
    python: 'certificate verify failed: self-signed certificate in certificate chain',
  },
  'missing-intermediate': {
    curl: 'curl: (60) SSL certificate problem: unable to get local issuer certificate',
    node: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
    openssl: 'verify error:num=20:unable to get local issuer certificate',
    python: 'certificate verify failed: unable to get local issuer certificate',
  },
  'tls1.0-only': {
    // curl: (35) OpenSSL/3.0.19: error:0A00014D:SSL routines::legacy sigalg disallowed or unsupported
    curl: 'error:0A00014D:SSL routines::legacy sigalg disallowed or unsupported',
    node: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    openssl: 'legacy sigalg disallowed or unsupported',
    python: '[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version',
  },
};

describe('a service on TLS with the lab CA', () => {
  let server: TlsTestServer;
  beforeAll(async () => {
    server = await startHttpsServer({ hosts: LAB_HOSTS });
  });
  afterAll(() => server.close());
  afterEach(() => setFault(server.dataDir, 'web', undefined));

  test.each(LAB_HOSTS)('openssl s_client -verify_return_error trusts %s, and SNI picks its certificate', async (host) => {
    const r = await clients.openssl(server.port, host, server.caFile);
    expect(r.output).toContain('Verification: OK');
    expect(r.output).toContain(`Peer certificate: CN = ${host}, O = wirelab (lab use only)`);
    expect(r.output).toContain('Protocol version: TLSv1.3');
    expect(r.code).toBe(0);
  });

  test('curl --cacert, Node with ca, and Python\'s ssl trust it too', async () => {
    expect(await clients.curl(server.port, 'shop.lab.test', server.caFile)).toMatchObject({ code: 0, stdout: 'hello shop.lab.test\n' });
    expect((await clients.node(server.port, 'mail.example.test', server.caFile)).output).toBe('ok TLSv1.3');
    expect((await clients.python(server.port, 'ftp.lab.test', server.caFile)).stdout).toBe('ok TLSv1.3\n');
  });

  test('a client that names no host (an address) gets the first host\'s certificate, valid for 127.0.0.1 and localhost', async () => {
    expect((await run('curl', ['-sS', '--cacert', server.caFile, `https://127.0.0.1:${server.port}/`])).stdout).toBe('hello no-sni\n');
    expect((await run('curl', ['-sS', '--cacert', server.caFile, `https://localhost:${server.port}/`])).stdout).toBe('hello localhost\n');
  });

  test.each([...TLS_FAULTS])('fault %s: every client refuses in its own words, from the next connection on, and setting no fault undoes it', async (fault) => {
    await setFault(server.dataDir, 'web', fault);
    const words = CLIENT_WORDS[fault];
    const said = {
      curl: await clients.curl(server.port, 'www.lab.test', server.caFile),
      node: await clients.node(server.port, 'www.lab.test', server.caFile),
      openssl: await clients.openssl(server.port, 'www.lab.test', server.caFile),
      python: await clients.python(server.port, 'www.lab.test', server.caFile),
    };
    for (const [client, r] of Object.entries(said)) {
      expect({ client, output: r.output }).toEqual({ client, output: expect.stringContaining(words[client as keyof typeof words]) });
      expect({ client, code: r.code }).not.toEqual({ client, code: 0 });
    }
    expect(server.logs.matching(new RegExp(`web info tls fault on fault=${fault.replace('.', '\\.')} lesson=`))).toHaveLength(1);

    await setFault(server.dataDir, 'web', undefined);
    expect(await clients.curl(server.port, 'www.lab.test', server.caFile)).toMatchObject({ code: 0, stdout: 'hello www.lab.test\n' });
    expect(server.logs.matching(new RegExp(`web info tls fault off fault=${fault.replace('.', '\\.')}`)).length).toBeGreaterThan(0);
  });

  test('tls1.0-only really speaks TLS 1.0 to a client that allows it: openssl -tls1, curl --tlsv1.0, Node', async () => {
    await setFault(server.dataDir, 'web', 'tls1.0-only');
    const openssl = await clients.openssl(server.port, 'www.lab.test', server.caFile, TLS10);
    expect(openssl.output).toContain('Protocol version: TLSv1\n');
    expect(openssl.output).toContain('Verification: OK');
    const curl = await clients.curl(server.port, 'www.lab.test', server.caFile, ['--tlsv1.0', '--tls-max', '1.0', '--ciphers', 'DEFAULT@SECLEVEL=0']);
    expect(curl.stdout).toBe('hello www.lab.test\n');
    expect((await clients.node(server.port, 'www.lab.test', server.caFile, NODE_TLS10)).output).toBe('ok TLSv1');
    // A current client is turned away, and the log says whose side is out of date.
    await clients.node(server.port, 'www.lab.test', server.caFile);
    await server.logs.waitFor(/tls handshake failed .*reason="unsupported protocol".* fault=tls1\.0-only why="the client does not offer TLS 1\.0/);
  });

  test('a TLS 1.0 client is refused by default, and the log line names the reason and the client', async () => {
    const openssl = await clients.openssl(server.port, 'www.lab.test', server.caFile, TLS10);
    expect(openssl.code).not.toBe(0);
    expect(openssl.output).toContain('tlsv1 alert protocol version');
    expect((await clients.node(server.port, 'www.lab.test', server.caFile, NODE_TLS10)).output).toContain('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    // One line for each of the two clients; no fault is on (the previous test's lines say fault=tls1.0-only).
    await server.logs.waitFor(
      /web warn tls handshake failed client=127\.0\.0\.1:\d+ reason="unsupported protocol" code=ERR_SSL_UNSUPPORTED_PROTOCOL why="the client offered only TLS versions this server refuses \(it speaks TLS 1\.2 and 1\.3\)"$/,
      { count: 2 },
    );
  });

  test('plain HTTP to the TLS port is logged as such', async () => {
    expect((await run('curl', ['-sS', `http://127.0.0.1:${server.port}/`])).code).not.toBe(0);
    await server.logs.waitFor(/tls handshake failed client=127\.0\.0\.1:\d+ reason="http request" code=ERR_SSL_HTTP_REQUEST why="the client sent plain HTTP to a TLS port/);
  });

  test('a fault set by `main.js tls-fault` from another process (the Docker backend\'s docker exec) applies to the next connection', async () => {
    const env = { WIRELAB_DATA: server.dataDir };
    expect(await run(process.execPath, [built('services/main.js'), 'tls-fault', 'web', 'expired'], { env })).toMatchObject({ code: 0, stdout: 'web: tls fault expired\n' });
    expect((await clients.node(server.port, 'www.lab.test', server.caFile)).output).toBe('CERT_HAS_EXPIRED: certificate has expired');
    expect(await run(process.execPath, [built('services/main.js'), 'tls-fault', 'web'], { env })).toMatchObject({ code: 0, stdout: 'web: tls fault expired\n' });
    expect(await run(process.execPath, [built('services/main.js'), 'tls-fault', 'web', 'none'], { env })).toMatchObject({ code: 0, stdout: 'web: tls fault none\n' });
    expect((await clients.node(server.port, 'www.lab.test', server.caFile)).output).toBe('ok TLSv1.3');
    const bad = await run(process.execPath, [built('services/main.js'), 'tls-fault', 'web', 'broken'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage: tls-fault SERVICE [expired|wrong-name|self-signed|missing-intermediate|tls1.0-only|none]');
  });

  test('an unknown word in the fault file is logged once and ignored', async () => {
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(path.join(server.dataDir, 'tls', 'faults'), { recursive: true });
    await writeFile(path.join(server.dataDir, 'tls', 'faults', 'web'), 'expird\n');
    expect((await clients.node(server.port, 'www.lab.test', server.caFile)).output).toBe('ok TLSv1.3');
    expect((await clients.node(server.port, 'www.lab.test', server.caFile)).output).toBe('ok TLSv1.3');
    expect(server.logs.matching(/web warn tls fault unknown, ignored fault=expird known=expired,wrong-name,self-signed,missing-intermediate,tls1\.0-only/)).toHaveLength(1);
  });
});

describe('STARTTLS through ServiceTls.upgrade()', () => {
  let server: TlsTestServer;
  beforeAll(async () => {
    server = await startStartTlsServer({ hosts: ['mail.lab.test', 'mail.example.test'] });
  });
  afterAll(() => server.close());
  afterEach(() => setFault(server.dataDir, 'web', undefined));

  test('openssl s_client -starttls smtp and Python\'s smtplib verify the lab certificate', async () => {
    const openssl = await clients.openssl(server.port, 'mail.lab.test', server.caFile, ['-starttls', 'smtp']);
    expect(openssl.output).toContain('Verification: OK');
    expect(openssl.output).toContain('Peer certificate: CN = mail.lab.test');
    const python = await run('python3', ['-c', SMTPLIB_STARTTLS, String(server.port), '127.0.0.1', server.caFile]);
    expect(python).toMatchObject({ code: 0, stdout: 'ok TLSv1.3\n' });
    await server.logs.waitFor(/tls started protocol=TLSv1\.3/, { count: 2 });
  });

  test('SNI picks the certificate after STARTTLS too', async () => {
    const openssl = await clients.openssl(server.port, 'mail.example.test', server.caFile, ['-starttls', 'smtp']);
    expect(openssl.output).toContain('Peer certificate: CN = mail.example.test');
    expect(openssl.output).toContain('Verification: OK');
  });

  test('a fault applies to the upgrade too, and a refused handshake is logged with the client\'s alert', async () => {
    await setFault(server.dataDir, 'web', 'expired');
    const openssl = await clients.openssl(server.port, 'mail.lab.test', server.caFile, ['-starttls', 'smtp']);
    expect(openssl.output).toContain('verify error:num=10:certificate has expired');
    await server.logs.waitFor(
      /web warn tls handshake failed client=127\.0\.0\.1:\d+ reason="sslv3 alert certificate expired" code=ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED fault=expired why="the client refused the certificate: it has expired"/,
    );
  });

  test('a TLS 1.0 client after STARTTLS is refused and logged', async () => {
    const openssl = await clients.openssl(server.port, 'mail.lab.test', server.caFile, ['-starttls', 'smtp', ...TLS10]);
    expect(openssl.output).toContain('tlsv1 alert protocol version');
    await server.logs.waitFor(/web warn tls handshake failed client=127\.0\.0\.1:\d+ reason="unsupported protocol" code=ERR_SSL_UNSUPPORTED_PROTOCOL/);
  });
});

describe('the handshake time limit', () => {
  test('a client that connects and never says hello is dropped after handshakeTimeoutMs, and logged', async () => {
    const server = await startHttpsServer({ handshakeTimeoutMs: 300 });
    const starttls = await startStartTlsServer({ handshakeTimeoutMs: 300, dataDir: server.dataDir });
    try {
      const silent = await RawSocket.connect(server.port);
      await server.logs.waitFor(/tls handshake failed client=127\.0\.0\.1:\d+ reason="TLS handshake timeout" code=ERR_TLS_HANDSHAKE_TIMEOUT why="the client did not finish its handshake in time"/);
      await silent.closed();

      const quiet = await RawSocket.connect(starttls.port);
      quiet.write('STARTTLS\r\n');
      await starttls.logs.waitFor(/tls handshake failed client=127\.0\.0\.1:\d+ reason="no TLS handshake within 300 ms" code=ERR_TLS_HANDSHAKE_TIMEOUT/);
      quiet.destroy();
    } finally {
      await starttls.close();
      await server.close();
    }
  });

  test('a limit out of range stops the service at start, naming it', async () => {
    const log = createLogger('web', { sink: () => {} });
    await expect(ServiceTls.load({ dataDir: '/nonexistent', service: 'web', hosts: ['www.lab.test'], log, handshakeTimeoutMs: 0 })).rejects.toThrow(
      'tls web: handshakeTimeoutMs must be a whole number, at least 1; got 0',
    );
  });
});

describe('setFault', () => {
  test('refuses a service name that is not one and a fault that does not exist', async () => {
    await expect(setFault('/tmp', '../etc', 'expired')).rejects.toThrow('not a lab service name: "../etc"');
    await expect(setFault('/tmp', 'web', 'broken' as TlsFault)).rejects.toThrow('no TLS fault named "broken"; the faults are expired, wrong-name, self-signed, missing-intermediate, tls1.0-only');
  });
});

/** Python's smtplib: EHLO, STARTTLS with the lab CA, EHLO again on the secure channel. */
const SMTPLIB_STARTTLS = `
import smtplib, ssl, sys
port, host, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
smtp = smtplib.SMTP(host, port, timeout=10)
smtp.starttls(context=ssl.create_default_context(cafile=ca))
smtp.ehlo()
version = smtp.sock.version()
smtp.quit()
print('ok', version)
`;
