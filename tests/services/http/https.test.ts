/**
 * HTTPS on www.lab.test (and shop.lab.test, the proxy): the same service on a second
 * port inside TLS, with the lab CA's certificate and ALPN http/1.1, as curl, openssl
 * s_client and Python see it. Then the lesson "HTTP moves to HTTPS" (redirectToHttps),
 * the certificate lessons, and the handshakes that fail with their reason in the log.
 */
import { rm } from 'node:fs/promises';
import { caCertificateFile } from '../../../services/common/certificates';
import { createLogger } from '../../../services/common/logger';
import { ServiceTls } from '../../../services/common/tls';
import { setFault } from '../../../services/common/tlsFaults';
import type { HttpServerOptions } from '../../../services/http/server';
import { run } from '../../helpers/tls';
import { ShopLab } from '../proxy/harness';
import { curl, startServer, tempDir, type RunningServer } from './harness';

interface HttpsServer extends RunningServer {
  tlsPort: number;
  caFile: string;
}

let server: HttpsServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** www.lab.test on two ports of 127.0.0.1: plain HTTP, and HTTPS with a lab CA made in its data folder. */
async function start(options: HttpServerOptions = {}): Promise<HttpsServer> {
  const s = await startServer(options);
  const tls = await ServiceTls.load({ dataDir: s.dataDir, service: 'http', hosts: ['www.lab.test'], alpn: ['http/1.1'], log: createLogger('http', { sink: s.logs.sink }) });
  const tlsPort = (await s.server.listenTls(0, '127.0.0.1', tls)).port;
  server = { ...s, tlsPort, caFile: caCertificateFile(s.dataDir) };
  return server;
}

/** curl to https://www.lab.test:<port>/..., the name resolved to 127.0.0.1, trusting the lab CA. */
function curlHttps(s: HttpsServer, target: string, ...extra: string[]) {
  return curl('--cacert', s.caFile, '--resolve', `www.lab.test:${s.tlsPort}:127.0.0.1`, ...extra, `https://www.lab.test:${s.tlsPort}${target}`);
}

test('curl over HTTPS: the lab CA vouches for www.lab.test, ALPN says http/1.1 even to a client that offers h2', async () => {
  const s = await start();
  const page = await curlHttps(s, '/', '-v', '--http2', '-w', '%{http_code} %{http_version}\\n');
  expect(page.code).toBe(0);
  expect(page.stdout).toContain('<h1>');
  expect(page.stdout).toMatch(/200 1\.1\n$/);
  expect(page.stderr).toMatch(/ALPN: server accepted http\/1\.1/);
  expect(page.stderr).toMatch(/subject: CN=www\.lab\.test; O=wirelab \(lab use only\)/);
  // One log line per request, as on the plain port.
  await s.logs.waitFor(/"GET \/ HTTP\/1\.1" 200 /);
});

test('openssl s_client -alpn h2,http/1.1 -verify_return_error, and Python urllib with the lab CA', async () => {
  const s = await start();
  const openssl = await run(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${s.tlsPort}`, '-servername', 'www.lab.test', '-alpn', 'h2,http/1.1', '-CAfile', s.caFile, '-verify_return_error', '-verify_hostname', 'www.lab.test', '-ign_eof'],
    { input: 'GET /api/notes HTTP/1.1\r\nHost: www.lab.test\r\nConnection: close\r\n\r\n' },
  );
  expect(openssl.output).toContain('Verify return code: 0 (ok)');
  expect(openssl.output).toContain('ALPN protocol: http/1.1');
  expect(openssl.output).toMatch(/HTTP\/1\.1 200 OK/);

  const script = String.raw`
import ssl, sys, urllib.request
port, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
with urllib.request.urlopen('https://localhost:%s/' % port, context=ctx, timeout=10) as r:
    print(r.status, r.read().decode()[:200].count('<'))
`;
  const python = await run('python3', ['-c', script, String(s.tlsPort), s.caFile]);
  expect(python.stdout).toMatch(/^200 [1-9]/);
});

test('a certificate lesson shows in curl at the next connection, and is undone without a restart', async () => {
  const s = await start();
  await setFault(s.dataDir, 'http', 'expired');
  const expired = await curlHttps(s, '/');
  expect(expired.code).toBe(60); // curl: the peer's certificate cannot be trusted
  expect(expired.stderr).toMatch(/certificate has expired/);
  await setFault(s.dataDir, 'http', 'self-signed');
  expect((await curlHttps(s, '/')).stderr).toMatch(/self-signed certificate in certificate chain/);
  await setFault(s.dataDir, 'http', undefined);
  expect((await curlHttps(s, '/')).code).toBe(0);
});

test('handshakes that fail are logged with the reason: TLS 1.0, and plain HTTP sent to the HTTPS port', async () => {
  const s = await start();
  const old = await run('openssl', ['s_client', '-connect', `127.0.0.1:${s.tlsPort}`, '-tls1', '-cipher', 'DEFAULT@SECLEVEL=0'], { input: '' });
  expect(old.code).not.toBe(0);
  await s.logs.waitFor(/ warn tls handshake failed .*reason="unsupported protocol".*why="the client offered only TLS versions this server refuses \(it speaks TLS 1\.2 and 1\.3\)"/);
  const plain = await curl(`http://127.0.0.1:${s.tlsPort}/`);
  expect(plain.code).not.toBe(0);
  await s.logs.waitFor(/why="the client sent plain HTTP to a TLS port/);
  expect((await curlHttps(s, '/')).code).toBe(0); // still serving
});

describe('the lesson "HTTP moves to HTTPS" (redirectToHttps)', () => {
  test('off by default: the plain port serves the page', async () => {
    const s = await start();
    const page = await curl('-w', '%{http_code}', '-o', '/dev/null', `http://127.0.0.1:${s.port}/`);
    expect(page.stdout).toBe('200');
  });

  test('GET and HEAD get 301 to the same URL with https://, POST gets 308; HTTPS itself is served', async () => {
    const s = await start({ redirectToHttps: true });
    // The client came on a port of its own (Host: www.lab.test:<port>): sent to the HTTPS port the server has.
    const get = await curl('-i', '-H', `Host: www.lab.test:${s.port}`, `http://127.0.0.1:${s.port}/guide/index.html?x=1`);
    expect(get.stdout).toMatch(/^HTTP\/1\.1 301 Moved Permanently\r\n/);
    expect(get.stdout).toContain(`\r\nLocation: https://www.lab.test:${s.tlsPort}/guide/index.html?x=1\r\n`);
    expect(get.stdout).toMatch(/this site is served over HTTPS now/);
    const head = await curl('-I', '-H', `Host: www.lab.test:${s.port}`, `http://127.0.0.1:${s.port}/`);
    expect(head.stdout).toMatch(/^HTTP\/1\.1 301 /);
    const post = await curl('-i', '-X', 'POST', '-d', 'a=1', '-H', `Host: www.lab.test:${s.port}`, `http://127.0.0.1:${s.port}/api/notes`);
    expect(post.stdout).toMatch(/^HTTP\/1\.1 308 Permanent Redirect\r\n/);
    // The standard port (no port in Host, as a browser sends for :80): the standard 443.
    const standard = await curl('-i', '-H', 'Host: www.lab.test', `http://127.0.0.1:${s.port}/a?b`);
    expect(standard.stdout).toContain('\r\nLocation: https://www.lab.test/a?b\r\n');
    // curl -L follows it to the HTTPS port and gets the page.
    const follow = await curl('-L', '--cacert', s.caFile, '--resolve', `www.lab.test:${s.port}:127.0.0.1`, '--resolve', `www.lab.test:${s.tlsPort}:127.0.0.1`, '-w', '%{http_code} %{url_effective}', '-o', '/dev/null', `http://www.lab.test:${s.port}/`);
    expect(follow.stdout).toBe(`200 https://www.lab.test:${s.tlsPort}/`);
    await s.logs.waitFor(/"GET \/guide\/index\.html\?x=1 HTTP\/1\.1" 301 \d+ .*location="?https:\/\/www\.lab\.test:\d+\/guide\/index\.html\?x=1/);
  });

  test('httpsPortForRedirect names the published port (Docker: 8443) instead of the one bound', async () => {
    const s = await start({ redirectToHttps: true, httpsPortForRedirect: 8443 });
    const get = await curl('-i', '-H', 'Host: localhost:8080', `http://127.0.0.1:${s.port}/`);
    expect(get.stdout).toContain('\r\nLocation: https://localhost:8443/\r\n');
  });
});

test('shop.lab.test over HTTPS: the proxy ends TLS, the app hears X-Forwarded-Proto https over plain HTTP', async () => {
  const lab = await ShopLab.start();
  const dir = await tempDir('wirelab-shop-');
  try {
    const tls = await ServiceTls.load({ dataDir: dir, service: 'proxy', hosts: ['shop.lab.test'], alpn: ['http/1.1'], log: createLogger('proxy', { sink: lab.proxyLogs.sink }) });
    const tlsPort = (await lab.proxy.listenTls(0, '127.0.0.1', tls)).port;
    const secure = await curl('--cacert', caCertificateFile(dir), '--resolve', `shop.lab.test:${tlsPort}:127.0.0.1`, `https://shop.lab.test:${tlsPort}/headers`);
    expect(secure.code).toBe(0);
    expect(JSON.parse(secure.stdout).headers['x-forwarded-proto']).toBe('https');
    const plain = await curl(`http://127.0.0.1:${lab.proxyPort}/headers`);
    expect(JSON.parse(plain.stdout).headers['x-forwarded-proto']).toBe('http');
  } finally {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
