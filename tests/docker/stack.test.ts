import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DockerLab } from '../../lab-runner/backends/docker/lab';
import { compose } from '../../lab-runner/backends/docker/compose';
import { built } from '../helpers/paths';
import { wirelab } from '../helpers/process';

/**
 * The lab in Docker, for real: built by `npm run images`, started with Compose,
 * checked from outside and from inside the lab network, then every scenario run on
 * the docker backend. Runs when WIRELAB_DOCKER_TESTS=1 (.ci/run sets it, after
 * installing docker.io and starting dockerd); without Docker it is skipped, saying so.
 */

const run = promisify(execFile);
const enabled = process.env.WIRELAB_DOCKER_TESTS === '1';
const PROJECT = 'wirelabtest';

const suite = enabled ? describe : describe.skip;
if (!enabled) console.warn('Docker tests skipped: set WIRELAB_DOCKER_TESTS=1 (with dockerd running and `npm run images` done) to run them');

suite('the lab in Docker', () => {
  const lab = new DockerLab(PROJECT);
  jest.setTimeout(300_000);

  beforeAll(async () => {
    built('lab-runner/cli.js'); // fails, saying to run `npm run build`, when it is missing
    await lab.down().catch(() => {});
    await lab.up();
  });
  afterAll(() => lab.down());

  test('every service is healthy, on its fixed address', async () => {
    const status = await lab.status();
    for (const s of status) expect([s.name, s.info?.health]).toEqual([s.name, 'healthy']);
    expect(status.find((s) => s.name === 'http')?.info?.address).toBe('172.28.0.80');
  });

  test('published ports listen on 127.0.0.1 only', async () => {
    const status = await lab.status();
    const published = status.flatMap((s) => (s.info?.published ?? '').split(' ').filter(Boolean));
    expect(published.length).toBeGreaterThanOrEqual(9);
    for (const p of published) expect(p).toMatch(/^127\.0\.0\.1:\d+->/);
  });

  test('from the host, the same ports as the embedded lab', async () => {
    const { stdout } = await run('dig', ['+short', '@127.0.0.1', '-p', '5353', 'www.lab.test']);
    expect(stdout.trim()).toBe('172.28.0.80');
    const page = await run('curl', ['-s', '--noproxy', '*', 'http://127.0.0.1:8080/']);
    expect(page.stdout).toContain('<h1>');
  });

  test('inside the lab network, lab names resolve and outside names are REFUSED', async () => {
    const script = "const d=require('dns');d.resolve4('www.lab.test',(e,a)=>{d.resolve4('example.com',(e2)=>console.log(JSON.stringify({lab:a,outside:e2&&e2.code})))})";
    const { code, output } = await compose(['run', '--rm', '-T', '--entrypoint', 'node', 'client', '-e', script], { project: PROJECT });
    expect(code).toBe(0);
    expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ lab: ['172.28.0.80'], outside: 'EREFUSED' });
  });

  test('SIGTERM stops each service within its grace period, cleanly', async () => {
    for (const service of ['dns', 'http', 'smtp', 'ftp', 'sftp']) {
      const container = await lab.containers.container(service);
      await container.stop({ t: 10 });
      const info = await container.inspect();
      // Exit 0: the service closed itself on SIGTERM, well before Docker's SIGKILL at 10 s (exit 137).
      expect([service, info.State.ExitCode]).toEqual([service, 0]);
      await lab.containers.act(service, 'start'); // and what shares its network (POP3 with SMTP)
    }
    await lab.waitHealthy(60_000);
  });

  test('pause freezes a service, disconnect takes it off the lab network; both come back', async () => {
    const page = () => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', '--noproxy', '*', 'http://127.0.0.1:8080/']).then((r) => r.stdout, (e: { stdout?: string }) => `failed ${e.stdout ?? ''}`);
    await lab.containers.act('http', 'pause');
    expect((await lab.containers.status('http')).info?.state).toBe('paused');
    expect(await page()).toMatch(/^failed/); // the port accepts, the frozen process never answers
    await lab.containers.act('http', 'unpause');
    expect(await page()).toBe('200');

    const fromClient = () =>
      compose(['run', '--rm', '-T', 'client', 'wirelab', 'http', 'http://www.lab.test/'], { project: PROJECT }).then((r) => r.code);
    await lab.containers.act('http', 'disconnect');
    expect((await lab.containers.status('http')).info?.address).toBe('disconnected');
    expect(await fromClient()).not.toBe(0);
    await lab.containers.act('http', 'connect');
    expect((await lab.containers.status('http')).info?.address).toBe('172.28.0.80');
    // Back on the network: wait until the client reaches it again (bounded), as `wait:` does.
    let code = 1;
    for (let attempt = 0; attempt < 10 && code !== 0; attempt++) code = await fromClient();
    expect(code).toBe(0);
  });

  test('a service restarted with wirelab keeps its volume data (mail, uploads)', async () => {
    // Deliver a mail and upload a file through the lab, restart both services, read them back.
    const send = await compose(
      ['run', '--rm', '-T', 'client', 'wirelab', 'smtp', '--host', 'mail.lab.test', '--port', '25', '--from', 'carol@example.test', '--to', 'bob@lab.test', '--subject', 'kept', '--body', 'survives a restart',],
      { project: PROJECT },
    );
    expect(send.output).toMatch(/250 2\.0\.0/);
    const put = await compose(
      ['run', '--rm', '-T', '--entrypoint', 'node', 'client', '/app/dist/services/main.js', 'wirelab', 'ftp', '--host', 'ftp.lab.test', '--user', 'alice', '--password', 'alice', '--put', '/app/lab/homes/bob/todo.txt:kept.txt',],
      { project: PROJECT },
    );
    expect(put.code).toBe(0);
    await lab.containers.act('smtp', 'restart');
    await lab.containers.act('ftp', 'restart');
    await lab.waitHealthy(60_000);
    const read = await compose(['run', '--rm', '-T', 'client', 'wirelab', 'pop3', '--host', 'mail.lab.test', '--user', 'bob', '--password', 'bob', '--retrieve', 'last',], { project: PROJECT });
    expect(read.output).toContain('Subject: kept');
    const get = await compose(['run', '--rm', '-T', 'client', 'wirelab', 'ftp', '--host', 'ftp.lab.test', '--user', 'alice', '--password', 'alice', '--get', 'kept.txt',], { project: PROJECT });
    expect(get.output).toContain('active and passive FTP');
  });

  test('docker compose run --rm client wirelab run: the workstation runs scenarios, lab steps included', async () => {
    // As a student types it: no project name given, the client finds its own lab.
    const { code, output } = await compose(['run', '--rm', '-T', '-e', 'NO_COLOR=1', 'client', 'wirelab', 'run', 'scenarios/bad-gateway.yaml', 'scenarios/sftp-host-key.yaml'], { project: PROJECT });
    expect(output).toMatch(/total\s+12\/12\s+all 2 passed/);
    expect(code).toBe(0);
  });

  test('every scenario passes on the docker backend, unchanged', async () => {
    // On this file's stack (two stacks cannot share the lab subnet or the published ports);
    // --keep leaves it to afterAll.
    const { code, stdout, stderr } = await wirelab(['run', '--backend', 'docker', '--project', PROJECT, '--keep'], { ms: 280_000 });
    if (code !== 0) throw new Error(`wirelab run --backend docker failed (exit ${code}):\n${stdout}\n${stderr}`);
    expect(stdout).toMatch(/total\s+(\d+)\/\1\s+all \d+ passed/);
  });
});
