import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ftpExecutor } from '../../../lab-runner/executors/ftp';
import { httpExecutor } from '../../../lab-runner/executors/http';
import { pop3Executor } from '../../../lab-runner/executors/pop3';
import { smtpExecutor } from '../../../lab-runner/executors/smtp';
import { PacketCapture, portFilter } from '../../../lab-runner/packets';
import { KeylogFile } from '../../../lab-runner/tls/keylog';
import { findService } from '../../../lab-runner/wire';
import { run } from '../../helpers/tls';
import { startLab, type Lab } from '../../helpers/lab';

/**
 * `--keylog`: the steps' TLS sessions go to the key log, and Wireshark (tshark) reads a
 * capture of them in clear with it: an HTTPS request, SMTP after STARTTLS with its AUTH
 * line, POP3 after STLS and FTP after AUTH TLS with their PASS. Without the key log the
 * same capture shows nothing said inside TLS.
 */

let lab: Lab;
let dir: string;
beforeAll(async () => {
  lab = await startLab();
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-keylog-steps-'));
});
afterAll(async () => {
  await lab.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Where the lab routes a service's lab port: the real port to capture and to decode. */
function realPort(service: string, port: number): number {
  return lab.backend.network().route(findService(service)!.address, port).port;
}

const canCapture = process.getuid?.() === 0 && ['/usr/bin/tcpdump', '/usr/bin/tshark'].every((tool) => existsSync(tool));

/**
 * Capture the lab ports `decode` names (real port: tshark's dissector for it) while
 * `steps` run with a key log; then `tshark(extra, filter, fields)` reads the capture,
 * `withKeys` being the extra that gives it the key log.
 */
async function captured(name: string, decode: Record<number, string>, steps: (keylog: KeylogFile) => Promise<void>) {
  const capture = path.join(dir, `${name}.pcapng`);
  const keylogFile = path.join(dir, `${name}.keylog`);
  const packets = await PacketCapture.start({ filter: portFilter(Object.keys(decode).map(Number)), file: capture });
  try {
    await steps(new KeylogFile(keylogFile));
  } finally {
    await packets.stop();
  }
  const as = Object.entries(decode).flatMap(([port, dissector]) => ['-d', `tcp.port==${port},${dissector}`]);
  return {
    keylogFile,
    withKeys: ['-o', `tls.keylog_file:${keylogFile}`],
    tshark: (extra: string[], filter: string, fields: string[]): Promise<string> =>
      run('tshark', ['-r', capture, ...as, ...extra, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])]).then((r) => r.stdout),
  };
}

(canCapture ? test : test.skip)('tshark decrypts the HTTPS request and the SMTP AUTH inside STARTTLS with the key log, and nothing without it', async () => {
  const { keylogFile, withKeys, tshark } = await captured('steps', { [realPort('http', 443)]: 'tls', [realPort('smtp', 587)]: 'smtp' }, async (keylog) => {
    expect((await lab.step(httpExecutor, { url: 'https://www.lab.test/hello.txt?a-secret' }, { keylog })).output).toMatchObject({ status: 200 });
    const mail = await lab.step(smtpExecutor, { port: 587, starttls: true, auth: { user: 'alice', password: 'alice' }, from: 'alice@lab.test', to: 'bob@lab.test', subject: 'keys', body: 'b' }, { keylog });
    expect(mail.output).toMatchObject({ sent: true });
  });
  expect((await readFile(keylogFile, 'utf8')).split('\n').filter((l) => l.startsWith('CLIENT_TRAFFIC_SECRET_0'))).toHaveLength(2);

  expect(await tshark(withKeys, 'http.request', ['http.request.uri', 'http.host'])).toBe('/hello.txt?a-secret\twww.lab.test\n');
  expect(await tshark([], 'http.request', ['http.request.uri'])).toBe('');
  // SMTP: what went in clear before STARTTLS anyone reads; the rest, AUTH's password included, only with the keys.
  // (tshark takes a command's first four letters as the command: STARTTLS is "STAR" "TLS".)
  const commands = (extra: string[]): Promise<string[]> => tshark(extra, 'smtp.req', ['smtp.req.command']).then((out) => out.trim().split('\n'));
  expect(await commands([])).toEqual(['EHLO', 'STAR']);
  expect(await commands(withKeys)).toEqual(['EHLO', 'STAR', 'EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'QUIT']);
  expect(await tshark(withKeys, 'smtp.req.command == "AUTH"', ['smtp.req.parameter'])).toBe('PLAIN AGFsaWNlAGFsaWNl\n');
});

(canCapture ? test : test.skip)('tshark decrypts POP3 after STLS and FTP after AUTH TLS with the key log: the passwords sent inside TLS', async () => {
  const { withKeys, tshark } = await captured('upgrades', { [realPort('pop3', 110)]: 'pop', [realPort('ftp', 21)]: 'ftp' }, async (keylog) => {
    expect((await lab.step(pop3Executor, { user: 'bob', password: 'bob', stls: 'required', retrieve: 'none' }, { keylog })).output).toMatchObject({ loggedIn: true });
    expect((await lab.step(ftpExecutor, { user: 'alice', password: 'alice', tls: 'explicit' }, { keylog })).output).toMatchObject({ loggedIn: true });
  });
  const lines = (extra: string[], filter: string, field: string): Promise<string[]> => tshark(extra, filter, [field]).then((out) => out.split('\n').filter(Boolean));
  // In clear, only what came before the upgrade; with the keys, the login inside TLS.
  expect(await lines([], 'pop.request', 'pop.request.command')).toEqual(['STLS']);
  expect(await lines(withKeys, 'pop.request', 'pop.request.command')).toEqual(expect.arrayContaining(['STLS', 'USER', 'PASS']));
  expect(await lines(withKeys, 'pop.request.command == "PASS"', 'pop.request.parameter')).toEqual(['bob']);
  expect(await lines([], 'ftp.request', 'ftp.request.command')).toEqual(['AUTH']);
  expect(await lines(withKeys, 'ftp.request.command == "PASS"', 'ftp.request.arg')).toEqual(['alice']);
});
