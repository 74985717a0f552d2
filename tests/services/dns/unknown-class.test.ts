/**
 * A query in a class the lab does not serve (CLASS1234, RFC 3597 5), asked with dig and
 * kdig, answered by the lab's server and by NSD (the reference: an authoritative
 * server, run here on loopback with a copy of lab/zones/lab.test.zone). Both say
 * REFUSED and keep the OPT record of an EDNS query; neither says FORMERR.
 */
import { run } from '../../helpers/process';
import { dig, digHeader, labAndNsd } from './clients';

const servers = labAndNsd();

/** What a reply says, in dig's words: its status, whether it has an OPT record, how many questions it repeats. */
function summary(out: string): { status: string; opt: boolean; questions: number } {
  return { status: digHeader(out).status, opt: out.includes('OPT PSEUDOSECTION'), questions: Number(/QUERY: (\d+)/.exec(out)?.[1]) };
}

describe('dig -c CLASS1234 www.lab.test A', () => {
  test('with EDNS (dig\'s default): REFUSED with the OPT record, from both servers', async () => {
    const ours = await dig(servers.lab.port, '-c', 'CLASS1234', 'www.lab.test', 'A');
    const reference = await dig(servers.nsd.port, '-c', 'CLASS1234', 'www.lab.test', 'A');
    expect(summary(reference)).toMatchObject({ status: 'REFUSED', opt: true });
    expect(summary(ours)).toMatchObject({ status: 'REFUSED', opt: true });
    // NSD leaves the question out; we repeat it as it was asked (RFC 1035 4.1.2), so
    // dig shows it and has nothing to warn about.
    expect(summary(ours).questions).toBe(1);
    expect(ours).toMatch(/;www\.lab\.test\.\s+CLASS1234\s+A/);
    expect(ours).not.toContain('WARNING: response doesn');
    expect(servers.lab.logs.lines.some((l) => / dns info query .*name=www\.lab\.test type=A class=CLASS1234 rcode=REFUSED answers=0/.test(l))).toBe(true);
  });

  test('without EDNS: REFUSED and no OPT record, from both servers', async () => {
    for (const port of [servers.nsd.port, servers.lab.port]) {
      expect(summary(await dig(port, '+noedns', '-c', 'CLASS1234', 'www.lab.test', 'A'))).toMatchObject({ status: 'REFUSED', opt: false });
    }
  });

  test('over TCP with kdig +edns: REFUSED with the OPT record', async () => {
    const { stdout: out } = await run('kdig', ['@127.0.0.1', '-p', String(servers.lab.port), '+tcp', '+edns', '-c', 'CLASS1234', 'www.lab.test', 'A']);
    expect(out).toMatch(/status: REFUSED/);
    expect(out).toContain('EDNS PSEUDOSECTION');
  });

  test('the same question in class IN is still answered', async () => {
    const out = await dig(servers.lab.port, 'www.lab.test', 'A');
    expect(digHeader(out)).toMatchObject({ status: 'NOERROR', answers: 1 });
  });
});
