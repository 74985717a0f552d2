import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startUp } from '../helpers/cli';
import { startLab } from '../helpers/lab';
import { run, wirelab } from '../helpers/process';

/**
 * The `wirelab` command as a user runs it: the built CLI (npm test builds first),
 * its exit status, what it prints, and the files it writes.
 */

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-cli-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('wirelab check', () => {
  test('every shipped scenario is valid', async () => {
    const { code, stdout } = await wirelab(['check']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/scenarios\/resolve-then-fetch\.yaml: ok, 3 steps, 6 points/);
  });

  test('a broken file gets file:line:column and what was expected, no stack trace, exit 2', async () => {
    const file = path.join(tmp, 'broken.yaml');
    await writeFile(file, 'title: broken\nsteps:\n  - name: a\n    dns: { query: www.lab.test, type: AAA }\n    expect: { rcode: NOERROR }\n');
    const { code, stderr } = await wirelab(['check', file]);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^wirelab: ${file.replace(/[.]/g, '\\.')}:4:39: steps\\[0\\]\\.dns\\.type: expected one of .*got "AAA"\\n$`));
    expect(stderr).not.toMatch(/at .*\.js:\d+/);
  });

  test('a typo in expect: is caught before anything runs, by check and by run, with the fields that exist', async () => {
    const file = path.join(tmp, 'typos.yaml');
    await writeFile(file, 'title: typos\nsteps:\n  - name: a\n    http: { url: "http://www.lab.test/" }\n    expect:\n      status: { equal: 200 }\n      statuss: 200\n');
    for (const command of [['check'], ['run', '--free-ports']]) {
      const { code, stdout, stderr } = await wirelab([...command, file]);
      expect(code).toBe(2);
      expect(stdout).toBe(''); // no lab was started
      const lines = stderr.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^wirelab: .*typos\.yaml:6:\d+: expect: status is a number, so the keys under it are operators \(.*\): "equal" is not one \(did you mean "equals"\?\)$/);
      expect(lines[1]).toMatch(/typos\.yaml:7:\d+: expect: the http result has no field "statuss" \(did you mean "status"\?\); it has: url, address, httpVersion, status, .*, error, code, tls, transcript, tcp, packets, payload$/);
    }
  });
});

describe('wirelab run', () => {
  test('passes a scenario, prints progress and points, writes the JSON report with transcripts', async () => {
    const out = path.join(tmp, 'report.json');
    const { code, stdout } = await wirelab(['run', '--free-ports', 'scenarios/resolve-then-fetch.yaml', '--report', 'json', '--out', out]);
    expect(code).toBe(0);
    expect(stdout).toContain('✓ Ask the lab DNS for the address of www.lab.test');
    expect(stdout).toMatch(/total\s+6\/6\s+all 1 passed/);
    expect(stdout).not.toMatch(/\x1b\[/); // NO_COLOR
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report).toMatchObject({ backend: 'embedded', passed: true, points: 6, maxPoints: 6 });
    const step = report.scenarios[0].steps[0];
    expect(step.transcript.map((e: { kind: string }) => e.kind)).toEqual(['send', 'recv']);
    expect(step.transcript[1].text).toContain(';; ANSWER SECTION:');
  });

  test('a failing scenario exits 1 and shows the hint; --trace prints the exchange', async () => {
    const file = path.join(tmp, 'failing.yaml');
    await writeFile(file, 'title: failing\nsteps:\n  - name: expects the wrong address\n    dns: { query: www.lab.test }\n    expect:\n      answers[0].data: 10.0.0.1\n    hint: look again\n');
    const { code, stdout } = await wirelab(['run', '--free-ports', '--trace', file]);
    expect(code).toBe(1);
    expect(stdout).toContain('answers[0].data: expected "10.0.0.1", got "172.28.0.80"');
    expect(stdout).toContain(`${file}:6`);
    expect(stdout).toContain('hint: look again');
    expect(stdout).toContain(';; ->>HEADER<<- opcode: QUERY, status: NOERROR');
  });

  test('colour only when asked for, and never with NO_COLOR', async () => {
    const colored = await wirelab(['run', '--free-ports', 'scenarios/keep-alive.yaml'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    // NO_COLOR set to anything (even empty) turns colour off.
    expect(colored.stdout).not.toMatch(/\x1b\[/);
    const forced = await wirelab(['run', '--free-ports', 'scenarios/keep-alive.yaml'], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(/\x1b\[32m✓/);
  });

  test('--report junit, gradescope and html write their files; secrets are masked in the terminal too', async () => {
    const file = path.join(tmp, 'secret.yaml');
    await writeFile(
      file,
      'title: secret\nsecrets: [pw]\nvars: { pw: hunter2 }\nsteps:\n  - name: log in with the secret\n    http: { method: POST, url: "http://www.lab.test/api/login", json: { username: alice, password: "${pw}" } }\n    expect: { status: 200 }\n',
    );
    for (const [format, name, check] of [
      ['junit', 'junit.xml', /<testsuites[^>]* tests="1" failures="1"/],
      ['gradescope', 'results.json', /"max_score": 1/],
      ['html', 'report.html', /<!doctype html>/i],
    ] as const) {
      const out = path.join(tmp, name);
      const { code, stdout } = await wirelab(['run', '--free-ports', '--trace', file, '--report', format, '--out', out]);
      expect(code).toBe(1);
      const text = await readFile(out, 'utf8');
      expect(text).toMatch(check);
      expect(text).not.toContain('hunter2');
      expect(stdout).not.toContain('hunter2');
      expect(stdout).toContain('****');
    }
  });

  test('--keylog: every TLS session of the run appends its secrets, in a file only its owner reads', async () => {
    const keys = path.join(tmp, 'keys.txt');
    const { code, stdout } = await wirelab(['run', '--free-ports', '--keylog', keys, 'scenarios/mail-encrypted-ports.yaml']);
    expect([code, stdout]).toEqual([0, expect.stringMatching(/all 1 passed/)]);
    // SMTPS and POP3S: two TLS 1.3 sessions, each with its own client traffic secret.
    const lines = (await readFile(keys, 'utf8')).split('\n');
    expect(lines.filter((l) => /^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{96}$/.test(l))).toHaveLength(2);
    expect((await stat(keys)).mode & 0o777).toBe(0o600);
  });

  test('a --target that is not SERVICE=HOST:PORT is a usage error', async () => {
    const { code, stderr } = await wirelab(['run', '--target', 'web=127.0.0.1:80']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/no lab service named web/);
  });
});

describe('exploring clients and wirelab up', () => {
  let lab: Awaited<ReturnType<typeof startLab>>;
  let dns: string;
  let http: string;
  beforeAll(async () => {
    lab = await startLab();
    const status = lab.backend.status();
    dns = status.find((s) => s.name === 'dns')!.endpoints.dns!;
    http = status.find((s) => s.name === 'http')!.endpoints.http!;
  });
  afterAll(() => lab.stop());

  test('wirelab dns prints the query and the answer like dig', async () => {
    const { code, stdout } = await wirelab(['dns', 'lab.test', 'MX', '--server', dns]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/client → ns\.lab\.test:53\s+MX\? lab\.test/);
    expect(stdout).toMatch(/lab\.test\.\t\d+\tIN\tMX\t10 mail\.lab\.test\./);
  });

  test('wirelab dns --raw shows the bytes', async () => {
    const { stdout } = await wirelab(['dns', 'www.lab.test', '--server', dns, '--raw']);
    expect(stdout).toMatch(/0000 {2}[0-9a-f]{2} [0-9a-f]{2} /);
  });

  test('wirelab http prints the request and the response as text', async () => {
    const { code, stdout } = await wirelab(['http', `http://${http}/api/notes/1`, '--dns', dns]);
    expect(code).toBe(0);
    expect(stdout).toContain('GET /api/notes/1 HTTP/1.1\\r\\n');
    expect(stdout).toContain('HTTP/1.1 200 OK\\r\\n');
    expect(stdout).toContain('Welcome to the notes API');
  });

  test('an explorer with nothing to talk to says how to start the lab', async () => {
    const { code, stderr } = await wirelab(['http', 'http://127.0.0.1:9/', '--dns', dns]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/connection refused.*\nIs the lab running\? Start it with `npx wirelab up`/);
  });

  test('wirelab smtp sends a mail and prints the dialogue; wirelab pop3 reads it back', async () => {
    const status = lab.backend.status();
    const submission = status.find((s) => s.name === 'smtp')!.endpoints.submission!;
    const pop3 = status.find((s) => s.name === 'pop3')!.endpoints.pop3!;
    const [smtpHost, smtpPort] = submission.split(':');
    const sent = await wirelab(['smtp', '--host', smtpHost!, '--port', smtpPort!, '--user', 'alice', '--password', 'alice', '--from', 'alice@lab.test', '--to', 'bob@lab.test', '--subject', 'from the CLI', '--body', 'hello bob', '--dns', dns]);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/client → 127\.0\.0\.1:\d+\s+AUTH PLAIN AGFsaWNlAGFsaWNl/);
    expect(sent.stdout).toMatch(/← .*250 2\.0\.0/);
    const [popHost, popPort] = pop3.split(':');
    const read = await wirelab(['pop3', '--host', popHost!, '--port', popPort!, '--user', 'bob', '--password', 'bob', '--retrieve', 'last', '--delete', '--dns', dns]);
    expect(read.code).toBe(0);
    expect(read.stdout).toMatch(/client → 127\.0\.0\.1:\d+\s+PASS bob/);
    expect(read.stdout).toContain('Subject: from the CLI');
    expect(read.stdout).toMatch(/DELE \d+/);
  });

  test('wirelab ftp uploads, lists and downloads, printing the control connection', async () => {
    const ftp = lab.backend.status().find((s) => s.name === 'ftp')!.endpoints.ftp!;
    const [host, port] = ftp.split(':');
    const local = path.join(tmp, 'hello.txt');
    await writeFile(local, 'hello over FTP\n');
    const { code, stdout } = await wirelab(['ftp', '--host', host!, '--port', port!, '--user', 'alice', '--password', 'alice', '--put', local, '--list', '/', '--get', 'hello.txt', '--dns', dns]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/client → 127\.0\.0\.1:\d+\s+PASS alice/);
    expect(stdout).toMatch(/file\s+15\s+hello\.txt/);
    expect(stdout).toContain('hello over FTP');
  });

  test('wirelab sftp logs in with a lab key and shows the host key', async () => {
    const sftp = lab.backend.status().find((s) => s.name === 'sftp')!;
    const [host, port] = sftp.endpoints.sftp!.split(':');
    const { code, stdout } = await wirelab(['sftp', '--host', host!, '--port', port!, '--user', 'alice', '--key', 'alice', '--get', 'notes.txt', '--dns', dns]);
    expect(code).toBe(0);
    expect(stdout).toContain(sftp.info!.fingerprint!);
    expect(stdout).toContain("alice's home in the lab");
  });

  test('the explorers speak TLS with the lab CA (--cacert): https://, smtp --starttls, pop3 --stls, imap --starttls and --tls, ftp --tls explicit', async () => {
    const status = lab.backend.status();
    const port = (service: string, name: string): string => status.find((s) => s.name === service)!.endpoints[name]!.split(':')[1]!;
    const ca = ['--cacert', lab.caFile, '--dns', dns];
    const https = await wirelab(['http', `https://localhost:${port('http', 'https')}/hello.txt`, ...ca]);
    expect([https.code, https.stdout]).toEqual([0, expect.stringMatching(/⇄ 127\.0\.0\.1:\d+\s+TLSv1\.3 \S+ · SNI localhost · ALPN http\/1\.1 · certificate trusted/)]);
    expect(https.stdout).toMatch(/🔒\s+client ← 127\.0\.0\.1:\d+\s+200 OK/);
    const smtp = await wirelab(['smtp', '--host', '127.0.0.1', '--port', port('smtp', 'submission'), '--starttls', '--user', 'alice', '--password', 'alice', '--from', 'alice@lab.test', '--to', 'bob@lab.test', '--subject', 'explorer TLS', '--body', 'b', ...ca]);
    expect(smtp.code).toBe(0);
    expect(smtp.stdout).toMatch(/client → 127\.0\.0\.1:\d+\s+STARTTLS\n/);
    expect(smtp.stdout).toMatch(/🔒\s+client → 127\.0\.0\.1:\d+\s+AUTH PLAIN/);
    const pop3 = await wirelab(['pop3', '--host', '127.0.0.1', '--port', port('pop3', 'pop3'), '--stls', '--user', 'bob', '--password', 'bob', '--retrieve', 'none', ...ca]);
    expect(pop3.code).toBe(0);
    expect(pop3.stdout).toMatch(/🔒\s+client → 127\.0\.0\.1:\d+\s+PASS bob/);
    const imap = await wirelab(['imap', '--host', '127.0.0.1', '--port', port('imap', 'imap'), '--starttls', '--user', 'bob', '--password', 'bob', ...ca]);
    expect(imap.code).toBe(0);
    expect(imap.stdout).toMatch(/client → 127\.0\.0\.1:\d+\s+a1 STARTTLS\n/);
    expect(imap.stdout).toMatch(/⇄ 127\.0\.0\.1:\d+\s+TLSv1\.3 .*certificate trusted/);
    expect(imap.stdout).toMatch(/🔒\s+client → 127\.0\.0\.1:\d+\s+a3 LOGIN bob bob/);
    const imaps = await wirelab(['imap', '--host', '127.0.0.1', '--tls', '--port', port('imap', 'imaps'), '--user', 'bob', '--password', 'bob', ...ca]);
    expect(imaps.code).toBe(0);
    expect(imaps.stdout).toMatch(/🔒\s+client → 127\.0\.0\.1:\d+\s+a1 LOGIN bob bob/);
    const ftp = await wirelab(['ftp', '--host', '127.0.0.1', '--port', port('ftp', 'ftp'), '--tls', 'explicit', '--user', 'alice', '--password', 'alice', ...ca]);
    expect(ftp.code).toBe(0);
    expect(ftp.stdout).toMatch(/client → 127\.0\.0\.1:\d+\s+AUTH TLS\n/);
    expect(ftp.stdout).toMatch(/🔒\s+client → 127\.0\.0\.1:\d+\s+PASS alice/);
    // Without the lab CA (curl's own list), the same https:// is refused, and says why.
    const stranger = await wirelab(['http', `https://localhost:${port('http', 'https')}/`, '--dns', dns, '--cacert', '/etc/ssl/certs/ca-certificates.crt']);
    expect(stranger.code).toBe(1);
    expect(stranger.stdout + stranger.stderr).toContain('unable to get local issuer certificate');
  });

  test('wirelab up prints the hosts and ports, and Ctrl+C stops it cleanly', async () => {
    const data = path.join(tmp, 'up-data');
    const up = await startUp(['--free-ports', '--quiet', '--data', data], { WIRELAB_RUNTIME_DIR: path.join(tmp, 'run') });
    const out = up.output();
    expect(out).toMatch(/dns\s+ns\.lab\.test\s+53 → 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/http\s+www\.lab\.test\s+80 → 127\.0\.0\.1:\d+\s+443 → 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/smtp\s+mail\.lab\.test\s+25 → 127\.0\.0\.1:\d+\s+587 → 127\.0\.0\.1:\d+\s+465 → 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/imap\s+mail\.lab\.test\s+143 → 127\.0\.0\.1:\d+\s+993 → 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/pop3-example\s+mail\.example\.test\s+110 → 127\.0\.0\.1:\d+\s+995 → 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/ftp\s+ftp\.lab\.test\s+21 → 127\.0\.0\.1:\d+\s+990 → 127\.0\.0\.1:\d+/);
    // Where the lab CA is, and a first HTTPS request that trusts it.
    const ca = path.join(data, 'tls', 'ca', 'root.pem');
    expect(out).toContain(`tls:  the lab CA is ${ca} (\`wirelab ca\` says how to trust it)`);
    const https = /curl --cacert \S+ (https:\/\/localhost:\d+\/)/.exec(out)![1]!;
    const curl = await run('curl', ['-sS', '--cacert', ca, https]);
    expect(curl.stdout + curl.stderr).toContain('<h1>');
    expect(out).toMatch(/sftp\s+files\.lab\.test\s+22 → 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/^sftp fingerprint: SHA256:[A-Za-z0-9+/]{43}$/m);
    expect(await up.stop()).toBe(0);
    // The lab seeded its state into the data directory; reset removes it.
    expect(existsSync(path.join(data, 'http/notes.json'))).toBe(true);
    const reset = await wirelab(['reset', '--data', data]);
    expect(reset.code).toBe(0);
    expect(existsSync(data)).toBe(false);
  });

  test('wirelab schema writes the JSON Schema editors use', async () => {
    const out = path.join(tmp, 'schema', 'scenario.schema.json');
    await mkdir(path.dirname(out), { recursive: true });
    expect((await wirelab(['schema', '--out', out])).code).toBe(0);
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ title: 'wirelab scenario', type: 'object' });
  });
});
