import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { wirelab } from '../../helpers/process';
import { run, startHttpsServer, type TlsTestServer } from '../../helpers/tls';

/**
 * `wirelab ca` as a person uses it: where the certificate is, its fingerprint, how to
 * trust it; and the one-command recipes it prints, run for real against a TLS server
 * of the same lab.
 */

let dataDir: string;
let server: TlsTestServer;
let guide: string;
let caFile: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-ca-cmd-'));
  const shown = await wirelab(['ca', '--data', dataDir]);
  expect(shown).toMatchObject({ code: 0, stderr: '' });
  guide = shown.stdout;
  caFile = path.join(dataDir, 'tls', 'ca', 'root.pem');
  server = await startHttpsServer({ dataDir, hosts: ['www.lab.test'] });
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('it makes the CA and the certificates of the lab hosts that speak TLS, and says where the CA is and what it is', async () => {
  expect(guide).toContain(`  certificate   ${caFile}\n`);
  const fingerprint = (await run('openssl', ['x509', '-in', caFile, '-noout', '-fingerprint', '-sha256'])).stdout.trim().split('=')[1];
  expect(guide).toContain(`  SHA-256       ${fingerprint}\n`);
  expect(guide).toMatch(/  subject       CN=wirelab lab CA [0-9a-f]{6}, O=wirelab \(lab use only\)\n/);
  expect(guide).toContain('It vouches only for names under .test, localhost, 127.0.0.0/8 and ::1');
  expect((await readdir(path.join(dataDir, 'tls', 'hosts'))).sort()).toEqual(
    ['ftp.lab.test', 'mail.example.test', 'mail.lab.test', 'shop.lab.test', 'www.lab.test'],
  );
});

test('it names every way to trust it, and to remove it again, with this CA\'s path and name', () => {
  const name = /CN=(wirelab lab CA [0-9a-f]{6})/.exec(guide)![1]!;
  for (const recipe of [
    `curl --cacert ${caFile} https://localhost:8443/`,
    `CURL_CA_BUNDLE=${caFile} curl`,
    `SSL_CERT_FILE=${caFile}`,
    `NODE_EXTRA_CA_CERTS=${caFile} node app.js`,
    `ssl.create_default_context(cafile='${caFile}')`,
    `REQUESTS_CA_BUNDLE=${caFile} python3`,
    `certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "${name}" -i ${caFile}`,
    `certutil -d sql:$HOME/.pki/nssdb -D -n "${name}"`,
    'Firefox',
    'security add-trusted-cert -r trustRoot',
    `security delete-certificate -c "${name}"`,
    'certutil -user -addstore Root root.pem',
    `certutil -user -delstore Root "${name}"`,
  ]) {
    expect(guide).toContain(recipe);
  }
});

test('--pem prints the certificate alone, the same one', async () => {
  const pem = await wirelab(['ca', '--data', dataDir, '--pem']);
  expect(pem.stdout).toBe(await readFile(caFile, 'utf8'));
});

describe('the recipes it prints work', () => {
  const url = (): string => `https://localhost:${server.port}/`;

  test('CURL_CA_BUNDLE for curl (and SSL_CERT_FILE does not reach Debian\'s curl, as the guide says)', async () => {
    expect(await run('curl', ['-sS', url()], { env: { CURL_CA_BUNDLE: caFile } })).toMatchObject({ code: 0, stdout: 'hello localhost\n' });
    expect((await run('curl', ['-sS', url()], { env: { SSL_CERT_FILE: caFile } })).output).toContain('unable to get local issuer certificate');
  });

  test('SSL_CERT_FILE for openssl and for Python\'s default context', async () => {
    const openssl = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'localhost', '-verify_return_error', '-brief'], { env: { SSL_CERT_FILE: caFile } });
    expect(openssl.output).toContain('Verification: OK');
    const python = await run('python3', ['-c', `import urllib.request; print(urllib.request.urlopen('${url()}').read().decode(), end='')`], { env: { SSL_CERT_FILE: caFile } });
    expect(python).toMatchObject({ code: 0, stdout: 'hello localhost\n' });
  });

  test('NODE_EXTRA_CA_CERTS for node', async () => {
    const node = await run(process.execPath, ['-e', `require('https').get('${url()}', (r) => r.pipe(process.stdout)).on('error', (e) => { console.error(e.message); process.exit(1); })`], {
      env: { NODE_EXTRA_CA_CERTS: caFile },
    });
    expect(node).toMatchObject({ code: 0, stdout: 'hello localhost\n' });
  });
});
