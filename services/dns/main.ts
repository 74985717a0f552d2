/**
 * The DNS service as a program (the container's command):
 *
 *   WIRELAB_LAB=lab DNS_PORT=5353 DNS_HOST=127.0.0.1 node dist/services/dns/main.js
 *
 * WIRELAB_LAB  the lab folder whose zones/ is served (default: lab/ of the package)
 * DNS_PORT     UDP and TCP port (default 53)
 * DNS_HOST     address to bind (default 0.0.0.0: every interface of the container)
 * SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 */
import { envHost, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { DnsServer } from './server';
import { prefixFromEnv } from './renumber';

// A ZoneFileError reads `lab/zones/lab.test.zone:12: ...`; a PortInUseError names the port.
runService('dns', async (log) => {
  const labDir = defaultLabDir();
  const port = envPort('DNS_PORT', 53);
  const host = envHost('DNS_HOST');
  const server = DnsServer.fromLab(labDir, { log, labPrefix: prefixFromEnv() });
  closeOnSignals(() => server.close(), log, envShutdownGraceMs());
  const address = await server.listen(port, host);
  process.stdout.write(`dns listening on ${address.address}:${address.port} (udp+tcp), zones from ${labDir}/zones\n`);
});
