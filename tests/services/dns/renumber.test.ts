import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { parseZoneFile } from '../../../services/dns/zonefile';
import { prefixFromEnv, renumber } from '../../../services/dns/renumber';
import { answer } from '../../../services/dns/zone';
import { reverseName } from '../../../lab-runner/executors/dns';
import { LAB_DIR } from '../../helpers/paths';

/** LAB_PREFIX: the lab moved to another /24 when 172.28.0.0/24 clashes with a classroom's network. */

const zone = (name: string) => {
  const file = path.join(LAB_DIR, 'zones', name);
  return parseZoneFile(readFileSync(file, 'utf8'), { file });
};

test('A records in the lab network move; other data stays', () => {
  const moved = renumber(zone('lab.test.zone'), '172.28.0', '10.99.7');
  const a = (n: string) => moved.byName.get(n)?.find((r) => r.type === 'A')?.data;
  expect(a('www.lab.test')).toBe('10.99.7.80');
  expect(a('ns.lab.test')).toBe('10.99.7.53');
  expect(moved.byName.get('www.lab.test')?.find((r) => r.type === 'AAAA')?.data).toBe('fd00:28::80');
  expect(moved.origin).toBe('lab.test');
});

test('the reverse zone moves with it, and answers PTR queries at the new names', () => {
  const moved = renumber(zone('0.28.172.in-addr.arpa.zone'), '172.28.0', '10.99.7');
  expect(moved.origin).toBe('7.99.10.in-addr.arpa');
  const query = dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'PTR', name: reverseName('10.99.7.80') }] }));
  const reply = answer(query, [moved]) as dnsPacket.Packet & { rcode?: string };
  expect(reply.answers?.[0]).toMatchObject({ type: 'PTR', data: 'www.lab.test' });
});

test('the same prefix changes nothing; a malformed one is refused', () => {
  const z = zone('lab.test.zone');
  expect(renumber(z, '172.28.0', '172.28.0')).toBe(z);
  expect(prefixFromEnv(undefined)).toBe('172.28.0');
  expect(prefixFromEnv('10.99.7')).toBe('10.99.7');
  expect(() => prefixFromEnv('10.99.7.0/24')).toThrow(/first three numbers of a \/24/);
  expect(() => prefixFromEnv('300.1.1')).toThrow();
});
