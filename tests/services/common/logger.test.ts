/**
 * The services' log: lines are collected and written together once per turn of the
 * event loop (bufferedSink), so a busy server does not block on a write per line. The
 * line format the runner parses stays the same, and nothing is lost when a service
 * exits: process.exit() in the middle of a burst, or SIGTERM to a real service.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { bufferedSink, createLogger, parseLogLine } from '../../../services/common/logger';
import { built, LAB_DIR } from '../../helpers/paths';
import { query, UdpClient } from '../dns/clients';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the lines of one turn go out in one write, in order, each one as the runner reads it', async () => {
  const writes: string[] = [];
  const sink = bufferedSink((text) => writes.push(text));
  const log = createLogger('dns', { sink }).child({ conn: 'c1' });
  log.info('query', { n: 1, name: 'www.lab.test' });
  log.info('query', { n: 2, name: 'a b' });
  log.warn('dropped', { n: 3, reason: 'a response, not a query' });
  expect(writes).toEqual([]);
  await turn();
  expect(writes).toHaveLength(1);
  const lines = writes[0]!.split('\n');
  expect(lines.pop()).toBe(''); // every line ends with a line feed
  expect(lines.map((l) => parseLogLine(l))).toEqual([
    { time: expect.any(String), service: 'dns', level: 'info', message: 'query', fields: { conn: 'c1', n: '1', name: 'www.lab.test' } },
    { time: expect.any(String), service: 'dns', level: 'info', message: 'query', fields: { conn: 'c1', n: '2', name: 'a b' } },
    { time: expect.any(String), service: 'dns', level: 'warn', message: 'dropped', fields: { conn: 'c1', n: '3', reason: 'a response, not a query' } },
  ]);
});

test('a burst past maxBytes is written at once, not held for the end of the turn; flush() writes what waits', async () => {
  const writes: string[] = [];
  const sink = bufferedSink((text) => writes.push(text), 100);
  for (let i = 0; i < 5; i++) sink(`line ${i} ${'x'.repeat(30)}`, 'info');
  expect(writes.length).toBeGreaterThan(0); // 5 lines of ~38 bytes: past 100 twice
  sink('last', 'info');
  sink.flush();
  expect(writes.join('').split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'last']);
});

/** Run node with `args`; resolves with its stderr once it exits. */
async function stderrOf(args: string[], env: NodeJS.ProcessEnv = {}, whileRunning?: (child: ReturnType<typeof spawn>) => Promise<void>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  await whileRunning?.(child);
  const [code] = (await exited) as [number | null];
  return { code, stderr };
}

test('process.exit() in the middle of a burst: every line is on stderr', async () => {
  const logger = built('services/common/logger.js');
  const script = `const { createLogger } = require(${JSON.stringify(logger)}); const log = createLogger('dns'); for (let i = 0; i < 2000; i++) log.info('query', { n: i }); process.exit(3);`;
  const { code, stderr } = await stderrOf(['-e', script]);
  expect(code).toBe(3);
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(2000);
  expect(lines.map((l) => parseLogLine(l)?.fields.n)).toEqual(Array.from({ length: 2000 }, (_, i) => String(i)));
});

test('SIGTERM to a running service: its last queries and "shutting down" are all in its log', async () => {
  const { code, stderr } = await stderrOf(
    [built('services/dns/main.js')],
    { DNS_PORT: '0', DNS_HOST: '127.0.0.1', WIRELAB_LAB: LAB_DIR },
    async (child) => {
      // `dns listening on 127.0.0.1:PORT (udp+tcp), ...` on stdout says where it is.
      let out = '';
      for await (const chunk of child.stdout!) {
        out += String(chunk);
        if (/listening on [\d.]+:\d+/.test(out)) break;
      }
      const port = Number(/listening on [\d.]+:(\d+)/.exec(out)![1]);
      const client = new UdpClient(port);
      for (let id = 1; id <= 50; id++) await client.ask(query('www.lab.test', 'A', { id }));
      await client.close();
      child.kill('SIGTERM');
    },
  );
  expect(code).toBe(0);
  const lines = stderr.trimEnd().split('\n');
  const parsed = lines.map((l) => parseLogLine(l));
  expect(parsed.every((p) => p !== undefined)).toBe(true);
  expect(parsed.filter((p) => p!.message === 'query' && p!.fields.name === 'www.lab.test' && p!.fields.rcode === 'NOERROR')).toHaveLength(50);
  expect(lines.at(-1)).toMatch(/^\S+ dns info shutting down signal=SIGTERM$/);
});
