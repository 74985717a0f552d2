/**
 * The FTP service as a program (the container's command):
 *
 *   FTP_PORT=2121 FTP_HOST=127.0.0.1 FTP_PASV_PORTS=30000-30009 node dist/services/ftp/main.js
 *
 * WIRELAB_LAB       the lab world, read-only: users.yaml, homes/ (seeds), ftp/pub   default: lab/ in the package
 * WIRELAB_DATA      the lab's state: homes/<user>   default: data/ in the package
 * FTP_PORT          the control connection's port, AUTH TLS there (RFC 4217)   default 21 (the embedded lab uses 2121)
 * FTPS_PORT         implicit FTPS, TLS from the first byte   default 990 (the embedded lab uses 2990); empty: none
 * FTP_HOST          default 0.0.0.0: every address of the container
 * SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 * FTP_PASV_PORTS    passive data ports, `from-to` (e.g. 30000-30009); default: any free port
 * FTP_PASV_ADDRESS  the IPv4 address PASV (227) advertises; default: the address the client connected to
 * FTP_PLAINTEXT_LOGIN  yes: take a lab user's password in clear (the lesson on port 21); no: only after AUTH TLS   default: yes
 * TLS_HOSTS         the certificate's host names   default: ftp.lab.test
 * WIRELAB_SERVICE   its name in the lab, for its certificate fault   default: ftp
 */
import { envFlag, envHost, envOptionalPort, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { ServiceTls } from '../common/tls';
import type { PortRange } from './data';
import { FtpServer } from './server';

/** `FTP_PASV_PORTS=30000-30009`: the passive data ports, both ends included. */
function portRange(text: string | undefined): PortRange | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) throw new Error(`FTP_PASV_PORTS must be a range such as 30000-30009, got ${JSON.stringify(text)}`);
  return { from: Number(m[1]), to: Number(m[2]) };
}

runService('ftp', async (log) => {
  const port = envPort('FTP_PORT', 21);
  const host = envHost('FTP_HOST');
  const passivePorts = portRange(process.env.FTP_PASV_PORTS);
  const pasvAddress = process.env.FTP_PASV_ADDRESS || undefined;
  const labDir = defaultLabDir();
  const allowPlaintextLogin = envFlag('FTP_PLAINTEXT_LOGIN', true);
  const tls = await ServiceTls.fromEnv(log, { service: 'ftp', hosts: ['ftp.lab.test'] });
  const closeGraceMs = envShutdownGraceMs();
  const server = await FtpServer.fromLab(labDir, defaultDataDir(), { log, closeGraceMs, passivePorts, pasvAddress, allowPlaintextLogin, tls: tls.starter });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  const tlsPort = envOptionalPort('FTPS_PORT', 990);
  const secure = tlsPort === undefined ? undefined : await server.listenTls(tlsPort, host);
  const range = passivePorts ? `${passivePorts.from}-${passivePorts.to}` : 'any free port';
  const ftps = secure ? ` and ${secure.address}:${secure.port} (implicit FTPS)` : '';
  process.stdout.write(`ftp listening on ${address.address}:${address.port}${ftps}, passive ports ${range}, users from ${labDir}/users.yaml\n`);
});
