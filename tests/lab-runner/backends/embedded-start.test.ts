import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend } from '../../../lab-runner/backends/embedded';
import { LAB_DIR } from '../../helpers/paths';
import { RawSocket } from '../../helpers/socket';

/**
 * A start that fails after some services are listening (here: the runner's view of the
 * lab cannot be built, as `only` leaves out the lab DNS) stops them again: no half lab
 * keeps its ports, and the error says why.
 */
test('a start that fails half way leaves nothing listening', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-half-'));
  const ports: number[] = [];
  const backend = new EmbeddedBackend({
    labDir: LAB_DIR,
    dataDir,
    freePorts: true,
    only: ['http'],
    onLog: (service, line) => {
      const m = /listening.* port=(\d+)|127\.0\.0\.1:(\d+)/.exec(line);
      if (service === 'http' && m) ports.push(Number(m[1] ?? m[2]));
    },
  });
  try {
    await expect(backend.start()).rejects.toThrow();
    const status = await backend.status();
    expect(status.filter((s) => s.state === 'running').map((s) => s.name)).toEqual([]);
    for (const port of ports) await expect(RawSocket.connect(port)).rejects.toThrow(/ECONNREFUSED/);
  } finally {
    await backend.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
