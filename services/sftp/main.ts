/**
 * The SFTP service as a program (the container's command):
 *
 *   SFTP_PORT=2222 SFTP_HOST=127.0.0.1 node dist/services/sftp/main.js
 *
 * WIRELAB_LAB   the lab world, read-only: users.yaml, keys/<user>.pub, homes/ (the seed)   default: lab/ in the package
 * WIRELAB_DATA  the lab's state: homes/<user>, sftp/ssh_host_key   default: data/ in the package
 * SFTP_PORT     default 22 (the embedded lab uses 2222)
 * SFTP_HOST     default 0.0.0.0: every address of the container
 *
 * On start it prints the host key's fingerprint: compare it with what `ssh`/`sftp` show
 * on the first connection ("The authenticity of host ... can't be established").
 */
import { createLogger, flushLogs } from '../common/logger';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { SftpServer } from './server';

async function main(): Promise<void> {
  const log = createLogger('sftp');
  const port = Number(process.env.SFTP_PORT ?? 22);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`SFTP_PORT must be a port number (0-65535), got ${JSON.stringify(process.env.SFTP_PORT)}`);
  }
  const host = process.env.SFTP_HOST ?? '0.0.0.0';
  const labDir = defaultLabDir();
  const dataDir = defaultDataDir();
  const server = await SftpServer.fromLab(labDir, dataDir, { log });
  closeOnSignals(() => server.close(), log); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  process.stdout.write(
    `sftp listening on ${address.address}:${address.port}, homes in ${dataDir}/homes\n` +
      `sftp host key fingerprint: ${server.hostKeyFingerprint} (${server.hostPublicKey.split(' ')[0]})\n`,
  );
}

main().catch((err: unknown) => {
  flushLogs(); // the log lines before the failure come before its message
  // A PortInUseError names the port; a users.yaml or key error names the file.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.startsWith('sftp:') ? message : `sftp: ${message}`}\n`);
  process.exit(1);
});
