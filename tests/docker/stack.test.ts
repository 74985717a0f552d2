import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DockerBackend } from '../../lab-runner/backends/docker/backend';
import { compose } from '../../lab-runner/backends/docker/compose';
import { freeLabPorts } from '../helpers/docker';
import { holdDockerLab } from '../helpers/dockerLock';
import { request } from '../helpers/console';
import { built } from '../helpers/paths';
import { run, succeeds, wirelab as runWirelab, type RunResult } from '../helpers/process';
import { listenTcp } from '../helpers/socket';
import { poll } from '../helpers/wait';
import { tsharkProblems, tsharkRows } from '../lab-runner/packets/helpers';
import type { RunResult as WirelabResult } from '../../lab-runner/result';

/**
 * The lab in Docker, for real: built by `npm run images`, started with Compose on free
 * host ports (moved as .env moves them), checked from outside and from inside the lab
 * network (the client workstation's own tools), then every scenario run on the docker
 * backend, and each way bringing a lab up can fail. Runs when WIRELAB_DOCKER_TESTS=1
 * (.ci/run sets it, after installing docker.io and starting dockerd); without Docker it
 * is skipped, saying so.
 */

const enabled = process.env.WIRELAB_DOCKER_TESTS === '1';
const PROJECT = 'wirelabtest';

const suite = enabled ? describe : describe.skip;
if (!enabled) console.warn('Docker tests skipped: set WIRELAB_DOCKER_TESTS=1 (with dockerd running and `npm run images` done) to run them');

/** `wirelab ARGS` as a person runs it, with `env` added; a Docker lab may take minutes to come up. */
const wirelab = (args: string[], env: Record<string, string> = {}, ms = 240_000): Promise<RunResult> => runWirelab(args, { env, ms });

/** `docker compose run --rm client ...` on this file's lab. */
const inClient = (args: string[]) => compose(['run', '--rm', '-T', ...args], { project: PROJECT });

suite('the lab in Docker', () => {
  let lab: DockerBackend;
  let ports: Record<string, string>;
  jest.setTimeout(300_000);

  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await holdDockerLab(); // one Docker lab test file at a time
    built('lab-runner/cli.js'); // fails, saying to run `npm run build`, when it is missing
    ports = await freeLabPorts();
    Object.assign(process.env, ports); // Compose and every wirelab started here read them, as from .env
    lab = new DockerBackend({ project: PROJECT });
    await lab.down().catch(() => {});
    await lab.start();
  }, 20 * 60_000);
  afterAll(async () => {
    await lab?.down();
    for (const key of Object.keys(ports ?? {})) delete process.env[key];
    await release?.();
  });

  test('every service is healthy, on its fixed address', async () => {
    const status = await lab.status();
    for (const s of status) expect([s.name, s.info?.health]).toEqual([s.name, 'healthy']);
    expect(status.find((s) => s.name === 'http')?.info?.address).toBe('172.28.0.80');
  });

  test('published ports listen on 127.0.0.1 only, at the ports .env gives', async () => {
    const status = await lab.status();
    const published = status.flatMap((s) => (s.info?.published ?? '').split(' ').filter(Boolean));
    expect(published.length).toBeGreaterThanOrEqual(9);
    for (const p of published) expect(p).toMatch(/^127\.0\.0\.1:\d+->/);
    expect(published).toContain(`127.0.0.1:${ports.LAB_HTTP_PORT}->80/tcp`);
    expect(published).toContain(`127.0.0.1:${ports.LAB_SUBMISSION_PORT}->587/tcp`);
    expect(lab.network().route('172.28.0.25', 110)).toMatchObject({ host: '127.0.0.1', port: Number(ports.LAB_POP3_PORT) });
  });

  test('from the host, through the published ports', async () => {
    const { stdout } = await succeeds('dig', ['+short', '@127.0.0.1', '-p', ports.LAB_DNS_PORT!, 'www.lab.test']);
    expect(stdout.trim()).toBe('172.28.0.80');
    const page = await succeeds('curl', ['-s', '--noproxy', '*', `http://127.0.0.1:${ports.LAB_HTTP_PORT}/`]);
    expect(page.stdout).toContain('<h1>');
  });

  test('every service runs on Node 24', async () => {
    for (const service of ['dns', 'http', 'smtp', 'pop3', 'ftp', 'sftp']) {
      const container = await lab.containers.container(service);
      const { stdout } = await succeeds('docker', ['exec', container.id, 'node', '-p', 'process.version']);
      expect([service, stdout.trim()]).toEqual([service, expect.stringMatching(/^v24\./)]);
    }
  });

  test('inside the lab network, lab names resolve and outside names are REFUSED', async () => {
    const script = "const d=require('dns');d.resolve4('www.lab.test',(e,a)=>{d.resolve4('example.com',(e2)=>console.log(JSON.stringify({lab:a,outside:e2&&e2.code})))})";
    const { code, output } = await inClient(['--entrypoint', 'node', 'client', '-e', script]);
    expect(code).toBe(0);
    expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ lab: ['172.28.0.80'], outside: 'EREFUSED' });
  });

  test("the workstation's shell has the students' tools, and they reach the lab by name", async () => {
    const script = [
      'set -e',
      'echo "dig: $(dig +short www.lab.test)"',
      'echo "curl: $(curl -s -o /dev/null -w %{http_code} http://www.lab.test/)"',
      'nc -z -w 5 ftp.lab.test 21 && echo "nc: ftp open"',
      'swaks --silent 2 --server mail.lab.test --from carol@example.test --to bob@lab.test --header "Subject: from the workstation" >/dev/null && echo "swaks: sent"',
      'echo "lftp: $(lftp -c "open -u alice,alice ftp.lab.test; cls -1 /" | tr "\\n" " ")"',
      'echo "sftp: $(command -v sftp) $(ssh -V 2>&1)"',
      'echo "openssl: $(openssl version)"',
      'tcpdump -D >/dev/null && echo "tcpdump: can capture"',
      'echo "hostname: $(hostname -f)"',
    ].join('\n');
    const { code, output } = await inClient(['client', 'sh', '-c', script]);
    expect(output).toContain('dig: 172.28.0.80');
    expect(output).toContain('curl: 200');
    expect(output).toContain('nc: ftp open');
    expect(output).toContain('swaks: sent');
    expect(output).toMatch(/lftp: .*notes\.txt/);
    expect(output).toMatch(/sftp: \/usr\/bin\/sftp OpenSSH_/);
    expect(output).toMatch(/openssl: OpenSSL 3/);
    expect(output).toContain('tcpdump: can capture');
    expect(output).toContain('hostname: client.lab.test');
    expect(code).toBe(0);
  });

  test('the ca container made the lab CA first and exited; every lab container trusts it (Node, NODE_EXTRA_CA_CERTS)', async () => {
    const [ca] = await lab.containers.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${PROJECT}`, 'com.docker.compose.service=ca'] } });
    expect(ca?.State).toBe('exited');
    expect(ca?.Status).toMatch(/^Exited \(0\)/);
    // No --cacert anywhere: each service's own Node trusts the lab CA it was started with.
    const script = "require('https').get('https://www.lab.test/',(r)=>{console.log('https',r.statusCode);r.resume()}).on('error',(e)=>console.log('error',e.code))";
    // The console too (the client's image): it mounts the tls volume read-only, as the workstation does.
    for (const service of ['dns', 'http', 'proxy', 'app', 'smtp', 'pop3', 'imap', 'smtp-example', 'pop3-example', 'ftp', 'sftp', 'console']) {
      const container = await lab.containers.container(service);
      const { stdout } = await succeeds('docker', ['exec', container.id, 'node', '-e', script]);
      expect([service, stdout.trim()]).toEqual([service, 'https 200']);
    }
  });

  test("the workstation trusts the lab CA from the start: curl, openssl, Python, swaks, lftp and Node, with no --cacert", async () => {
    const python = [
      'import ftplib, poplib, smtplib, ssl, urllib.request',
      'ctx = ssl.create_default_context()',
      "print('urllib', urllib.request.urlopen('https://shop.lab.test/', timeout=10).status)",
      "s = smtplib.SMTP('mail.lab.test', 587, timeout=10); s.starttls(context=ctx); s.ehlo(); print('smtplib', s.sock.version(), 'auth' in s.esmtp_features); s.quit()",
      "p = poplib.POP3_SSL('mail.lab.test', 995, context=ctx, timeout=10); p.user('bob'); p.pass_('bob'); print('poplib', p.stat()[0] >= 0); p.quit()",
      "f = ftplib.FTP_TLS('ftp.lab.test', context=ctx, timeout=10); f.login('alice', 'alice'); f.prot_p(); print('ftplib', '/notes.txt' in f.nlst('/')); f.quit()",
    ].join('\n');
    const script = [
      'echo "curl: $(curl -sS -o /dev/null -w %{http_code} https://www.lab.test/)"',
      'echo "curl pop3s: $(curl -sS -u bob:bob pop3s://mail.lab.test/ >/dev/null && echo ok)"',
      'echo "openssl: $(openssl s_client -starttls smtp -connect mail.lab.test:25 -verify_return_error -brief </dev/null 2>&1 | grep Verification)"',
      `python3 -c "${python.replace(/"/g, '\\"')}"`,
      'swaks --server mail.lab.test:587 --tls --tls-verify --auth-user alice --auth-password alice --from alice@lab.test --to bob@lab.test --header "Subject: verified TLS" | grep -q "250 2.0.0 Ok" && echo "swaks: verified and sent"',
      'echo "lftp: $(lftp -c "set ftp:ssl-force true; set ftp:ssl-protect-data true; open -u alice,alice ftp.lab.test; cls -1 /" | tr "\\n" " ")"',
      "node -e \"require('tls').connect(465,'mail.lab.test',{servername:'mail.lab.test'},function(){console.log('node:',this.authorized);this.end()})\"",
    ].join('\n');
    const { output } = await inClient(['client', 'bash', '-c', script]);
    expect(output).toContain('curl: 200');
    expect(output).toContain('curl pop3s: ok');
    expect(output).toContain('openssl: Verification: OK');
    expect(output).toContain('urllib 200');
    expect(output).toContain('smtplib TLSv1.3 True');
    expect(output).toContain('poplib True');
    expect(output).toContain('ftplib True');
    expect(output).toContain('swaks: verified and sent');
    expect(output).toMatch(/lftp: .*notes\.txt/);
    expect(output).toContain('node: true');
  });

  test('a lab step switches a certificate lesson on, curl in the workstation shows it, and the next scenario starts without it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-tls-'));
    try {
      const lesson = path.join(dir, 'expired.yaml');
      await writeFile(lesson, 'title: An expired certificate\nsteps:\n  - name: www presents an expired certificate\n    lab: { action: tls-fault, service: http, fault: expired }\n    expect: { fault: expired }\n');
      const on = await wirelab(['run', '--backend', 'docker', '--project', PROJECT, '--reuse', lesson]);
      expect(on.stdout).toMatch(/all 1 passed/);
      const curl = await inClient(['client', 'curl', '-sS', 'https://www.lab.test/']);
      expect(curl.code).toBe(60);
      expect(curl.output).toMatch(/certificate has expired/);
      // Any scenario starts with no lesson on.
      expect((await wirelab(['run', '--backend', 'docker', '--project', PROJECT, '--reuse', 'scenarios/dns-basics.yaml'])).code).toBe(0);
      expect((await inClient(['client', 'curl', '-sS', '-o', '/dev/null', 'https://www.lab.test/'])).code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // From this machine: the Docker backend runs the same switch in the service's container.
    await lab.control('smtp', 'tls-fault', { fault: 'wrong-name' });
    expect(await lab.clearTlsFaults()).toEqual(['smtp']);
    expect(await lab.clearTlsFaults()).toEqual([]);
  });

  test('IMAP with the lab CA: STARTTLS on 143 and IMAPS on 993 from the workstation (imaplib, openssl, curl), 993 published on LAB_IMAPS_PORT, and its certificate lesson', async () => {
    const python = [
      'import imaplib, ssl',
      'ctx = ssl.create_default_context()',
      "m = imaplib.IMAP4('mail.lab.test', 143); m.starttls(ssl_context=ctx); print('imaplib starttls', m.sock.version(), m.login('bob', 'bob')[0]); m.logout()",
      "i = imaplib.IMAP4_SSL('mail.lab.test', 993, ssl_context=ctx); print('imaplib imaps', i.login('bob', 'bob')[0], i.select('INBOX', readonly=True)[0]); i.logout()",
    ].join('\n');
    const script = [
      `python3 -c "${python.replace(/"/g, '\\"')}"`,
      'echo "openssl: $(openssl s_client -starttls imap -connect mail.lab.test:143 -verify_return_error -brief </dev/null 2>&1 | grep Verification)"',
      'echo "curl imaps: $(curl -sS -u bob:bob imaps://mail.lab.test/ | grep -c INBOX)"',
      // The plain-text lesson on 143, as on POP3's 110: the greeting offers STARTTLS and AUTH=PLAIN.
      'echo "clear: $(curl -sS -u bob:bob imap://mail.lab.test/ | grep -c INBOX)"',
    ].join('\n');
    const { output } = await inClient(['client', 'bash', '-c', script]);
    expect(output).toContain('imaplib starttls TLSv1.3 OK');
    expect(output).toContain('imaplib imaps OK OK');
    expect(output).toContain('openssl: Verification: OK');
    expect(output).toContain('curl imaps: 1');
    expect(output).toContain('clear: 1');

    const pem = (await inClient(['client', 'wirelab', 'ca', '--pem'])).output.match(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n/m)?.[0];
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-imap-'));
    try {
      const file = path.join(dir, 'wirelab-ca.pem');
      await writeFile(file, pem!);
      const imaps = () => run('curl', ['-sS', '--noproxy', '*', '--cacert', file, '-u', 'bob:bob', `imaps://localhost:${ports.LAB_IMAPS_PORT}/`]);
      expect((await imaps()).stdout).toContain('INBOX');
      await lab.control('imap', 'tls-fault', { fault: 'expired' });
      const expired = await imaps();
      expect(expired.code).toBe(60);
      expect(expired.stderr).toMatch(/certificate has expired/);
      expect(await lab.clearTlsFaults()).toEqual(['imap']);
      expect((await imaps()).code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('wirelab ca --pem in the workstation is the CA the published TLS ports present; curl on this machine trusts it with --cacert', async () => {
    const pem = await inClient(['client', 'wirelab', 'ca', '--pem']);
    expect(pem.code).toBe(0);
    // Compose's own lines ("Creating ... done") come before it, on its standard error.
    const certificates = pem.output.match(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n/gm) ?? [];
    expect(certificates).toHaveLength(1);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-ca-'));
    try {
      const file = path.join(dir, 'wirelab-ca.pem');
      await writeFile(file, certificates[0]!);
      for (const variable of ['LAB_HTTPS_PORT', 'LAB_PROXY_HTTPS_PORT']) {
        const { stdout } = await run('curl', ['-sS', '--noproxy', '*', '--cacert', file, '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${ports[variable]}/`]);
        expect([variable, stdout]).toEqual([variable, '200']);
      }
      const smtps = await run('openssl', ['s_client', '-connect', `127.0.0.1:${ports.LAB_SMTPS_PORT}`, '-CAfile', file, '-verify_return_error', '-verify_ip', '127.0.0.1', '-brief'], { input: '' });
      expect(smtps.stderr).toContain('Verification: OK');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('SIGTERM stops each service within its grace period, cleanly', async () => {
    for (const service of ['dns', 'http', 'smtp', 'ftp', 'sftp']) {
      const container = await lab.containers.container(service);
      await container.stop({ t: 10 });
      const info = await container.inspect();
      // Exit 0: the service closed itself on SIGTERM, well before Docker's SIGKILL at 10 s (exit 137).
      expect([service, info.State.ExitCode]).toEqual([service, 0]);
      await lab.containers.act(service, 'start'); // and what shares its network (POP3 with SMTP)
    }
    await lab.waitHealthy(60_000);
  });

  test('pause freezes a service, disconnect takes it off the lab network; both come back', async () => {
    const url = `http://127.0.0.1:${ports.LAB_HTTP_PORT}/`;
    const page = () => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', '--noproxy', '*', url]).then((r) => (r.code === 0 ? r.stdout : `failed ${r.stdout}`));
    await lab.control('http', 'pause');
    expect((await lab.containers.status('http')).info?.state).toBe('paused');
    expect(await page()).toMatch(/^failed/); // the port accepts, the frozen process never answers
    await lab.control('http', 'unpause');
    expect(await page()).toBe('200');

    const fromClient = () => inClient(['client', 'wirelab', 'http', 'http://www.lab.test/']).then((r) => r.code);
    await lab.control('http', 'disconnect');
    expect((await lab.containers.status('http')).info?.address).toBe('disconnected');
    expect(await fromClient()).not.toBe(0);
    await lab.control('http', 'connect');
    expect((await lab.containers.status('http')).info?.address).toBe('172.28.0.80');
    // Back on the network: wait until the client reaches it again (bounded), as `wait:` does.
    let code = 1;
    for (let attempt = 0; attempt < 10 && code !== 0; attempt++) code = await fromClient();
    expect(code).toBe(0);
  });

  test('a service restarted with wirelab keeps its volume data (mail, uploads)', async () => {
    // Deliver a mail and upload a file through the lab, restart both services, read them back.
    const send = await inClient(['client', 'wirelab', 'smtp', '--host', 'mail.lab.test', '--port', '25', '--from', 'carol@example.test', '--to', 'bob@lab.test', '--subject', 'kept', '--body', 'survives a restart']);
    expect(send.output).toMatch(/250 2\.0\.0/);
    const put = await inClient(['--entrypoint', 'node', 'client', '/app/dist/services/main.js', 'wirelab', 'ftp', '--host', 'ftp.lab.test', '--user', 'alice', '--password', 'alice', '--put', '/app/lab/homes/bob/todo.txt:kept.txt']);
    expect(put.code).toBe(0);
    await lab.control('smtp', 'restart');
    await lab.control('ftp', 'restart');
    await lab.waitHealthy(60_000);
    const read = await inClient(['client', 'wirelab', 'pop3', '--host', 'mail.lab.test', '--user', 'bob', '--password', 'bob', '--retrieve', 'last']);
    expect(read.output).toContain('Subject: kept');
    const get = await inClient(['client', 'wirelab', 'ftp', '--host', 'ftp.lab.test', '--user', 'alice', '--password', 'alice', '--get', 'kept.txt']);
    expect(get.output).toContain('active and passive FTP');
  });

  test('docker compose run --rm client wirelab run: the workstation runs scenarios, lab steps included', async () => {
    // As a student types it: no project name given, the client finds its own lab.
    const { code, output } = await inClient(['-e', 'NO_COLOR=1', 'client', 'wirelab', 'run', 'scenarios/bad-gateway.yaml', 'scenarios/sftp-host-key.yaml']);
    expect(output).toMatch(/total\s+12\/12\s+all 2 passed/);
    expect(code).toBe(0);
  });

  test('a lab that is up already: wirelab says so, and --reuse runs on it and leaves it up', async () => {
    const again = await wirelab(['run', '--backend', 'docker', '--project', PROJECT, 'scenarios/dns-basics.yaml']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`wirelab: a lab is already up in Docker (Compose project ${PROJECT}). Run the scenarios on it with \`--reuse\``);
    // Under another project name it is the lab network that is taken: the one that holds it is named.
    const other = await wirelab(['run', '--backend', 'docker', '--project', `${PROJECT}2`, 'scenarios/dns-basics.yaml']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`a lab is already up in Docker as Compose project ${PROJECT} (its network ${PROJECT}_lab holds 172.28.0.0/24)`);
    const reused = await wirelab(['run', '--backend', 'docker', '--project', `${PROJECT}2`, '--reuse', 'scenarios/dns-basics.yaml']);
    expect(reused.stdout).toContain(`using the lab that is up (project ${PROJECT})`);
    expect(reused.stdout).toMatch(/all 1 passed/);
    expect(reused.code).toBe(0);
    expect((await lab.status()).every((s) => s.info?.health === 'healthy')).toBe(true);
  });

  test('a Docker network on the lab addresses, and a port in use, are named with the way out', async () => {
    // A network that is not a lab, on the addresses LAB_PREFIX moves the lab to.
    const network = `wirelabtest-in-the-way-${process.pid}`;
    await succeeds('docker', ['network', 'create', '--subnet', '10.99.8.0/24', network]);
    try {
      const taken = await wirelab(['up', '--backend', 'docker', '--project', `${PROJECT}3`], { LAB_PREFIX: '10.99.8' });
      expect(taken.code).toBe(2);
      expect(taken.stderr).toContain(`the lab network 10.99.8.0/24 overlaps another: the Docker network ${network} already uses 10.99.8.0/24`);
    } finally {
      await succeeds('docker', ['network', 'rm', network]);
    }
    // A program on this machine holds the HTTP port that a second lab (on its own network) wants.
    const holder = await listenTcp();
    const held = holder.port;
    try {
      const second = { ...(await freeLabPorts()), LAB_PREFIX: '10.99.9', LAB_HTTP_PORT: String(held) };
      const busy = await wirelab(['up', '--backend', 'docker', '--project', `${PROJECT}3`], second);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toContain(`http's port ${held}/tcp on 127.0.0.1 is already in use: another program holds it`);
      expect(busy.stderr).toContain('LAB_HTTP_PORT=');
      // Nothing of the half-made lab is left.
      const left = await succeeds('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}3`]);
      expect(left.stdout.trim()).toBe('');
    } finally {
      await holder.close();
    }
  });

  test('reports land on this machine at the path given, with the paths given; nothing from inside the client', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-report-'));
    try {
      const failing = path.join(dir, 'fails.yaml');
      await writeFile(failing, 'title: A page that is not there\nsteps:\n  - name: Fetch it\n    http: { url: "http://www.lab.test/nothing-here.html" }\n    expect: { status: 200 }\n');
      const out = path.join(dir, 'reports', 'result.json');
      const { code, stdout, stderr } = await wirelab(['run', '--backend', 'docker', '--project', PROJECT, '--reuse', 'scenarios/dns-basics.yaml', failing, '--report', 'json', '--out', out]);
      expect(code).toBe(1);
      expect(stdout).toContain(`json report written to ${out}`);
      expect(stdout).toContain(`got 404  ${failing}:5`); // the failure points at the file on this machine
      expect(stdout + stderr).not.toMatch(/\/run\/wirelab-result|\/work\//);
      const result = JSON.parse(await readFile(out, 'utf8')) as { backend: string; scenarios: { file: string }[] };
      expect(result.backend).toBe('docker');
      expect(result.scenarios.map((s) => s.file)).toEqual(['scenarios/dns-basics.yaml', failing]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the console: wirelab up prints its address with the token; it refuses without it, and acts on the lab from inside", async () => {
    const up = await wirelab(['up', '--backend', 'docker', '--project', PROJECT]);
    expect(up.code).toBe(0);
    const port = Number(ports.LAB_CONSOLE_PORT);
    const line = new RegExp(`^console: http://127\\.0\\.0\\.1:${port}/\\?token=([\\w-]+)$`, 'm').exec(up.stdout);
    expect([up.stdout, Boolean(line)]).toEqual([up.stdout, true]);
    const host = `127.0.0.1:${port}`;
    const headers = { Host: host, Cookie: `wirelab_console=${line![1]}` };
    const post = { ...headers, Origin: `http://${host}`, 'Content-Type': 'application/json' };
    expect((await request(port, 'GET', '/api/lab', { Host: host })).status).toBe(401);
    expect((await request(port, 'GET', '/api/lab', { ...headers, Host: `rebind.example:${port}` })).status).toBe(403);
    const view = (await request(port, 'GET', '/api/lab', headers)).json();
    expect(view.backend).toBe('network');
    expect(view.actions).toContain('disconnect');
    expect(view.services.find((s: { name: string }) => s.name === 'app')).toMatchObject({ address: '172.28.0.82', health: 'healthy' });
    const dns = (await request(port, 'POST', '/api/try', post, JSON.stringify({ action: 'dns', input: { query: 'www.lab.test' } }))).json();
    expect(dns.step.output.server).toBe('ns.lab.test:53');
    expect(dns.step.output.answers[0].data).toBe('172.28.0.80');
    expect((await request(port, 'POST', '/api/lab/app/stop', post, '{}')).json().state).toBe('stopped');
    try {
      const shop = (await request(port, 'POST', '/api/try', post, JSON.stringify({ action: 'http', input: { url: 'http://shop.lab.test/' } }))).json();
      expect(shop.step.output.status).toBe(502);
    } finally {
      await request(port, 'POST', '/api/lab/app/start', post, '{}');
    }
    expect((await request(port, 'GET', '/', headers)).body).toContain('<script src="/console.js"');
  });

  test('wirelab run --backend docker --capture: the client captures its own traffic on the lab network; each step carries its packets, on the standard ports', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-capture-'));
    try {
      const file = path.join(dir, 'docker.pcapng');
      const out = path.join(dir, 'result.json');
      const scenarios = ['refused-or-timeout', 'tcp-handshake', 'keep-alive-on-the-wire', 'passwords-on-the-wire', 'dns-udp-then-tcp'].map((s) => `scenarios/packets/${s}.yaml`);
      const { code, stdout, stderr } = await wirelab(['run', '--backend', 'docker', '--project', PROJECT, '--reuse', '--capture', file, '--report', 'json', '--out', out, ...scenarios]);
      if (code !== 0) throw new Error(`wirelab run --backend docker --capture failed (exit ${code}):\n${stdout}\n${stderr}`);
      expect(stdout).toContain(`the client's packets captured into ${file}`);
      // And the whole lab network's, beside it: the same HTTP handshake, seen on the bridge.
      const labFile = path.join(dir, 'docker-lab.pcap');
      expect(stdout).toContain(`captured into ${labFile}`);
      expect(await tsharkProblems(labFile)).toEqual([]);
      const syns = await tsharkRows(labFile, ['ip.src', 'ip.dst'], ['-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 80']);
      expect(syns).toContainEqual({ 'ip.src': '172.28.0.100', 'ip.dst': '172.28.0.80' });
      const result = JSON.parse(await readFile(out, 'utf8')) as WirelabResult;
      const steps = result.scenarios.flatMap((s) => s.steps);
      expect(steps.filter((s) => s.action !== 'lab' && !s.packets?.rows.length).map((s) => s.name)).toEqual([]);
      // Refused on both backends: POP3 stopped, its host up, the RST from mail.lab.test's kernel.
      const refused = steps.find((s) => s.name === 'The SYN leaves, and the answer is a RST')!.packets!;
      expect(refused.conversations.find((c) => c.transport === 'tcp')).toMatchObject({ server: '172.28.0.25:110', reset: 'server' });
      // In the lab network every service is on its standard port, at its own address.
      const first = result.scenarios.find((s) => s.file.endsWith('tcp-handshake.yaml'))!.steps[0]!.packets!;
      expect(first.conversations.find((c) => c.transport === 'tcp')).toMatchObject({ server: '172.28.0.80:80', handshake: true });
      expect(await tsharkProblems(file)).toEqual([]);
      // tshark decodes the lab's FTP on 21 without a decode-as: the password in clear.
      const ftp = await tsharkRows(file, ['ftp.request.arg'], ['-Y', 'ftp.request.command == "PASS"']);
      expect(ftp.map((r) => r['ftp.request.arg'])).toContain('alice');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // `wirelab down` takes the lab down: it is brought up again for the tests after this one.
  test('wirelab up --backend docker --capture: the lab network between containers (the SMTP relay, the services\' DNS lookups), finished by wirelab down', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-docker-labcapture-'));
    try {
      const file = path.join(dir, 'lab.pcap');
      const up = await wirelab(['up', '--backend', 'docker', '--project', PROJECT, '--capture', file]);
      if (up.code !== 0) throw new Error(`wirelab up --backend docker --capture failed (exit ${up.code}):\n${up.stdout}\n${up.stderr}`);
      expect(up.stdout).toContain(`capturing the lab network's packets (bridge wl-172.28.0) into ${file}`);
      // bob@lab.test to carol@example.test through submission: mail.lab.test relays it to example.test's MX.
      const subject = `relayed ${Date.now()}`;
      await succeeds('swaks', ['--silent', '2', '--server', `127.0.0.1:${ports.LAB_SUBMISSION_PORT}`, '--auth-user', 'bob', '--auth-password', 'bob', '--from', 'bob@lab.test', '--to', 'carol@example.test', '--header', `Subject: ${subject}`]);
      const inbox = async (): Promise<string> => (await run('curl', ['-s', '--noproxy', '*', '-u', 'carol:carol', `pop3://127.0.0.1:${ports.LAB_POP3_EXAMPLE_PORT}/`])).stdout;
      await poll("carol's mailbox at example.test to hold the relayed mail", async () => {
        for (const id of (await inbox()).split('\n').map((l) => l.split(' ')[0]).filter(Boolean)) {
          const mail = await run('curl', ['-s', '--noproxy', '*', '-u', 'carol:carol', `pop3://127.0.0.1:${ports.LAB_POP3_EXAMPLE_PORT}/${id}`]);
          if (mail.stdout.includes(subject)) return true;
        }
        return undefined;
      }, { ms: 60_000, everyMs: 500, describe: async () => `carol's list: ${await inbox()}` });
      const down = await wirelab(['down', '--project', PROJECT]);
      if (down.code !== 0) throw new Error(`wirelab down failed (exit ${down.code}):\n${down.stdout}\n${down.stderr}`);
      expect(down.stdout).toMatch(/\d+ packets captured into /);
      expect(down.stdout).toContain(`captured into ${file}`);
      // tcpdump ended cleanly: tshark reads the whole file.
      expect(await tsharkProblems(file)).toEqual([]);
      // The relay: mail.lab.test (172.28.0.25) hands the mail to mail.example.test (172.28.0.26) on 25, decoded as SMTP
      // on the standard port; it takes the STARTTLS offered (the lab CA), so after it the dialogue is TLS records.
      const relay = await tsharkRows(file, ['ip.src', 'ip.dst', 'smtp.req.command', 'smtp.response.code'], ['-Y', 'smtp && tcp.port == 25 && ip.addr == 172.28.0.26']);
      const said = relay.filter((r) => r['ip.src'] === '172.28.0.25' && r['ip.dst'] === '172.28.0.26').map((r) => r['smtp.req.command']);
      const answered = relay.filter((r) => r['ip.src'] === '172.28.0.26' && r['ip.dst'] === '172.28.0.25').map((r) => r['smtp.response.code']);
      expect({ said, answered }).toEqual({ said: expect.arrayContaining(['EHLO']), answered: expect.arrayContaining(['220', '250']) });
      const starttls = await tsharkRows(file, ['frame.number'], ['-Y', 'ip.src == 172.28.0.25 && ip.dst == 172.28.0.26 && smtp.command_line contains "STARTTLS"']);
      expect(starttls).toHaveLength(1);
      const hello = await tsharkRows(file, ['ip.src', 'ip.dst', 'tls.handshake.extensions_server_name'], ['-Y', 'tls.handshake.type == 1 && tcp.dstport == 25']);
      expect(hello).toContainEqual({ 'ip.src': '172.28.0.25', 'ip.dst': '172.28.0.26', 'tls.handshake.extensions_server_name': 'mail.example.test' });
      // DNS: the relay asked the lab DNS for example.test's mail host, from its own address.
      const dns = await tsharkRows(file, ['ip.src', 'ip.dst', 'dns.qry.name', 'dns.qry.type'], ['-Y', 'dns.flags.response == 0']);
      expect(dns.every((r) => r['ip.dst'] === '172.28.0.53')).toBe(true);
      expect(dns).toContainEqual(expect.objectContaining({ 'ip.src': '172.28.0.25', 'dns.qry.name': 'example.test', 'dns.qry.type': '15' }));
    } finally {
      await rm(dir, { recursive: true, force: true });
      await lab.start();
    }
  });

  test('every scenario passes on the docker backend, unchanged', async () => {
    const { code, stdout, stderr } = await wirelab(['run', '--backend', 'docker', '--project', PROJECT, '--reuse'], {}, 280_000);
    if (code !== 0) throw new Error(`wirelab run --backend docker failed (exit ${code}):\n${stdout}\n${stderr}`);
    expect(stdout).toMatch(/total\s+(\d+)\/\1\s+all \d+ passed/);
  });

});
