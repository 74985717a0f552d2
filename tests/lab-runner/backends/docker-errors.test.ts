import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { overlaps } from '../../../lab-runner/backends/docker/backend';
import { composeFailed, portTaken, subnetTaken } from '../../../lab-runner/backends/docker/errors';
import { composeSettings, portVariable, publishedPorts } from '../../../lab-runner/backends/docker/settings';
import { wirelab } from '../../helpers/process';

/**
 * How the Docker backend explains a lab that cannot come up, without Docker: what
 * Compose 1.29 printed when each failure was made for real (tests/docker makes them
 * again against a running engine), the .env settings, and `wirelab up --backend docker`
 * with no engine to talk to.
 */

// Compose 1.29's words, as it printed them on this machine.
const HELD_BY_CONTAINER =
  'ERROR: for dns  Cannot start service dns: driver failed programming external connectivity on endpoint wirelabtest2_dns_1 (d4a5...): Bind for 127.0.0.1:5353 failed: port is already allocated\nEncountered errors while bringing up the project.';
const HELD_BY_PROGRAM =
  'ERROR: for http  Cannot start service http: driver failed programming external connectivity on endpoint wirelabtest2_http_1 (b242...): Error starting userland proxy: listen tcp4 127.0.0.1:8080: bind: address already in use\nEncountered errors while bringing up the project.';

describe('.env settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-env-'));
    await writeFile(path.join(dir, '.env'), '# moved\nLAB_PREFIX=10.99.7\nLAB_HTTP_PORT="18080"\n  LAB_SFTP_PORT = 12222\nnot a setting\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('are read from .env, and the environment has the last word', () => {
    const settings = composeSettings({ LAB_SFTP_PORT: '22222', PATH: '/bin' }, dir);
    expect(settings).toEqual({ LAB_PREFIX: '10.99.7', LAB_HTTP_PORT: '18080', LAB_SFTP_PORT: '22222' });
    const ports = Object.fromEntries(publishedPorts(settings).map((p) => [p.variable, p.hostPort]));
    expect(ports).toMatchObject({ LAB_HTTP_PORT: 18080, LAB_SFTP_PORT: 22222, LAB_DNS_PORT: 5353, LAB_SUBMISSION_PORT: 2587, LAB_POP3_EXAMPLE_PORT: 1111 });
  });

  test('each published port has its variable', () => {
    expect(portVariable('smtp', 'smtp')).toBe('LAB_SMTP_PORT');
    expect(portVariable('smtp', 'submission')).toBe('LAB_SUBMISSION_PORT');
    expect(portVariable('smtp-example', 'smtp')).toBe('LAB_SMTP_EXAMPLE_PORT');
    // TLS ports: the protocol's name with an s, for the service that has it; the proxy's after its own name.
    expect(portVariable('http', 'https')).toBe('LAB_HTTPS_PORT');
    expect(portVariable('proxy', 'https')).toBe('LAB_PROXY_HTTPS_PORT');
    expect(portVariable('smtp', 'smtps')).toBe('LAB_SMTPS_PORT');
    expect(portVariable('smtp-example', 'smtps')).toBe('LAB_SMTPS_EXAMPLE_PORT');
    expect(portVariable('pop3-example', 'pop3s')).toBe('LAB_POP3S_EXAMPLE_PORT');
    expect(portVariable('ftp', 'ftps')).toBe('LAB_FTPS_PORT');
    // One variable per published port: none moves two.
    const variables = publishedPorts({}).map((p) => p.variable);
    expect(new Set(variables).size).toBe(variables.length);
  });
});

describe('a failed bring-up, explained', () => {
  test('a port held by another container or by a program: which port, of which service, what holds it, the variable that moves it', () => {
    expect(portTaken(HELD_BY_CONTAINER, {})?.message).toBe(
      "dns's port 5353/tcp on 127.0.0.1 is already in use: another container publishes it (`docker ps --filter publish=5353` shows which). " +
        'Stop it, or publish the lab\'s port elsewhere: LAB_DNS_PORT=15353 in .env (see .env.example).',
    );
    const program = portTaken(HELD_BY_PROGRAM, {})!;
    expect(program.code).toBe('EADDRINUSE');
    expect(program.message).toContain("http's port 8080/tcp on 127.0.0.1 is already in use: another program holds it (`ss -lntup 'sport = :8080'` shows which");
    expect(program.message).toContain('LAB_HTTP_PORT=18080 in .env');
    // A port moved by .env is still recognised as that service's.
    expect(portTaken(HELD_BY_PROGRAM.replace(/8080/g, '18080'), { LAB_HTTP_PORT: '18080' })?.message).toContain("http's port 18080/tcp");
    expect(portTaken('Encountered errors', {})).toBeUndefined();
  });

  test('the lab network taken by another lab, or by another network', () => {
    const lab = subnetTaken({ network: 'wirelab_lab', subnet: '172.28.0.0/24', project: 'wirelab', isLab: true }, {}, 'docker-compose');
    expect(lab.code).toBe('ELABUP');
    expect(lab.message).toContain('a lab is already up in Docker as Compose project wirelab (its network wirelab_lab holds 172.28.0.0/24)');
    expect(lab.message).toContain('`--reuse`');
    expect(lab.message).toContain('`docker-compose -p wirelab down`');
    const other = subnetTaken({ network: 'mynet', subnet: '172.28.0.0/16', isLab: false }, { LAB_PREFIX: '172.28.5' }, 'docker compose');
    expect(other.code).toBe('ESUBNET');
    expect(other.message).toContain('the lab network 172.28.5.0/24 overlaps another: the Docker network mynet already uses 172.28.0.0/16');
    expect(other.message).toContain('LAB_PREFIX=');
  });

  test("anything else: Compose's own last words, without its progress lines", () => {
    const failed = composeFailed('Creating network "x_lab" with the default driver\nCreating x_dns_1 ... done\nERROR: something new\n', 'docker-compose up');
    expect(failed.message).toBe('docker-compose up failed:\nERROR: something new');
  });

  test('address blocks overlap when one holds an address of the other', () => {
    expect(overlaps('172.28.0.0/24', '172.28.0.0/24')).toBe(true);
    expect(overlaps('172.28.0.0/16', '172.28.5.0/24')).toBe(true);
    expect(overlaps('172.28.5.0/24', '172.28.0.0/16')).toBe(true);
    expect(overlaps('172.28.1.0/24', '172.28.0.0/24')).toBe(false);
    expect(overlaps('10.0.0.0/8', '172.28.0.0/24')).toBe(false);
    expect(overlaps('fd00::/64', '172.28.0.0/24')).toBe(false);
  });
});

test('no Docker engine: wirelab says so, and what to do', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-nodocker-'));
  try {
    const socket = path.join(dir, 'docker.sock'); // nothing listens there
    const failed = await wirelab(['up', '--backend', 'docker', '--project', 'wirelab-no-engine'], { env: { DOCKER_HOST: `unix://${socket}` } });
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain(`wirelab: no Docker engine answers at unix://${socket} (ENOENT). Start it (\`sudo systemctl start docker\`, or \`sudo dockerd &\`)`);
    expect(failed.stderr).toContain('`wirelab run` (embedded)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
