import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startUp, type UpLab } from '../helpers/cli';
import { wirelab } from '../helpers/process';

/**
 * The exploring clients (`wirelab dns`, `http`, `smtp`, `pop3`, `ftp`, `sftp`) against
 * labs started with `wirelab up --free-ports`, two at once, as a student would in two
 * terminals: an explorer talks to the lab its --dns names (or the only one running), on
 * the ports that lab really got, and never to another; it exits 1 when the server said
 * no, with the reply code once; `wirelab dns` asks again over TCP when the UDP answer was
 * truncated, as dig does. curl and dig check what the explorers say.
 */

let tmp: string;
/** The labs' files go here, not in this user's runtime folder: other labs on this machine stay out of it. */
let env: Record<string, string>;
let one: UpLab;
let two: UpLab;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'wirelab-explore-'));
  env = { WIRELAB_RUNTIME_DIR: path.join(tmp, 'run') };
  [one, two] = await Promise.all([
    startUp(['--free-ports', '--quiet', '--data', path.join(tmp, 'one')], env),
    startUp(['--free-ports', '--quiet', '--data', path.join(tmp, 'two')], env),
  ]);
}, 60000);
afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const run = (args: string[], extra: Record<string, string> = {}) => wirelab(args, { env: { ...env, ...extra } });
const portOf = (endpoint: string): string => endpoint.split(':')[1]!;

function curl(url: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '--max-time', '10', ...args, url], (err, stdout, stderr) => (err ? reject(new Error(`curl ${url}: ${stderr}`)) : resolve(stdout))),
  );
}

function dig(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile('dig', args, { timeout: 20000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
}

/** Every "NNN NNN": a reply code printed twice in a row. */
const codeTwice = /\b(\d{3}) \1\b/;

describe('item 9: an explorer talks to the lab it names, on the ports that lab really got', () => {
  test('wirelab up --free-ports prints try: lines with its real ports, and the file the explorers read', () => {
    const dns = two.endpoint('dns');
    const http = two.endpoint('http');
    expect(two.output()).toContain(`try:  dig @127.0.0.1 -p ${portOf(dns)} www.lab.test`);
    expect(two.output()).toContain(`curl http://${http}/`);
    expect(two.output()).toContain(`--dns ${dns}`);
    expect(two.output()).not.toMatch(/-p 5353|:8080\//);
    const file = /^ports: (.+)$/m.exec(two.output())![1]!;
    expect(existsSync(file)).toBe(true);
  });

  test('--dns of the second lab: the request reaches the second lab, not the first (nor whatever holds 8080)', async () => {
    const title = `only in lab two ${process.pid}`;
    const posted = await run(['http', '-X', 'POST', 'http://www.lab.test/api/notes', '--json', JSON.stringify({ title, body: 'x' }), '--dns', two.endpoint('dns')]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: '' });
    expect(posted.stdout).toMatch(/HTTP\/1\.1 201 Created/);
    // curl, straight to each lab's HTTP port: the note is in the second lab only.
    expect(await curl(`http://${two.endpoint('http')}/api/notes`)).toContain(title);
    expect(await curl(`http://${one.endpoint('http')}/api/notes`)).not.toContain(title);
    // And the explorer reads it back through the second lab's DNS and port.
    const got = await run(['http', 'http://www.lab.test/api/notes', '--dns', two.endpoint('dns')]);
    expect(got.code).toBe(0);
    expect(got.stdout).toContain(title);
  }, 90000);

  test('--lab-ports FILE names a lab too', async () => {
    const file = /^ports: (.+)$/m.exec(one.output())![1]!;
    const got = await run(['http', 'http://www.lab.test/api/notes', '--lab-ports', file]);
    expect(got.code).toBe(0);
    expect(got.stdout).not.toContain(`only in lab two ${process.pid}`);
    const bad = await run(['http', 'http://www.lab.test/', '--lab-ports', path.join(tmp, 'no-such-file.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--lab-ports: .*no-such-file\.json/);
  }, 90000);

  test('with two labs up and no --dns, a lab name is not guessed: it says to choose, with both choices', async () => {
    const { code, stdout, stderr } = await run(['http', 'http://www.lab.test/']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('2 labs started by `wirelab up` are running here; choose one with --dns');
    expect(stderr).toContain(`--dns ${one.endpoint('dns')}`);
    expect(stderr).toContain(`--dns ${two.endpoint('dns')}`);
    // An address on this machine needs no choice.
    expect((await run(['http', `http://${one.endpoint('http')}/`])).code).toBe(0);
  }, 90000);

  test('a DNS that belongs to no known lab: the explorer asks it, then says what to pass instead of guessing a port', async () => {
    // The second lab's DNS, but the lab files are elsewhere: nothing says where its HTTP server is.
    const { code, stdout, stderr } = await run(['http', 'http://www.lab.test/', '--dns', two.endpoint('dns')], { WIRELAB_RUNTIME_DIR: path.join(tmp, 'empty') });
    expect(code).toBe(2);
    expect(stdout).toMatch(/A\? www\.lab\.test/); // the lookup happened, in that DNS
    expect(stdout).not.toMatch(/GET \/ HTTP/); // and nothing was sent anywhere after it
    expect(stderr).toContain('where www.lab.test:80 listens is not known');
    expect(stderr).toContain('--lab-ports FILE');
  });

  test('wirelab dns with no --server asks the lab wirelab up started (the only one left once the first stops)', async () => {
    const file = /^ports: (.+)$/m.exec(one.output())![1]!;
    expect(await one.stop()).toBe(0);
    expect(existsSync(file)).toBe(false); // the lab's file goes with it
    const { code, stdout, stderr } = await run(['dns', 'lab.test', 'MX']);
    expect(code).toBe(0);
    expect(stderr).toContain(`lab: the one \`wirelab up\` started, DNS ${two.endpoint('dns')}`);
    expect(stdout).toMatch(/lab\.test\.\t\d+\tIN\tMX\t10 mail\.lab\.test\./);
    const page = await run(['http', 'http://www.lab.test/api/notes']);
    expect(page.code).toBe(0);
    expect(page.stdout).toContain(`only in lab two ${process.pid}`);
  }, 90000);
});

describe('item 10: an explorer exits 1 when the server said no, and prints its reply code once', () => {
  const at = (): string[] => ['--dns', two.endpoint('dns')];

  test('dns: NXDOMAIN', async () => {
    const { code, stderr } = await run(['dns', 'no-such-name.lab.test', '--server', two.endpoint('dns')]);
    expect({ code, stderr }).toEqual({ code: 1, stderr: 'wirelab: the server answered NXDOMAIN\n' });
  });

  test('http: 404', async () => {
    const { code, stdout, stderr } = await run(['http', 'http://www.lab.test/no-such-page', ...at()]);
    expect(code).toBe(1);
    expect(stdout).toContain('HTTP/1.1 404 Not Found');
    expect(stderr).toMatch(/^wirelab: the server answered 404 Not Found$/m);
  });

  test('smtp: a recipient refused at RCPT', async () => {
    const { code, stderr } = await run(['smtp', '--from', 'carol@example.test', '--to', 'nobody@lab.test', ...at()]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^wirelab: RCPT TO:<nobody@lab\.test> was refused: 550 5\.1\.1 /m);
    expect(stderr).not.toMatch(codeTwice);
  });

  test('pop3: a wrong password', async () => {
    const { code, stderr } = await run(['pop3', '--user', 'bob', '--password', 'wrong', ...at()]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^wirelab: the login was refused: -ERR /m);
  });

  test('ftp: a missing file, an anonymous upload, a wrong password', async () => {
    const missing = await run(['ftp', '--get', 'no-such-file.txt', ...at()]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^download: failed 550 \S/m);
    expect(missing.stderr).toBe('wirelab: 1 of 1 action(s) failed: download\n');
    const local = path.join(tmp, 'upload.txt');
    await writeFile(local, 'anonymous may not write\n');
    const upload = await run(['ftp', '--put', local, '--list', '/', ...at()]);
    expect(upload.code).toBe(1);
    expect(upload.stdout).toMatch(/^upload: failed 5\d\d \S/m);
    expect(upload.stderr).toBe('wirelab: 1 of 2 action(s) failed: upload\n');
    const login = await run(['ftp', '--user', 'alice', '--password', 'wrong', '--list', '/', ...at()]);
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/^wirelab: the login was refused: 530 \S/m);
    for (const r of [missing, upload, login]) expect(r.stdout + r.stderr).not.toMatch(codeTwice);
  }, 90000);

  test('sftp: a missing file, a wrong password', async () => {
    const missing = await run(['sftp', '--user', 'alice', '--password', 'alice', '--get', 'no-such-file.txt', ...at()]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^download: failed 2 no such file/m);
    const login = await run(['sftp', '--user', 'alice', '--password', 'wrong', '--list', '.', ...at()]);
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/^wirelab: the login was refused: /m);
  }, 90000);

  test('and 0 when it did what was asked', async () => {
    expect((await run(['ftp', '--list', '/', ...at()])).code).toBe(0);
    expect((await run(['smtp', '--from', 'carol@example.test', '--to', 'bob@lab.test', '--subject', 'hi', ...at()])).code).toBe(0);
  }, 90000);
});

describe('item 11: wirelab dns asks again over TCP when the UDP answer is truncated, as dig does', () => {
  test('big.lab.test TXT: a truncated UDP answer, then the whole answer over TCP; the same records dig gets', async () => {
    const dns = two.endpoint('dns');
    const { code, stdout } = await run(['dns', 'big.lab.test', 'TXT', '--server', dns]);
    expect(code).toBe(0);
    const arrows = stdout.split('\n').filter((l) => /client [→←·] /.test(l));
    expect(arrows.map((l) => l.replace(/^.*ms {2}/, ''))).toEqual([
      expect.stringMatching(/^dns\/udp .*client → ns\.lab\.test:53 {2}TXT\? big\.lab\.test$/),
      expect.stringMatching(/^dns\/udp .*client ← ns\.lab\.test:53 {2}NOERROR \(aa tc\)$/),
      expect.stringMatching(/^dns {2}client · ns\.lab\.test:53 {2}the answer came back truncated \(TC\): asking again over TCP, as dig does$/),
      expect.stringMatching(/^dns\/tcp .*client → ns\.lab\.test:53 {2}TXT\? big\.lab\.test$/),
      expect.stringMatching(/^dns\/tcp {2}706 B {2}client ← ns\.lab\.test:53 {2}NOERROR TXT /),
    ]);
    // dig without EDNS (so 512 bytes at most over UDP) does the same, and gets the same record.
    const digged = await dig(`@127.0.0.1`, '-p', portOf(dns), '+noedns', 'big.lab.test', 'TXT');
    expect(digged).toContain(';; Truncated, retrying in TCP mode.');
    expect(digged).toMatch(/MSG SIZE {2}rcvd: 706/);
    const strings = (text: string): string[] => [...(/big\.lab\.test\.\s+3600\s+IN\s+TXT\s+(.*)$/m.exec(text)?.[1] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    expect(strings(stdout)).toHaveLength(5);
    expect(strings(stdout)).toEqual(strings(digged));
  }, 90000);

  test('--tcp asks over TCP at once; an answer that fits is not asked twice', async () => {
    const tcp = await run(['dns', 'big.lab.test', 'TXT', '--tcp', '--server', two.endpoint('dns')]);
    expect(tcp.stdout).not.toMatch(/dns\/udp/);
    const small = await run(['dns', 'www.lab.test', '--server', two.endpoint('dns')]);
    expect(small.stdout).not.toMatch(/dns\/tcp|truncated/);
  }, 90000);
});

describe('wirelab imap prints the IMAP dialogue: tagged commands, untagged responses', () => {
  const at = (): string[] => ['--dns', two.endpoint('dns')];
  const alice = ['--user', 'alice', '--password', 'alice'];

  test('a mail sent with wirelab smtp: found by a search, then its text by UID, the same text curl fetches', async () => {
    const subject = `imap explorer ${process.pid}`;
    expect((await run(['smtp', '--from', 'carol@example.test', '--to', 'alice@lab.test', '--subject', subject, '--body', 'read me over IMAP', ...at()])).code).toBe(0);
    const listed = await run(['imap', ...alice, '--list', '--search', `SUBJECT "${subject}"`, ...at()]);
    expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(listed.stdout).toMatch(/client → mail\.lab\.test:143 {2}a1 LOGIN alice alice$/m);
    expect(listed.stdout).toMatch(/client ← mail\.lab\.test:143 {2}\* LIST \(.*\\Sent\) "\." Sent$/m);
    expect(listed.stdout).toMatch(/client ← mail\.lab\.test:143 {2}\* \d+ EXISTS$/m);
    expect(listed.stdout).toMatch(/client → mail\.lab\.test:143 {2}a\d+ UID SEARCH SUBJECT "imap explorer \d+"$/m);
    const uid = new RegExp(`UID (\\d+) +\\S* +carol@example\\.test +${subject}`).exec(listed.stdout)?.[1];
    expect(uid).toMatch(/^\d+$/);
    const fetched = await run(['imap', ...alice, '--fetch', uid!, '--uid', '--items', 'uid', 'text', '--peek', ...at()]);
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toMatch(new RegExp(`a\\d+ UID FETCH ${uid} \\(UID BODY\\.PEEK\\[TEXT\\]\\)$`, 'm'));
    const text = await curl(`imap://127.0.0.1:${portOf(two.endpoint('imap'))}/INBOX;UID=${uid};SECTION=TEXT`, '--user', 'alice:alice');
    expect(text).toBe('read me over IMAP\r\n');
    expect(fetched.stdout).toContain(`\n${text}`);
  }, 90000);

  test('a wrong password: exit 1 and the refusal, once; a mailbox that is not there: exit 1 and why', async () => {
    const login = await run(['imap', '--user', 'alice', '--password', 'wrong', ...at()]);
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/^wirelab: the login was refused: NO \[AUTHENTICATIONFAILED\] \S/m);
    const missing = await run(['imap', ...alice, '--mailbox', 'Nowhere', ...at()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^wirelab: EXAMINE Nowhere was refused: NO \[NONEXISTENT\] /m);
  }, 90000);
});
