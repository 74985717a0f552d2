/**
 * EPSV's argument (RFC 2428 3): a network protocol the server does not support, known
 * or not, gets 522 and the list of those it does, over a raw socket and with Python's
 * ftplib. A word that is no protocol number is a syntax error (501).
 */
import { ftplib, outcomes, startFtp, Wire, type RunningFtp } from './clients';

let ftp: RunningFtp;

beforeAll(async () => {
  ftp = await startFtp();
});

afterAll(async () => {
  await ftp.stop();
});

test('raw socket: EPSV 3 and EPSV 2 over IPv4 are 522 with "(1)"; EPSV 1 and EPSV open a port; EPSV x is 501', async () => {
  const wire = await Wire.login(ftp.port);
  try {
    expect(await wire.command('EPSV 3')).toBe('522 Network protocol not supported, use (1)');
    expect(await wire.command('EPSV 65535')).toBe('522 Network protocol not supported, use (1)');
    expect(await wire.command('EPSV 2')).toBe('522 Network protocol not supported, use (1)');
    expect(await wire.command('EPSV x')).toBe('501 EPSV takes 1 (IPv4), 2 (IPv6) or ALL.');
    expect(await wire.command('EPSV 1')).toMatch(/^229 Entering Extended Passive Mode \(\|\|\|\d+\|\)$/);
    // the session goes on: a listing over EPSV
    expect((await wire.passive('NLST')).data.toString()).toContain('notes.txt\r\n');
  } finally {
    wire.destroy();
  }
  expect(ftp.logs.matching(/verb=EPSV .*reply="522 Network protocol not supported, use \(1\)"/).length).toBeGreaterThanOrEqual(3);
});

test('ftplib: sendcmd("EPSV 3") raises error_perm with the 522 line; the next download works', async () => {
  const results = await ftplib(ftp.port, [['login', 'alice', 'alice'], ['sendcmd', 'EPSV 3'], ['get', 'notes.txt']]);
  expect(results[2]).toEqual({ op: 'sendcmd', error: '522 Network protocol not supported, use (1)' });
  const get = outcomes(results)[3];
  expect(get![0]).toBe('get');
  expect(String(get![1])).toContain('alice');
});
