/**
 * The relay between the lab's two mail domains inside TLS: mail.lab.test asks
 * mail.example.test for STARTTLS when it is offered, checks its certificate against the
 * lab CA, and carol's copy says how each hop travelled in its Received fields. A
 * certificate that does not check out keeps the message queued until it does.
 * Both servers take their certificates from one lab CA, as the lab's share one data
 * folder (embedded) or one tls volume (Docker).
 */
import { rm } from 'node:fs/promises';
import { ensureCa } from '../../../services/common/certificates';
import { createLogger, silentSink } from '../../../services/common/logger';
import { ServiceTls } from '../../../services/common/tls';
import { setFault } from '../../../services/common/tlsFaults';
import { DnsServer } from '../../../services/dns/server';
import { LAB_DIR } from '../../helpers/paths';
import { inbox, loopbackDialer, startSmtp, swaks, tempDir, waitForInbox, wireSummaries, type RunningSmtp } from './harness';

let dns: DnsServer;
let dnsPort: number;
let tlsDir: string;
const running: RunningSmtp[] = [];

beforeAll(async () => {
  dns = DnsServer.fromLab(LAB_DIR, { log: createLogger('dns', { sink: silentSink }) });
  dnsPort = (await dns.listen(0, '127.0.0.1')).port;
});
afterAll(() => dns.close());
beforeEach(async () => {
  tlsDir = await tempDir('wirelab-tls-');
});
afterEach(async () => {
  for (const s of running.splice(0)) {
    await s.stop();
    await rm(s.dataDir, { recursive: true, force: true });
  }
  await rm(tlsDir, { recursive: true, force: true });
});

async function startBoth(): Promise<{ lab: RunningSmtp; example: RunningSmtp }> {
  const routes: Record<string, number> = {};
  const dialer = loopbackDialer({ host: '127.0.0.1', port: dnsPort }, routes);
  const tlsFor = (service: string, host: string) => ServiceTls.load({ dataDir: tlsDir, service, hosts: [host], log: createLogger(service, { sink: silentSink }) });
  const relayCa = (await ensureCa(tlsDir)).rootPem;
  const lab = await startSmtp({ dialer, tls: await tlsFor('smtp', 'mail.lab.test'), relayCa, retryDelaysMs: [100] });
  const example = await startSmtp({ domain: 'example.test', dialer, tls: await tlsFor('smtp-example', 'mail.example.test') }, undefined, { smtp: 0 });
  running.push(lab, example);
  routes['172.28.0.25:25'] = lab.smtp;
  routes['172.28.0.26:25'] = example.smtp;
  return { lab, example };
}

const ALICE = ['--from', 'alice@lab.test', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'alice', '--tls'];

test('the relay starts TLS when mail.example.test offers it; each hop says how it came: ESMTPS with the TLS version and cipher', async () => {
  const { lab, example } = await startBoth();
  const sent = await swaks(lab.submission, ...ALICE, '--to', 'carol@example.test', '--header', 'Subject: both hops encrypted');
  expect(sent.stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as/);
  const [message] = await waitForInbox(example.dataDir, 'example.test', 'carol');
  const received = message!.match(/^Received: .*\r\n(?:\t.*\r\n)*/gm)!.map((f) => f.replace(/\r\n\t/g, ' ').trim());
  expect(received).toHaveLength(2);
  // The newest hop first: mail.lab.test to mail.example.test, then the client to mail.lab.test.
  expect(received[0]).toMatch(/^Received: from mail\.lab\.test \(\[127\.0\.0\.1\]\) \(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256\/256 bits\)\) by mail\.example\.test \(wirelab\) with ESMTPS id /);
  expect(received[1]).toMatch(/^Received: from client\.lab\.test \(\[127\.0\.0\.1\]\) \(using TLSv1\.3 with cipher \S+ \(256\/256 bits\)\) by mail\.lab\.test \(wirelab\) with ESMTPSA id /);

  const wire = wireSummaries(lab.logs).filter((w) => w.includes(' smtp '));
  expect(wire).toEqual(
    expect.arrayContaining([
      'send smtp mail.lab.test -> mail.example.test:25: STARTTLS',
      'recv smtp mail.example.test:25 -> mail.lab.test: 220 2.0.0 Ready to start TLS',
      'note smtp mail.lab.test -> mail.example.test:25: TLS started: TLSv1.3 TLS_AES_256_GCM_SHA384',
    ]),
  );
  // EHLO twice: once in clear (which offered STARTTLS), once inside TLS (RFC 3207 4.2).
  expect(wire.filter((w) => w.endsWith(': EHLO mail.lab.test'))).toHaveLength(2);
});

test('a certificate that does not check out keeps the message queued, with the reason, until it does: never sent in clear instead', async () => {
  const { lab, example } = await startBoth();
  await setFault(tlsDir, 'smtp-example', 'expired');
  const sent = await swaks(lab.submission, ...ALICE, '--to', 'carol@example.test', '--header', 'Subject: waits for a good certificate');
  expect(sent.stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as/);
  await lab.logs.waitFor(/ info relay deferred .*to=carol@example\.test .*reason="TLS with mail\.example\.test failed: certificate has expired"/);
  expect(await inbox(example.dataDir, 'example.test', 'carol')).toEqual([]); // never sent in clear instead
  await setFault(tlsDir, 'smtp-example', undefined);
  await waitForInbox(example.dataDir, 'example.test', 'carol');
  await lab.logs.waitFor(/ info relay delivered .*to=carol@example\.test/);
});
