/**
 * TLS across the embedded lab: every TLS port of the lab plan answers with a
 * certificate the lab CA vouches for, made out to the service's host; the mail and file
 * services speak it to the real clients (curl, openssl s_client, Python's imaplib and
 * ftplib, lftp); the plain-text lessons still take passwords in clear; and a `lab:
 * tls-fault` step switches a certificate lesson on, which the next scenario starts without.
 */
import { existsSync } from 'node:fs';
import { runScenario } from '../../lab-runner/run';
import { parseScenario } from '../../lab-runner/scenario/load';
import { STACK } from '../../lab-runner/wire';
import { caCertificateFile, faultsOn } from '../../services/common/tlsFaults';
import { startLab } from '../helpers/lab';
import { wirelab } from '../helpers/process';
import { run } from '../helpers/tls';

let lab: Awaited<ReturnType<typeof startLab>>;
let ca: string;
beforeAll(async () => {
  lab = await startLab();
  ca = caCertificateFile(lab.dataDir);
});
afterAll(() => lab.stop());

/** Where a service's named port really listens on 127.0.0.1. */
function portOf(service: string, name: string): number {
  const where = lab.backend.status().find((s) => s.name === service)!.endpoints[name]!;
  return Number(where.split(':').pop());
}

/** openssl's -starttls word for each protocol that upgrades. */
const STARTTLS: Record<string, string> = { smtp: 'smtp', submission: 'smtp', pop3: 'pop3', imap: 'imap', ftp: 'ftp' };

const tlsPorts = STACK.flatMap((service) =>
  Object.entries(service.ports)
    .filter(([, p]) => p.tls)
    .map(([name, p]) => [`${service.name} ${name} (${p.lab}, ${p.tls})`, service.name, name, service.host, p.tls!] as const),
);

test('the plan has a TLS port for every service that takes passwords or pages', () => {
  expect(tlsPorts.map(([label]) => label)).toEqual([
    'http https (443, implicit)',
    'proxy https (443, implicit)',
    'smtp smtp (25, starttls)',
    'smtp submission (587, starttls)',
    'smtp smtps (465, implicit)',
    'pop3 pop3 (110, starttls)',
    'pop3 pop3s (995, implicit)',
    'imap imap (143, starttls)',
    'imap imaps (993, implicit)',
    'smtp-example smtp (25, starttls)',
    'smtp-example smtps (465, implicit)',
    'pop3-example pop3 (110, starttls)',
    'pop3-example pop3s (995, implicit)',
    'ftp ftp (21, starttls)',
    'ftp ftps (990, implicit)',
  ]);
});

test.each(tlsPorts)('%s: openssl s_client -verify_return_error trusts it for the host, TLS 1.3', async (_label, service, name, host, kind) => {
  const { output } = await run('openssl', [
    's_client',
    ...(kind === 'starttls' ? ['-starttls', STARTTLS[name]!] : []),
    '-connect',
    `127.0.0.1:${portOf(service, name)}`,
    '-servername',
    host,
    '-CAfile',
    ca,
    '-verify_return_error',
    '-verify_hostname',
    host,
    '-brief',
  ]);
  expect(output).toContain('Verification: OK');
  expect(output).toContain(`Verified peername: ${host}`);
  expect(output).toContain('Protocol version: TLSv1.3');
});

test('POP3: curl pop3s:// (995) and pop3:// --ssl-reqd (STLS on 110); and USER/PASS in clear on 110 still works (the lesson)', async () => {
  const pop3s = await run('curl', ['-sS', '--cacert', ca, '-u', 'bob:bob', `pop3s://localhost:${portOf('pop3', 'pop3s')}/`]);
  expect(pop3s.code).toBe(0);
  const stls = await run('curl', ['-sS', '--cacert', ca, '--ssl-reqd', '-u', 'bob:bob', `pop3://localhost:${portOf('pop3', 'pop3')}/`]);
  expect(stls.code).toBe(0);
  const clear = await run('curl', ['-sS', '-u', 'bob:bob', `pop3://localhost:${portOf('pop3', 'pop3')}/`]);
  expect(clear.code).toBe(0);
});

test("IMAP: curl imaps:// (993) and imap:// --ssl-reqd (STARTTLS on 143); Python's imaplib IMAP4_SSL and starttls(); LOGIN in clear on 143 still works (the lesson)", async () => {
  const imap = portOf('imap', 'imap');
  const imaps = await run('curl', ['-sS', '--cacert', ca, '-u', 'bob:bob', `imaps://localhost:${portOf('imap', 'imaps')}/`]);
  expect(imaps.stdout).toContain('* LIST (\\HasNoChildren) "." INBOX\r\n');
  const starttls = await run('curl', ['-sS', '--cacert', ca, '--ssl-reqd', '-u', 'bob:bob', `imap://localhost:${imap}/`]);
  expect(starttls.stdout).toContain('* LIST (\\HasNoChildren) "." INBOX\r\n');
  const script = String.raw`
import imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
m = imaplib.IMAP4('localhost', int(sys.argv[1]))
print('before', 'STARTTLS' in m.capabilities, 'AUTH=PLAIN' in m.capabilities)
m.starttls(ssl_context=ctx)
print('starttls', m.sock.version(), m.login('bob', 'bob')[0])
m.logout()
i = imaplib.IMAP4_SSL('localhost', int(sys.argv[2]), ssl_context=ctx)
print('imaps', i.sock.version(), i.login('bob', 'bob')[0], i.select('INBOX', readonly=True)[0])
i.logout()
`;
  const python = await run('python3', ['-c', script, String(imap), String(portOf('imap', 'imaps')), ca]);
  expect(python.output).toBe('before True True\nstarttls TLSv1.3 OK\nimaps TLSv1.3 OK OK\n');
  const clear = await run('curl', ['-sS', '-u', 'bob:bob', `imap://127.0.0.1:${imap}/`]);
  expect(clear.stdout).toContain('* LIST (\\HasNoChildren) "." INBOX\r\n');
});

test("FTP: lftp with ftp:ssl-force, curl ftps:// (990), Python's ftplib.FTP_TLS with PROT P; USER/PASS in clear still works on 21", async () => {
  const ftp = portOf('ftp', 'ftp');
  const lftp = await run('lftp', ['-c', `set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file ${ca}; set ssl:check-hostname no; open -u alice,alice -p ${ftp} 127.0.0.1; cls -1 /`]);
  expect(lftp.stdout).toMatch(/notes\.txt/);
  const implicit = await run('curl', ['-sS', '--cacert', ca, '-u', 'alice:alice', `ftps://localhost:${portOf('ftp', 'ftps')}/`]);
  expect(implicit.stdout).toMatch(/notes\.txt/);
  const authTls = await run('curl', ['-sS', '--cacert', ca, '--ssl-reqd', '-u', 'alice:alice', `ftp://localhost:${ftp}/notes.txt`]);
  expect(authTls.code).toBe(0);
  const script = String.raw`
import ftplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
f = ftplib.FTP_TLS(context=ctx, timeout=10)
f.connect('localhost', int(sys.argv[1]))
f.login('alice', 'alice')
f.prot_p()
print(' '.join(f.nlst('/')))
f.quit()
`;
  const python = await run('python3', ['-c', script, String(ftp), ca]);
  expect(python.stdout).toMatch(/notes\.txt/);
  const clear = await run('curl', ['-sS', '-u', 'alice:alice', `ftp://127.0.0.1:${ftp}/`]);
  expect(clear.stdout).toMatch(/notes\.txt/);
});

describe('the lab step tls-fault', () => {
  const curlWww = () => run('curl', ['-sS', '-o', '/dev/null', '--cacert', ca, '--resolve', `www.lab.test:${portOf('http', 'https')}:127.0.0.1`, `https://www.lab.test:${portOf('http', 'https')}/`]);
  const scenario = (steps: string) => runScenario(parseScenario(`title: tls lesson\nsteps:\n${steps}`, 'tls.yaml'), lab.backend);

  test('switches a certificate lesson on; curl says so; the next scenario starts without it', async () => {
    const result = await scenario(`  - name: the certificate expires
    lab: { action: tls-fault, service: http, fault: expired }
    expect: { fault: expired, info.tlsFault: expired }
`);
    expect(result.steps.map((s) => [s.status, s.error])).toEqual([['passed', undefined]]);
    expect(result.steps[0]!.transcript.map((t) => t.summary)).toContain("tls-fault http: expired, the certificate's validity ended the day before it was made");
    const expired = await curlWww();
    expect(expired.code).toBe(60);
    expect(expired.stderr).toMatch(/certificate has expired/);

    const next = await scenario(`  - name: look
    lab: { action: status, service: http }
    expect: { info.tlsFault: { exists: false } }
`);
    expect(next.steps.map((s) => [s.status, s.error])).toEqual([['passed', undefined]]);
    expect((await curlWww()).code).toBe(0);
  });

  test("a run on the lab as it is (the console's Try it) leaves the lesson on; the next scenario clears it", async () => {
    await lab.backend.control('http', 'tls-fault', { fault: 'expired' });
    const look = parseScenario(`title: look\nsteps:\n  - name: look\n    lab: { action: status, service: http }\n    expect: { info.tlsFault: expired }\n`, 'look.yaml');
    const asItIs = await runScenario(look, lab.backend, {}, { asItIs: true });
    expect(asItIs.steps.map((s) => [s.status, s.error])).toEqual([['passed', undefined]]);
    expect((await curlWww()).code).toBe(60);
    expect((await runScenario(look, lab.backend)).status).toBe('failed'); // a scenario starts with no lesson on
    expect((await curlWww()).code).toBe(0);
  });

  test('imap too: an expired certificate on 993 and after STARTTLS on 143, and none puts it right', async () => {
    const imaps = () => run('curl', ['-sS', '--cacert', ca, '-u', 'bob:bob', `imaps://localhost:${portOf('imap', 'imaps')}/`]);
    const starttls = () => run('openssl', ['s_client', '-starttls', 'imap', '-connect', `127.0.0.1:${portOf('imap', 'imap')}`, '-servername', 'mail.lab.test', '-CAfile', ca, '-verify_return_error', '-brief']);
    const on = await scenario(`  - name: the mail host's certificate expires
    lab: { action: tls-fault, service: imap, fault: expired }
    expect: { fault: expired, info.tlsFault: expired }
`);
    expect(on.steps.map((s) => [s.status, s.error])).toEqual([['passed', undefined]]);
    const expired = await imaps();
    expect(expired.code).toBe(60);
    expect(expired.stderr).toMatch(/certificate has expired/);
    expect((await starttls()).output).toMatch(/certificate has expired/);
    // POP3 on the same host is another service: its certificate lesson is its own.
    expect((await run('curl', ['-sS', '--cacert', ca, '-u', 'bob:bob', `pop3s://localhost:${portOf('pop3', 'pop3s')}/`])).code).toBe(0);
    await lab.backend.control('imap', 'tls-fault', { fault: 'none' });
    expect((await imaps()).code).toBe(0);
    expect((await starttls()).output).toContain('Verification: OK');
  });

  test('fault none undoes it within a scenario', async () => {
    const result = await scenario(`  - name: on
    lab: { action: tls-fault, service: smtp, fault: wrong-name }
  - name: off
    lab: { action: tls-fault, service: smtp, fault: none }
    expect: { fault: none }
`);
    expect(result.status).toBe('passed');
    expect(faultsOn(lab.dataDir)).toEqual([]);
  });

  test('a service without TLS, and a step without its fault, are refused with a reason', async () => {
    const noTls = await scenario(`  - name: dns has no certificate
    lab: { action: tls-fault, service: dns, fault: expired }
`);
    expect(noTls.steps[0]!.error).toMatch(/dns speaks no TLS: the certificate lessons are for http, proxy, smtp, pop3, imap, smtp-example, pop3-example, ftp/);
    expect(() => parseScenario('title: t\nsteps:\n  - name: x\n    lab: { action: tls-fault, service: http }\n', 't.yaml')).toThrow(/fault goes with action tls-fault, and tls-fault needs one/);
  });

  test('wirelab reset throws the faults away with the data folder', async () => {
    const other = await startLab({ only: ['dns', 'http'] });
    try {
      await other.backend.control('http', 'tls-fault', { fault: 'self-signed' });
      expect(faultsOn(other.dataDir)).toEqual(['http']);
      expect((await wirelab(['reset', '--data', other.dataDir])).code).toBe(0);
      expect(existsSync(other.dataDir)).toBe(false);
      expect(faultsOn(other.dataDir)).toEqual([]);
    } finally {
      await other.stop();
    }
  });
});
