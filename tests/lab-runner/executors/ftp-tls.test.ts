import { ftpExecutor } from '../../../lab-runner/executors/ftp';
import type { WireEvent } from '../../../lab-runner/wire';
import { startLab, type Lab } from '../../helpers/lab';

/**
 * `ftp:` inside TLS (RFC 4217) against the embedded lab's FTP server (21 and 990):
 * AUTH TLS and the handshake before USER/PASS, PBSZ 0 and PROT P, each data connection
 * a TLS connection of its own (resuming the control connection's session), in passive
 * and in active mode; and implicit FTPS on 990.
 */

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
});
afterAll(() => lab.stop());

const control = (events: WireEvent[]): string[] =>
  events.filter((e) => e.protocol === 'ftp' || e.kind === 'tls').map((e) => `${e.kind}${e.encrypted ? ' [tls]' : ''} ${e.kind === 'tls' ? e.to : e.summary}`);

const actions = [{ upload: { path: 'secret.txt', content: 'for alice only\n' } }, { download: 'secret.txt' }, { list: '/' }];

test('tls: explicit: AUTH TLS in clear, the handshake, then everything inside TLS, data connections too', async () => {
  const { output, error, events } = await lab.step(ftpExecutor, { user: 'alice', password: 'alice', tls: 'explicit', actions });
  expect(error).toBeUndefined();
  const lines = control(events);
  expect(lines.slice(0, 6)).toEqual([
    expect.stringMatching(/^connect control connection|^connect connect from port/),
    expect.stringMatching(/^recv 220 /),
    'send AUTH TLS',
    expect.stringMatching(/^recv 234 /),
    'tls ftp.lab.test:21',
    'send [tls] OPTS UTF8 ON',
  ]);
  // The password went inside TLS: the transcript shows the plaintext the client sent, marked encrypted.
  expect(lines).toContain('send [tls] PASS alice');
  expect(lines).toEqual(expect.arrayContaining(['send [tls] PBSZ 0', 'send [tls] PROT P']));
  expect(lines.filter((l) => !l.startsWith('tls') && !l.startsWith('connect')).every((l) => l.includes('[tls]') || /^(recv 220|send AUTH TLS|recv 234)/.test(l))).toBe(true);
  // Three transfers, three data connections, each with its own handshake, resuming the control connection's session.
  const data = events.filter((e) => e.kind === 'tls' && e.to !== 'ftp.lab.test:21');
  expect(data).toHaveLength(3);
  for (const e of data) expect(e.tls).toMatchObject({ version: 'TLSv1.3', authorized: true, resumed: true });
  expect(output).toMatchObject({
    loggedIn: true,
    authTls: { code: 234 },
    tls: { version: 'TLSv1.3', servername: 'ftp.lab.test', authorized: true, resumed: false },
    results: [{ ok: true, code: 226 }, { ok: true, content: 'for alice only\n' }, { ok: true, names: expect.arrayContaining(['secret.txt']) }],
  });
  await lab.log('ftp').waitFor(/ info tls started /);
});

test('tls: explicit in active mode: the server connects back, and the client is still TLS\'s client', async () => {
  const { output, error, events } = await lab.step(ftpExecutor, { user: 'bob', password: 'bob', tls: 'explicit', mode: 'active', actions: [{ list: '/' }] });
  expect(error).toBeUndefined();
  expect(output).toMatchObject({ results: [{ ok: true }] });
  const data = events.filter((e) => e.kind === 'tls' && e.to !== 'ftp.lab.test:21');
  expect(data).toHaveLength(1);
  expect(data[0]!.tls).toMatchObject({ authorized: true, resumed: true });
});

test('tls: implicit is FTPS on 990: TLS before the greeting', async () => {
  const { output, events } = await lab.step(ftpExecutor, { user: 'alice', password: 'alice', tls: 'implicit', actions: [{ download: 'secret.txt' }] });
  expect(events.find((e) => e.kind === 'connect')!.to).toBe('ftp.lab.test:990');
  expect(control(events).slice(1, 3)).toEqual(['tls ftp.lab.test:990', expect.stringMatching(/^recv \[tls\] 220 /)]);
  expect(output).toMatchObject({ loggedIn: true, tls: { authorized: true }, results: [{ ok: true, content: 'for alice only\n' }] });
  expect(output!.authTls).toBeUndefined();
});

test('without TLS, port 21 keeps the lesson: the login goes in clear, and the transcript shows it unencrypted', async () => {
  const { output, events } = await lab.step(ftpExecutor, { user: 'alice', password: 'alice' });
  expect(output).toMatchObject({ loggedIn: true });
  expect(output!.tls).toBeUndefined();
  expect(events.find((e) => e.summary === 'PASS alice')).toMatchObject({ kind: 'send' });
  expect(events.some((e) => e.encrypted || e.kind === 'tls')).toBe(false);
});

test('a certificate fault stops the client before USER: nothing of the login leaves it', async () => {
  await lab.fault('ftp', 'wrong-name');
  try {
    const { error, events } = await lab.step(ftpExecutor, { user: 'alice', password: 'alice', tls: 'explicit' });
    expect(error!.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(error!.output!.tls).toMatchObject({ authorized: false, servername: 'ftp.lab.test', certificate: { san: ['DNS:wrong-name.lab.test'] } });
    expect(events.some((e) => /^(USER|PASS)/.test(e.summary))).toBe(false);
  } finally {
    await lab.fault('ftp', 'none');
  }
});
