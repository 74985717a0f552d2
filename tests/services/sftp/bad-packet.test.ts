/**
 * Found by `npm run fuzz`: after a packet length it refuses ("Bad packet length", RFC 4253
 * 6.1: at most 35000 here), ssh2 went on reading the same connection, and took the
 * refused length as that of the next packet: a client whose version line was followed by
 * text (`n-2+` read as a length is 1.8 GB) and then more bytes made the server allocate
 * 1.8 GB. A protocol error now ends the connection at once (RFC 4253 11.1: the stream
 * cannot be read any further).
 */
import { RawSocket } from '../../helpers/socket';
import { startSftp, stillServes, type RunningSftp } from './clients';

let lab: RunningSftp;
beforeAll(async () => (lab = await startSftp()));
afterAll(() => lab?.stop());

test('a packet length over the limit closes the connection; bytes after it are never taken for a packet', async () => {
  const raw = await RawSocket.connect(lab.port);
  await raw.readUntil('\r\n'); // the server's version line
  raw.write('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\nn-2+deb12u3\r\n');
  await lab.logs.waitFor(/connection error .*Bad packet length/);
  const before = process.memoryUsage().external;
  // More bytes, as a client that has not noticed sends them: they must not be read as that packet.
  raw.write(Buffer.alloc(400, 0x5a));
  await raw.closed();
  expect(process.memoryUsage().external - before).toBeLessThan(100 * 1024 * 1024);
  await stillServes(lab);
});
