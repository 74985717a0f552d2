import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { KeylogFile } from '../../../lab-runner/tls/keylog';
import { Child } from '../../helpers/process';
import { run, startHttpsServer, type TlsTestServer } from '../../helpers/tls';
import { within } from '../../helpers/wait';

/**
 * KeylogFile: the session secrets in the SSLKEYLOGFILE format, checked by what matters:
 * tshark (Wireshark) decrypts a capture of the connection with them, and not without.
 */

let server: TlsTestServer;
let dir: string;
beforeAll(async () => {
  server = await startHttpsServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-keylog-'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** GET `urlPath` over HTTPS through an agent whose sessions are logged to `keylog`. */
async function fetchLogged(keylog: KeylogFile, urlPath: string, options: https.AgentOptions = {}): Promise<number> {
  const agent = new https.Agent({ ca: await readFile(server.caFile), ...options });
  keylog.attach(agent);
  const status = new Promise<number>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: server.port, servername: 'www.lab.test', path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          agent.destroy();
          resolve(res.statusCode!);
        });
      })
      .on('error', reject);
  });
  return within(status, `the response to GET ${urlPath} from 127.0.0.1:${server.port} (HTTPS)`);
}

const TLS13_LABELS = ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'EXPORTER_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0'];

test('TLS 1.3 and 1.2 sessions are written in the NSS key log format, readable by the owner only', async () => {
  const file = path.join(dir, 'format.keylog');
  const keylog = new KeylogFile(file);
  const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'www.lab.test', ca: await readFile(server.caFile) });
  keylog.attach(socket);
  await within(once(socket, 'secureConnect'), `a TLS handshake with 127.0.0.1:${server.port}`);
  socket.end();
  await within(once(socket, 'close'), 'the TLS connection to close');
  expect(await fetchLogged(keylog, '/', { maxVersion: 'TLSv1.2' })).toBe(200);

  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  for (const line of lines) expect(line).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,96}$/);
  expect([...new Set(lines.map((l) => l.split(' ')[0]))].sort()).toEqual([...TLS13_LABELS, 'CLIENT_RANDOM'].sort());
  expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
});

const canCapture = process.getuid?.() === 0 && ['/usr/bin/tcpdump', '/usr/bin/tshark'].every((tool) => existsSync(tool));

/**
 * tcpdump on lo, for the packets of `port`. It writes each packet as it comes
 * (--immediate-mode -U) and prints it too (--print -l), so a last UDP datagram to
 * MARKER_PORT, once printed, tells that everything before it is in the file.
 */
async function captureOn(port: number, file: string): Promise<{ stop(): Promise<void> }> {
  const MARKER_PORT = 9; // discard
  const tcpdump = Child.start('tcpdump', ['-i', 'lo', '-n', '--immediate-mode', '-U', '-l', '--print', '-w', file, `tcp port ${port} or udp port ${MARKER_PORT}`], { name: 'tcpdump' });
  await tcpdump.waitFor(/listening on lo/);
  return {
    async stop() {
      const marker = dgram.createSocket('udp4');
      marker.send('end of the run', MARKER_PORT, '127.0.0.1', () => marker.close());
      await tcpdump.waitFor(new RegExp(`\\.${MARKER_PORT}: UDP`));
      await tcpdump.stop('SIGINT');
    },
  };
}

(canCapture ? test : test.skip)('tshark decrypts a capture of the connection with the key log, and sees nothing without it', async () => {
  const capture = path.join(dir, 'run.pcap');
  const tcpdump = await captureOn(server.port, capture);
  const keylogFile = path.join(dir, 'run.keylog');
  expect(await fetchLogged(new KeylogFile(keylogFile), '/a-secret-path')).toBe(200);
  await tcpdump.stop();

  const tshark = (extra: string[]): Promise<string> =>
    run('tshark', ['-r', capture, '-d', `tcp.port==${server.port},tls`, ...extra, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri', '-e', 'http.host']).then((r) => r.stdout);
  expect(await tshark(['-o', `tls.keylog_file:${keylogFile}`])).toBe(`/a-secret-path\t127.0.0.1:${server.port}\n`);
  expect(await tshark([])).toBe('');
});
