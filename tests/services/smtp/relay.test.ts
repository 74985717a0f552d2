/**
 * Relay between the lab's two mail domains, through the lab's real DNS server: two
 * SmtpServers (lab.test and example.test) on loopback ports, a DnsServer with the lab
 * zones, and a dialer that routes the lab addresses of the zones (172.28.0.25:25,
 * 172.28.0.26:25) to those ports. Nothing leaves 127.0.0.1.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createLogger, parseLogLine, silentSink } from '../../../services/common/logger';
import { loadUsers } from '../../../services/common/users';
import { DnsServer } from '../../../services/dns/server';
import { RelayQueue, type QueueEntry } from '../../../services/smtp/queue';
import { LAB_DIR } from '../../helpers/paths';
import { freePort } from '../../helpers/ports';
import { bindUdp, listenTcp } from '../../helpers/socket';
import { inbox, loopbackDialer, startSmtp, swaks, tempDir, waitForInbox, wireSummaries, type RunningSmtp } from './harness';

const ALICE = ['--from', 'alice@lab.test', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'alice'];

let dns: DnsServer;
let dnsPort: number;
/** The dialer's routes; each test fills in the ports of its servers. */
let routes: Record<string, number>;
const dialer = () => loopbackDialer({ host: '127.0.0.1', port: dnsPort }, routes);

beforeAll(async () => {
  dns = DnsServer.fromLab(LAB_DIR, { log: createLogger('dns', { sink: silentSink }) });
  dnsPort = (await dns.listen(0, '127.0.0.1')).port;
});
afterAll(() => dns.close());

const running: RunningSmtp[] = [];
const dirs: string[] = [];
beforeEach(() => {
  routes = {};
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** The two mail servers of the lab, each with its own data directory, routed by the dialer. */
async function startBoth(labOptions: Parameters<typeof startSmtp>[0] = {}, exampleOptions: Parameters<typeof startSmtp>[0] = {}): Promise<{ lab: RunningSmtp; example: RunningSmtp }> {
  const lab = await startSmtp({ dialer: dialer(), retryDelaysMs: [100], ...labOptions });
  const example = await startSmtp({ domain: 'example.test', dialer: dialer(), ...exampleOptions }, undefined, { smtp: 0 });
  running.push(lab, example);
  dirs.push(lab.dataDir, example.dataDir);
  routes['172.28.0.25:25'] = lab.smtp;
  routes['172.28.0.26:25'] = example.smtp;
  return { lab, example };
}

async function queueFiles(dataDir: string, domain = 'lab.test'): Promise<string[]> {
  return (await readdir(path.join(dataDir, 'mail', 'queue', domain)).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
}

test('alice submits to carol@example.test: MX lookup, second hop, two Received fields, the queue empties', async () => {
  const { lab, example } = await startBoth();
  const result = await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE, '--header', 'Subject: over the wire');
  const id = /<- {2}250 2\.0\.0 Ok: queued as ([0-9A-F]{10})/.exec(result.stdout)?.[1];
  expect(id).toBeDefined();

  const [message] = await waitForInbox(example.dataDir, 'example.test', 'carol');
  const received = message!.match(/^Received: [^\r]*\r\n\t[^\r]*\r\n\t[^\r]*\r\n/gm)!;
  expect(received).toHaveLength(2);
  expect(received[0]).toMatch(/^Received: from mail\.lab\.test \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.test \(wirelab\) with ESMTP id [0-9A-F]{10};/);
  expect(received[1]).toMatch(new RegExp(`^Received: from client\\.lab\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mail\\.lab\\.test \\(wirelab\\) with ESMTPA id ${id};`));
  expect(message).toContain('Subject: over the wire\r\n');

  await lab.logs.waitFor(/ relay delivered id=\S+ to=carol@example\.test mx=mail\.example\.test reply="250 2\.0\.0 Ok: delivered as/);
  expect(await queueFiles(lab.dataDir)).toEqual([]);
  expect(await inbox(lab.dataDir, 'lab.test', 'alice')).toEqual([]); // no bounce

  const wire = wireSummaries(lab.logs);
  expect(wire).toEqual(
    expect.arrayContaining([
      'send dns mail.lab.test -> ns.lab.test:53: MX? example.test',
      'recv dns ns.lab.test:53 -> mail.lab.test: NOERROR, MX 10 mail.example.test, mail.example.test A 172.28.0.26',
      'connect smtp mail.lab.test -> mail.example.test:25: connect to 172.28.0.26:25',
    ]),
  );
  const smtp = wire.filter((w) => w.includes(' smtp ') && !w.startsWith('connect') && !w.startsWith('close'));
  expect(smtp.map((w) => w.replace(/( id| as) [0-9A-F]{10}/g, '$1 <id>'))).toEqual([
    'recv smtp mail.example.test:25 -> mail.lab.test: 220 mail.example.test ESMTP wirelab',
    'send smtp mail.lab.test -> mail.example.test:25: EHLO mail.lab.test',
    'recv smtp mail.example.test:25 -> mail.lab.test: 250-mail.example.test Nice to meet you, [127.0.0.1]\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250-ENHANCEDSTATUSCODES\n250 SIZE 10485760',
    'send smtp mail.lab.test -> mail.example.test:25: MAIL FROM:<alice@lab.test>',
    'recv smtp mail.example.test:25 -> mail.lab.test: 250 2.1.0 Accepted',
    'send smtp mail.lab.test -> mail.example.test:25: RCPT TO:<carol@example.test>',
    'recv smtp mail.example.test:25 -> mail.lab.test: 250 2.1.5 Accepted',
    'send smtp mail.lab.test -> mail.example.test:25: DATA',
    'recv smtp mail.example.test:25 -> mail.lab.test: 354 End data with <CR><LF>.<CR><LF>',
    expect.stringMatching(/^send smtp mail\.lab\.test -> mail\.example\.test:25: \(the message: \d+ bytes, then <CRLF>\.<CRLF>\)$/),
    'recv smtp mail.example.test:25 -> mail.lab.test: 250 2.0.0 Ok: delivered as <id>',
    'send smtp mail.lab.test -> mail.example.test:25: QUIT',
    'recv smtp mail.example.test:25 -> mail.lab.test: 221 2.0.0 Bye',
  ]);
  // The runner reads these lines back with parseLogLine().
  const line = lab.logs.lines.find((l) => / wire kind=send proto=dns /.test(l))!;
  expect(parseLogLine(line)).toMatchObject({ service: 'smtp', message: 'wire', fields: { kind: 'send', proto: 'dns', from: 'mail.lab.test', to: 'ns.lab.test:53', summary: 'MX? example.test' } });
});

test('one message to a local and a remote recipient: bob has it at once, carol after the relay', async () => {
  const { lab, example } = await startBoth();
  const result = await swaks(lab.submission, '--to', 'bob@lab.test,carol@example.test', ...ALICE, '--header', 'Subject: both');
  expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as/);
  expect(await inbox(lab.dataDir, 'lab.test', 'bob')).toHaveLength(1); // on disk before the 250
  await waitForInbox(example.dataDir, 'example.test', 'carol');
});

test('remote down: 250 and queued on disk; delivered after both servers restart on the same data directory', async () => {
  const examplePort = await freePort(); // nothing listens there yet: connection refused
  routes['172.28.0.26:25'] = examplePort;
  const dataDir = await tempDir();
  dirs.push(dataDir);
  const first = await startSmtp({ dialer: dialer(), retryDelaysMs: [200] }, dataDir);
  const result = await swaks(first.submission, '--to', 'carol@example.test', ...ALICE, '--header', 'Subject: patience');
  expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as/);
  await first.logs.waitFor(/ relay deferred id=\S+ to=carol@example\.test attempt=1 retry_in_ms=200 reason="cannot connect to mail\.example\.test/);
  await first.stop();

  const files = await queueFiles(dataDir);
  expect(files).toHaveLength(2);
  const entry = JSON.parse(await readFile(path.join(dataDir, 'mail', 'queue', 'lab.test', files.find((f) => f.endsWith('.json'))!), 'utf8')) as QueueEntry;
  expect(entry).toMatchObject({ from: 'alice@lab.test', domain: 'example.test', recipients: ['carol@example.test'], attempts: 1 });
  expect(entry.lastError).toMatch(/ECONNREFUSED/);

  const example = await startSmtp({ domain: 'example.test' }, undefined, { smtp: examplePort });
  running.push(example);
  dirs.push(example.dataDir);
  const second = await startSmtp({ dialer: dialer(), retryDelaysMs: [200] }, dataDir);
  running.push(second);
  const [message] = await waitForInbox(example.dataDir, 'example.test', 'carol');
  expect(message).toContain('Subject: patience');
  expect(message!.match(/^Received: /gm)).toHaveLength(2);
  await second.logs.waitFor(/ relay delivered id=\S+ to=carol@example\.test/);
  expect(await queueFiles(dataDir)).toEqual([]);
});

test('a 5xx from the remote: a bounce in alice\'s Maildir naming the recipient and the reply, the original header attached', async () => {
  const { lab } = await startBoth();
  const result = await swaks(lab.submission, '--to', 'nobody@example.test', ...ALICE, '--header', 'Subject: to nobody');
  expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as/);
  const [bounce] = await waitForInbox(lab.dataDir, 'lab.test', 'alice');
  expect(bounce).toContain('From: Mail Delivery System <MAILER-DAEMON@lab.test>\r\n');
  expect(bounce).toContain('To: <alice@lab.test>\r\n');
  expect(bounce).toContain('Subject: Undelivered Mail Returned to Sender\r\n');
  expect(bounce).toMatch(/Content-Type: multipart\/report; report-type=delivery-status; boundary="/);
  expect(bounce).toContain('<nobody@example.test>: host mail.example.test said:\r\n    550 5.1.1 <nobody@example.test>: Recipient address rejected: no such user here (in reply to RCPT TO command)\r\n');
  expect(bounce).toContain('Final-Recipient: rfc822; nobody@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mail.example.test\r\n');
  expect(bounce).toMatch(/Content-Type: text\/rfc822-headers\r\n\r\nReceived: from client\.lab\.test [\s\S]*Subject: to nobody\r\n/);
  await lab.logs.waitFor(/ relay failed id=\S+ to=nobody@example\.test status=5\.1\.1/);
  expect(await queueFiles(lab.dataDir)).toEqual([]);
  expect(await inbox(lab.dataDir, 'lab.test', 'alice')).toHaveLength(1);
});

test.each([
  ['a name that does not exist (NXDOMAIN)', 'someone@nosuch.lab.test', /nosuch\.lab\.test: no such domain \(NXDOMAIN\)/, '5.1.2'],
  ['a domain outside the lab (REFUSED by the lab DNS)', 'someone@example.com', /example\.com is not a lab domain: the lab DNS refused to answer for it \(REFUSED\)/, '5.1.2'],
  ['no MX and no A', 'someone@hello.lab.test', /hello\.lab\.test has no MX and no A record/, '5.1.2'],
  ['an implicit MX whose address the dialer does not route', 'someone@www.lab.test', /cannot route to www\.lab\.test \(172\.28\.0\.80\): 172\.28\.0\.80:25 is not routed in this test/, '5.4.4'],
])('permanent failure: %s -> a bounce at once', async (_name, to, reason, status) => {
  const { lab } = await startBoth();
  expect((await swaks(lab.submission, '--to', to, ...ALICE)).stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as/);
  const [bounce] = await waitForInbox(lab.dataDir, 'lab.test', 'alice');
  expect(bounce).toContain(`<${to}>:\r\n`);
  expect(bounce).toMatch(reason);
  expect(bounce).toContain(`Status: ${status}\r\n`);
  expect(bounce).toContain('Diagnostic-Code: x-wirelab; ');
  await lab.logs.waitFor(new RegExp(` relay failed id=\\S+ to=${to.replace(/\./g, '\\.')} status=${status.replace(/\./g, '\\.')}`));
});

test('a 4xx for one recipient: the other is delivered, that one is retried (retryDelaysMs) and delivered next time', async () => {
  const users = [...(await loadUsers(LAB_DIR)), { name: 'dave', password: 'dave', domain: 'example.test' }];
  const { lab, example } = await startBoth({ retryDelaysMs: [150] }, { users, maxRecipients: 1 });
  expect((await swaks(lab.submission, '--to', 'carol@example.test,dave@example.test', ...ALICE)).stdout).toMatch(/Ok: queued as/);
  await lab.logs.waitFor(/ relay deferred id=\S+ to=dave@example\.test attempt=1 retry_in_ms=150 reason="452 4\.5\.3 Too many recipients/);
  expect(await inbox(example.dataDir, 'example.test', 'carol')).toHaveLength(1);
  await waitForInbox(example.dataDir, 'example.test', 'dave');
  await lab.logs.waitFor(/ relay delivered id=\S+ to=dave@example\.test/);
  expect(await inbox(example.dataDir, 'example.test', 'carol')).toHaveLength(1); // not sent twice
  expect(await inbox(lab.dataDir, 'lab.test', 'alice')).toEqual([]);
});

test('postmaster@example.test from alice on 587: relayed by MX like any address, into carol\'s mailbox there (lab/aliases.yaml)', async () => {
  const { lab, example } = await startBoth();
  expect((await swaks(lab.submission, '--to', 'postmaster@example.test', ...ALICE, '--header', 'Subject: for the postmaster')).stdout).toMatch(/<- {2}250 2\.0\.0 Ok: queued as/);
  const [message] = await waitForInbox(example.dataDir, 'example.test', 'carol');
  expect(message).toContain('Subject: for the postmaster\r\n');
  await lab.logs.waitFor(/ relay delivered id=\S+ to=postmaster@example\.test mx=mail\.example\.test /);
  await example.logs.waitFor(/ rcpt to conn=c\d+ to=postmaster@example\.test mailbox=carol code=250/);
});

test('retryDelaysMs: each wait is the next delay, the last one repeats', async () => {
  routes['172.28.0.26:25'] = await freePort();
  const lab = await startSmtp({ dialer: dialer(), retryDelaysMs: [50, 100] });
  running.push(lab);
  dirs.push(lab.dataDir);
  await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE);
  await lab.logs.waitFor(/ relay deferred .* attempt=3 /);
  const waits = lab.logs.lines.filter((l) => / relay deferred /.test(l)).map((l) => /attempt=(\d+) retry_in_ms=(\d+)/.exec(l)!.slice(1).join(':'));
  expect(waits.slice(0, 3)).toEqual(['1:50', '2:100', '3:100']);
});

test('maxQueueAgeMs: a message that is too old when an attempt fails again bounces', async () => {
  routes['172.28.0.26:25'] = await freePort();
  const lab = await startSmtp({ dialer: dialer(), retryDelaysMs: [50], maxQueueAgeMs: 1 });
  running.push(lab);
  dirs.push(lab.dataDir);
  await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE, '--header', 'Subject: too late');
  const [bounce] = await waitForInbox(lab.dataDir, 'lab.test', 'alice');
  expect(bounce).toMatch(/<carol@example\.test>: host mail\.example\.test said:\r\n {4}gave up after 1 attempts in 0 h; last error: cannot connect to mail\.example\.test/);
  expect(bounce).toContain('Status: 5.4.7\r\n');
  // The bounce is delivered before the entry leaves the queue (relayWorker.ts); "relay failed" is logged after both.
  await lab.logs.waitFor(/ relay failed .*to=carol@example\.test status=5\.4\.7 /);
  expect(await queueFiles(lab.dataDir)).toEqual([]);
});

test('dnsTimeoutMs: a DNS server that never answers is a temporary failure', async () => {
  const silent = await bindUdp();
  try {
    const lab = await startSmtp({ dialer: loopbackDialer({ host: '127.0.0.1', port: silent.port }, {}), dnsTimeoutMs: 100, retryDelaysMs: [60_000] });
    running.push(lab);
    dirs.push(lab.dataDir);
    await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE);
    await lab.logs.waitFor(/ relay deferred id=\S+ to=carol@example\.test attempt=1 retry_in_ms=60000 reason="DNS lookup of MX example\.test failed: no DNS reply/);
    expect(await queueFiles(lab.dataDir)).toHaveLength(2);
  } finally {
    await silent.close();
  }
});

test('relayTimeoutMs: a server that never greets is a temporary failure', async () => {
  const mute = await listenTcp(); // accepts, says nothing
  routes['172.28.0.26:25'] = mute.port;
  try {
    const lab = await startSmtp({ dialer: dialer(), relayTimeoutMs: 150, retryDelaysMs: [60_000] });
    running.push(lab);
    dirs.push(lab.dataDir);
    await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE);
    await lab.logs.waitFor(/ relay deferred id=\S+ .* reason="lost the connection to mail\.example\.test: no reply within 150 ms"/);
  } finally {
    await mute.close();
  }
});

test('dnsLabel names the DNS server on the wire lines', async () => {
  const { lab, example } = await startBoth({ dnsLabel: 'dns.lab.test:5353' });
  await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE);
  await waitForInbox(example.dataDir, 'example.test', 'carol');
  expect(wireSummaries(lab.logs)).toContain('send dns mail.lab.test -> dns.lab.test:5353: MX? example.test');
});

test('close() stops the worker: an attempt under way is cut off and the entry stays for the next start', async () => {
  const mute = await listenTcp();
  routes['172.28.0.26:25'] = mute.port;
  try {
    const lab = await startSmtp({ dialer: dialer(), relayTimeoutMs: 30_000 });
    dirs.push(lab.dataDir);
    await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE);
    await lab.logs.waitFor(/ wire kind=connect proto=smtp /);
    await lab.stop(); // well before the 30 s timeout
    const files = await queueFiles(lab.dataDir);
    expect(files).toHaveLength(2);
    const entry = JSON.parse(await readFile(path.join(lab.dataDir, 'mail', 'queue', 'lab.test', files.find((f) => f.endsWith('.json'))!), 'utf8')) as QueueEntry;
    expect(entry.attempts).toBe(0); // a cut-off attempt does not count
  } finally {
    await mute.close();
  }
});

test('a queued message with an empty sender (a bounce itself) is never bounced; the queue is picked up at start', async () => {
  const dataDir = await tempDir();
  dirs.push(dataDir);
  const message = Buffer.from('From: MAILER-DAEMON@lab.test\r\nSubject: a bounce\r\n\r\nreturned\r\n');
  await new RelayQueue(path.join(dataDir, 'mail', 'queue', 'lab.test')).add(
    { id: 'OLDBOUNCE01-1', from: '', domain: 'example.test', recipients: ['nobody@example.test'], createdAt: Date.now(), attempts: 0, nextAttemptAt: 0 },
    message,
  );
  const example = await startSmtp({ domain: 'example.test' }, undefined, { smtp: 0 });
  running.push(example);
  dirs.push(example.dataDir);
  routes['172.28.0.26:25'] = example.smtp;
  const lab = await startSmtp({ dialer: dialer() }, dataDir);
  running.push(lab);
  await lab.logs.waitFor(/ relay failed id=OLDBOUNCE01-1 to=nobody@example\.test status=5\.1\.1/);
  expect(lab.logs.lines.some((l) => / bounce not sent id=OLDBOUNCE01-1 reason="the message has no sender \(it is itself a bounce\)"/.test(l))).toBe(true);
  expect(wireSummaries(lab.logs)).toContain('send smtp mail.lab.test -> mail.example.test:25: MAIL FROM:<>');
  expect(await queueFiles(dataDir)).toEqual([]);
  expect(await inbox(dataDir, 'lab.test', 'alice')).toEqual([]);
});

test('an old-fashioned server: 502 to EHLO, so HELO; 451 to DATA, so the message waits in the queue', async () => {
  const seen: string[] = [];
  const answers: Record<string, string> = { EHLO: '502 what?', HELO: '250 old.example.test', MAIL: '250 ok', RCPT: '250 ok', DATA: '451 4.3.0 try later', QUIT: '221 bye' };
  const old = await listenTcp((socket) => {
    socket.write('220 old.example.test SMTP\r\n');
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        seen.push(line);
        socket.write(`${answers[line.split(' ')[0]!] ?? '500 ?'}\r\n`);
      }
    });
  });
  routes['172.28.0.26:25'] = old.port;
  try {
    const lab = await startSmtp({ dialer: dialer(), retryDelaysMs: [60_000] });
    running.push(lab);
    dirs.push(lab.dataDir);
    await swaks(lab.submission, '--to', 'carol@example.test', ...ALICE);
    await lab.logs.waitFor(/ relay deferred id=\S+ to=carol@example\.test attempt=1 retry_in_ms=60000 reason="451 4\.3\.0 try later \(in reply to DATA command\)"/);
    expect(seen).toEqual(['EHLO mail.lab.test', 'HELO mail.lab.test', 'MAIL FROM:<alice@lab.test>', 'RCPT TO:<carol@example.test>', 'DATA', 'QUIT']);
    expect(await queueFiles(lab.dataDir)).toHaveLength(2);
  } finally {
    await Promise.all(running.splice(0).map((r) => r.stop())); // let go of the connection before closing the server
    await old.close();
  }
});
