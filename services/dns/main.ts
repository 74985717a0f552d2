/**
 * The DNS service as a program (the container's command):
 *
 *   WIRELAB_LAB=lab DNS_PORT=5353 DNS_HOST=127.0.0.1 node dist/services/dns/main.js
 *
 * WIRELAB_LAB  the lab folder whose zones/ is served (default: lab/ of the package)
 * DNS_PORT     UDP and TCP port (default 53)
 * DNS_HOST     address to bind (default 0.0.0.0: every interface of the container)
 */
import { createLogger, flushLogs } from '../common/logger';
import { defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { DnsServer } from './server';
import { prefixFromEnv } from './renumber';

async function main(): Promise<void> {
  const log = createLogger('dns');
  const labDir = process.env.WIRELAB_LAB ?? defaultLabDir();
  const port = Number(process.env.DNS_PORT ?? 53);
  const host = process.env.DNS_HOST ?? '0.0.0.0';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`DNS_PORT must be a port number (0-65535), got ${JSON.stringify(process.env.DNS_PORT)}`);
  }

  const server = DnsServer.fromLab(labDir, { log, labPrefix: prefixFromEnv() });
  closeOnSignals(() => server.close(), log);
  const address = await server.listen(port, host);
  process.stdout.write(`dns listening on ${address.address}:${address.port} (udp+tcp), zones from ${labDir}/zones\n`);
}

main().catch((err: unknown) => {
  flushLogs(); // the log lines before the failure come before its message
  // A ZoneFileError reads `lab/zones/lab.test.zone:12: ...`; a PortInUseError names the port.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.startsWith('dns:') ? message : `dns: ${message}`}\n`);
  process.exit(1);
});
