/**
 * The SFTP service as a program (the container's command):
 *
 *   SFTP_PORT=2222 SFTP_HOST=127.0.0.1 node dist/services/sftp/main.js
 *
 * WIRELAB_LAB   the lab world, read-only: users.yaml, keys/<user>.pub, homes/ (the seed)   default: lab/ in the package
 * WIRELAB_DATA  the lab's state: homes/<user>, sftp/ssh_host_key   default: data/ in the package
 * SFTP_PORT     default 22 (the embedded lab uses 2222)
 * SFTP_HOST     default 0.0.0.0: every address of the container
 * SHUTDOWN_GRACE_MS  on SIGTERM, how long work in progress (a transfer, a delivery, a response) may finish   default: 10000
 *
 * On start it prints the host key's fingerprint: compare it with what `ssh`/`sftp` show
 * on the first connection ("The authenticity of host ... can't be established").
 */
import { envHost, envPort, envShutdownGraceMs, runService } from '../common/env';
import { defaultDataDir, defaultLabDir } from '../common/paths';
import { closeOnSignals } from '../common/shutdown';
import { SftpServer } from './server';

// A PortInUseError names the port; a users.yaml or key error names the file.
runService('sftp', async (log) => {
  const port = envPort('SFTP_PORT', 22);
  const host = envHost('SFTP_HOST');
  const labDir = defaultLabDir();
  const dataDir = defaultDataDir();
  const closeGraceMs = envShutdownGraceMs();
  const server = await SftpServer.fromLab(labDir, dataDir, { log, closeGraceMs });
  closeOnSignals(() => server.close(), log, closeGraceMs); // before listen: a signal during start-up still closes cleanly
  const address = await server.listen(port, host);
  process.stdout.write(
    `sftp listening on ${address.address}:${address.port}, homes in ${dataDir}/homes\n` +
      `sftp host key fingerprint: ${server.hostKeyFingerprint} (${server.hostPublicKey.split(' ')[0]})\n`,
  );
});
