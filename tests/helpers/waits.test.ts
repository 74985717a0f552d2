/**
 * The helpers' waits: each has a deadline, and one that runs out says what it waited
 * for and what came instead. Real sockets and processes, short deadlines.
 */
import type net from 'node:net';
import { LogCollector } from './logs';
import { built } from './paths';
import { Child, startMain } from './process';
import { listenTcp, RawSocket, type TcpPeer } from './socket';
import { poll, within } from './wait';

describe('LogCollector', () => {
  test('waitFor resolves with every matching line, counting the lines already there', async () => {
    const logs = new LogCollector();
    logs.sink('one: closed conn=c1', 'info');
    const two = logs.waitFor(/closed/, { count: 2 });
    logs.add('not this one');
    logs.add('two: closed conn=c2');
    expect(await two).toEqual(['one: closed conn=c1', 'two: closed conn=c2']);
  });

  test('a wait that runs out names the pattern, how many matched of how many, and the last lines', async () => {
    const logs = new LogCollector();
    for (let i = 1; i <= 10; i++) logs.add(`line ${i}`);
    logs.add('closed conn=c1');
    const err = await logs.waitFor(/closed conn=c\d+/, { count: 2, ms: 50 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WaitTimeout' });
    // Its stack starts at this line, where the wait was asked for, not in the helpers' timer.
    const stack = (err as Error).stack!;
    expect(stack.slice(stack.indexOf('\n    at '))).toMatch(/^\n {4}at .*[\\/]waits\.test\.ts:\d+:\d+\)?\n/);
    expect((err as Error).message).toBe(
      'timed out after 50 ms waiting for 2 log lines matching /closed conn=c\\d+/\n1 of 2 matched; the last 8 of 11 lines:\n  line 4\n  line 5\n  line 6\n  line 7\n  line 8\n  line 9\n  line 10\n  closed conn=c1',
    );
  });

  test('wire() reads the logWire lines back into their fields', () => {
    const logs = new LogCollector();
    logs.add('2026-12-04T00:00:00.000Z smtp debug wire conn=c1 kind=send proto=smtp from=a to=b summary="MAIL FROM:<>"');
    logs.add('2026-12-04T00:00:00.000Z smtp info something else');
    expect(logs.wire()).toEqual([{ conn: 'c1', kind: 'send', proto: 'smtp', from: 'a', to: 'b', summary: 'MAIL FROM:<>' }]);
  });
});

describe('RawSocket', () => {
  const peers: TcpPeer[] = [];
  afterEach(() => Promise.all(peers.splice(0).map((p) => p.close())));
  /** A server for one test: listenTcp(), closed after the test. */
  async function serve(onConnection?: (socket: net.Socket) => void): Promise<TcpPeer> {
    const peer = await listenTcp(onConnection);
    peers.push(peer);
    return peer;
  }

  test('reads lines and patterns in order, sees the close, and half-closes', async () => {
    // An echo that answers once our side is done sending: proof of the half-close.
    const peer = await serve((socket) => {
      socket.write('hello\r\nworld\r\n');
      const got: Buffer[] = [];
      socket.on('data', (c: Buffer) => got.push(c));
      socket.on('end', () => socket.end(Buffer.concat(got)));
    });
    const client = await RawSocket.connect(peer.port);
    expect(await client.readLine()).toBe('hello');
    expect(await client.readUntil(/or/)).toBe('wor');
    client.end('bytes \xff\x00');
    expect(await client.rest()).toBe('ld\r\nbytes \xff\x00');
    expect(client.text).toBe('hello\r\nworld\r\nbytes \xff\x00');
  });

  test('a read that runs out names what it waited for, from where, and what came', async () => {
    const peer = await serve((socket) => socket.write('220 ready\r\n'));
    const client = await RawSocket.connect(peer.port);
    await client.readLine();
    const err = await client.readUntil('250 ', { ms: 50 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`timed out after 50 ms waiting for "250 " from 127.0.0.1:${peer.port}\nreceived 11 octets from 127.0.0.1:${peer.port}; unread: ""`);
    client.destroy();
  });

  test('a read the close cuts short fails at once, with what did come', async () => {
    const peer = await serve((socket) => socket.end('partial'));
    const client = await RawSocket.connect(peer.port);
    await expect(client.readLine()).rejects.toThrow(`the connection closed while waiting for "\\r\\n"; received 7 octets from 127.0.0.1:${peer.port}, then the close; unread: "partial"`);
  });

  test('waitFor looks at everything received and consumes nothing', async () => {
    const peer = await serve((socket) => socket.end('HTTP/1.1 200 OK\r\n\r\nbody'));
    const client = await RawSocket.connect(peer.port);
    expect(await client.waitFor(/\r\n\r\n/)).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(await client.rest()).toBe('HTTP/1.1 200 OK\r\n\r\nbody');
  });

  test('a connection refused is the socket error, ECONNREFUSED', async () => {
    const peer = await listenTcp();
    await peer.close();
    await expect(RawSocket.connect(peer.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('within and poll', () => {
  test('within names what did not happen, and what was seen', async () => {
    await expect(within(new Promise(() => {}), 'the moon', { ms: 20, seen: () => 'only stars' })).rejects.toThrow('timed out after 20 ms waiting for the moon\nonly stars');
  });

  test('poll returns the first value its check finds, or names the state it waited for', async () => {
    let n = 0;
    expect(await poll('three looks', async () => (++n >= 3 ? n : undefined), { everyMs: 1 })).toBe(3);
    await expect(poll('a file', async () => undefined, { ms: 20, everyMs: 5, describe: async () => 'none there' })).rejects.toThrow('timed out after 20 ms waiting for a file\nnone there');
  });
});

describe('processes', () => {
  test('a process that exits before the line it is waited for fails at once, with its output', async () => {
    const child = Child.start(process.execPath, ['-e', 'console.log("starting"); console.error("no config"); process.exit(3)'], { name: 'broken' });
    await expect(child.waitFor(/listening/)).rejects.toThrow(/^broken exited \(code 3\) before printing a line matching \/listening\/; the last 2 of 2 lines:\n {2}(starting\n {2}no config|no config\n {2}starting)$/);
  });

  test("a service's main.js: started on port 0, its port read from the listening line, stopped by its PID", async () => {
    const { child, port } = await startMain('dns');
    expect(port).toBeGreaterThan(0);
    // The port is the one it logged (`listening ... port=N`) or printed (`listening on 127.0.0.1:N`), whichever came first.
    expect(child.output.matching(new RegExp(` listening .*(?:127\\.0\\.0\\.1:${port}|port=${port})\\b`)).length).toBeGreaterThan(0);
    expect(await child.stop()).toEqual({ code: 0, signal: null });
    expect(child.running).toBe(false);
  });

  test('built(): a file of dist/ that is not there fails, saying to build', () => {
    expect(() => built('no/such/file.js')).toThrow('dist/no/such/file.js is missing: run `npm run build` first (`npm test` does)');
  });
});
