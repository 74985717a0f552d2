/**
 * A small program the capture tests run as another user (nobody), the way `wirelab
 * run --capture` will: find out how it may capture, re-run itself in its own
 * namespace if it must, capture its own real traffic there, and report.
 *
 *   node capture-driver.js access              prints captureAccess() as JSON
 *   node capture-driver.js direct OUT          tries to capture here, as it is; writes OUT/result.json
 *   node capture-driver.js capture OUT         captures, in a namespace if need be; writes OUT/capture.pcapng and OUT/result.json
 *   node capture-driver.js hold                in its namespace, listens on a TCP port, prints {pid, port}, waits for stdin to close
 *
 * It uses only lab-runner/packets and Node, so the test can copy it anywhere nobody can read.
 */
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NAMESPACE_ENV, PacketCapture, bringLoopbackUp, captureAccess, conversations, endpointText, runInNamespace } from '../../../lab-runner/packets/index';

async function traffic(): Promise<number[]> {
  // A TCP exchange: connect, send, get an answer, both close.
  const server = net.createServer((socket) => socket.once('data', (d) => socket.end(`echo ${d}`)).resume());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    const client = net.connect(port, '127.0.0.1', () => client.write('hello')).on('error', reject);
    client.resume().on('end', () => client.end()).on('close', () => resolve());
  });
  server.close();
  // A refused connection: the port just let go.
  await new Promise<void>((resolve) => net.connect(port, '127.0.0.1').on('error', () => resolve()));
  // A UDP datagram and its answer.
  const echo = dgram.createSocket('udp4').on('message', (m, from) => echo.send(m, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
  const udpPort = echo.address().port;
  const asker = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => {
    asker.once('message', () => resolve());
    asker.send('ping', udpPort, '127.0.0.1');
  });
  asker.close();
  echo.close();
  return [port, udpPort];
}

async function capture(out: string): Promise<Record<string, unknown>> {
  const inNamespace = process.env[NAMESPACE_ENV] === '1';
  if (inNamespace) await bringLoopbackUp();
  const access = await captureAccess();
  if (access.kind === 'namespace') {
    const code = await runInNamespace([process.execPath, __filename, 'capture', out]);
    process.exit(code);
  }
  if (access.kind === 'none') return { access };
  // The ports are known only once the servers listen: no filter. In its own namespace, this lo carries our traffic alone.
  const file = path.join(out, 'capture.pcapng');
  const live = await PacketCapture.start({ file, program: access.program });
  const ports = await traffic();
  const stopped = await live.stop();
  const flows = conversations(live.packets).map((c) => `${c.transport} ${endpointText(c.client)} -> ${endpointText(c.server)} (${c.packets.length})`);
  return { access, inNamespace, uid: process.getuid?.(), ports, stopped, flows };
}

/** A lab stand-in that stays up in the namespace until stdin closes (what `wirelab up --capture` does). */
async function hold(): Promise<void> {
  if (process.env[NAMESPACE_ENV] !== '1') process.exit(await runInNamespace([process.execPath, __filename, 'hold']));
  await bringLoopbackUp();
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ pid: process.pid, port: (server.address() as net.AddressInfo).port })}\n`);
  process.stdin.resume().on('end', () => server.close());
}

async function direct(): Promise<Record<string, unknown>> {
  try {
    const live = await PacketCapture.start({ startTimeoutMs: 5000 });
    await live.stop();
    return { started: true };
  } catch (err) {
    return { started: false, code: (err as { code?: string }).code, message: (err as Error).message };
  }
}

async function main(): Promise<void> {
  const [mode, out] = process.argv.slice(2);
  if (mode === 'hold') return hold();
  if (mode === 'access') {
    process.stdout.write(JSON.stringify(await captureAccess()));
    return;
  }
  const result = mode === 'direct' ? await direct() : await capture(out!);
  writeFileSync(path.join(out!, 'result.json'), JSON.stringify(result, null, 2));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
