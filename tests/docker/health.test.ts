import { compose } from '../../lab-runner/backends/docker/compose';
import { freeLabPorts } from '../helpers/docker';
import { holdDockerLab } from '../helpers/dockerLock';
import { succeeds } from '../helpers/process';
import { poll } from '../helpers/wait';

/**
 * The containers' health checks talk the protocol (compose.yaml: `health smtp 25` reads
 * the greeting): a service whose process is alive and whose port still takes connections,
 * but which cannot serve (here: stopped with SIGSTOP inside its container, so the kernel
 * still completes the TCP handshake and nobody answers), turns unhealthy; continued
 * (SIGCONT), it turns healthy again. With a TCP-connect check it would have stayed
 * healthy throughout. Runs when WIRELAB_DOCKER_TESTS=1, after `npm run images`.
 */

const enabled = process.env.WIRELAB_DOCKER_TESTS === '1';
const PROJECT = 'wirelabtest';
const suite = enabled ? describe : describe.skip;

/** `docker` with this project's container of `service`. */
async function containerOf(service: string): Promise<string> {
  const { output } = await compose(['ps', '-q', service], { project: PROJECT });
  const id = output.trim().split('\n').pop();
  if (!id) throw new Error(`no container for ${service} in project ${PROJECT}`);
  return id;
}

async function health(container: string): Promise<string> {
  return (await succeeds('docker', ['inspect', '--format', '{{.State.Health.Status}}', container])).stdout.trim();
}

/**
 * Send `signal` to the service's process inside its container. The image has no shell
 * and no kill(1); its Node finds the process by its command line (`node main.js SERVICE`;
 * PID 1 is the init that `init: true` puts in front of it, with the same words after it).
 */
async function signalService(container: string, service: string, signal: 'SIGSTOP' | 'SIGCONT'): Promise<string> {
  const script = `
    const fs = require('fs');
    const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
      try {
        const args = fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0');
        return args[0].endsWith('node') && args.slice(-3).join(' ') === '/app/dist/services/main.js ${service} ';
      } catch { return false; }
    });
    if (pids.length !== 1) { console.error('service processes found: ' + JSON.stringify(pids)); process.exit(1); }
    process.kill(Number(pids[0]), '${signal}');
    console.log(pids[0]);`;
  return (await succeeds('docker', ['exec', container, 'node', '-e', script])).stdout.trim();
}

suite('health checks in Docker', () => {
  jest.setTimeout(300_000);
  let ports: Record<string, string>;

  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await holdDockerLab(); // one Docker lab test file at a time
    ports = await freeLabPorts();
    Object.assign(process.env, ports);
    await compose(['down', '-v', '--remove-orphans'], { project: PROJECT });
    const up = await compose(['up', '-d', 'smtp', 'http', 'ftp', 'sftp'], { project: PROJECT }); // and what they depend on: ca, dns
    if (up.code !== 0) throw new Error(`compose up failed:\n${up.output}`);
  }, 20 * 60_000);
  afterAll(async () => {
    await compose(['down', '-v', '--remove-orphans'], { project: PROJECT });
    for (const key of Object.keys(ports ?? {})) delete process.env[key];
    await release?.();
  });

  test.each([
    ['smtp', 25],
    ['http', 80],
    ['ftp', 21],
    ['sftp', 22],
  ])('%s stopped inside its container turns unhealthy, and healthy again once it continues', async (service, port) => {
    const container = await containerOf(service);
    const every = { ms: 120_000, everyMs: 1000 };
    await poll(`the ${service} container to be healthy`, async () => ((await health(container)) === 'healthy' ? true : undefined), every);
    const pid = await signalService(container, service, 'SIGSTOP');
    expect(pid).toMatch(/^\d+$/);
    try {
      // The port still takes connections (the kernel answers for a stopped process): only the protocol tells.
      await poll(`the ${service} container to turn unhealthy`, async () => ((await health(container)) === 'unhealthy' ? true : undefined), every);
      const log = await succeeds('docker', ['inspect', '--format', '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}', container]);
      expect(log.stdout).toContain(`unhealthy: 127.0.0.1:${port} took the connection but said nothing in time`);
    } finally {
      await signalService(container, service, 'SIGCONT');
    }
    await poll(`the ${service} container to be healthy again`, async () => ((await health(container)) === 'healthy' ? true : undefined), every);
  });
});
