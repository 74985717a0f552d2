import type { Zone, ZoneRecord } from './zonefile';

/**
 * Move the lab to another /24 (compose's LAB_PREFIX, when 172.28.0.0/24 clashes with a
 * classroom network): A records in the lab's network, and the reverse zone with its
 * names, follow the new prefix; everything else stays as the zone files say. Pure.
 *
 *   renumber(zone, '172.28.0', '10.99.7')   172.28.0.80 -> 10.99.7.80,
 *                                           80.0.28.172.in-addr.arpa -> 80.7.99.10.in-addr.arpa
 */
export const LAB_PREFIX = '172.28.0';

const reverse = (prefix: string): string => `${prefix.split('.').reverse().join('.')}.in-addr.arpa`;

export function renumber(zone: Zone, from: string, to: string): Zone {
  if (from === to) return zone;
  const [oldReverse, newReverse] = [reverse(from), reverse(to)];
  const name = (n: string): string => (n === oldReverse || n.endsWith(`.${oldReverse}`) ? n.slice(0, n.length - oldReverse.length) + newReverse : n);
  const records = zone.records.map((r): ZoneRecord => {
    const moved = { ...r, name: name(r.name) } as ZoneRecord;
    if (moved.type === 'A' && moved.data.startsWith(`${from}.`)) return { ...moved, data: to + moved.data.slice(from.length) };
    return moved;
  });
  const byName = new Map<string, ZoneRecord[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const soa = records.find((r) => r.type === 'SOA') as Zone['soa'];
  return { ...zone, origin: name(zone.origin), soa, records, byName };
}

/** The prefix from WIRELAB_PREFIX (three octets), checked. */
export function prefixFromEnv(value = process.env.WIRELAB_PREFIX): string {
  if (value === undefined || value === '') return LAB_PREFIX;
  if (!/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){2}$/.test(value)) {
    throw new Error(`WIRELAB_PREFIX must be the first three numbers of a /24, like 10.99.7; got ${JSON.stringify(value)}`);
  }
  return value;
}
