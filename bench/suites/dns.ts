import { appendFile, cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadZones } from '../../services/dns/loadZones';
import { compare, type Recorder, type Side } from '../figures';
import type { Daemon } from '../process';
import { folder, HOST, ports, startOurs, startServer } from '../servers';
import { dnsperf } from '../tools';

/**
 * DNS: ns.lab.test against dnsmasq (the small server a user would pick) holding the
 * same names as host records, and against NSD (an authoritative server, like ours)
 * reading the very same zone files. dnsperf over UDP, at most 100 queries outstanding,
 * asking for the A record of each lab host in turn.
 *
 * Scaling: the same with 10,000 more A records in lab.test, asked for all over.
 */

const BIG = 10_000;

export async function dnsSuite(rec: Recorder, lab: string): Promise<void> {
  const { dir } = rec;
  const zones = await loadZones({ zoneDir: path.join(lab, 'zones') });
  const hosts = zones.flatMap((z) => z.records.filter((r) => r.type === 'A').map((r) => ({ name: r.name, address: r.data as string })));
  const labQueries = path.join(dir, 'queries-lab.txt');
  await writeFile(labQueries, hosts.map((h) => `${h.name} A\n`).join(''));
  await measureZone(rec, {
    id: 'dns-a',
    title: 'DNS A over UDP, dnsperf -q100',
    lab,
    queries: labQueries,
    hostRecords: hosts,
    withNsd: true,
    target: true,
  });

  if (rec.settings.quick) return;
  // Scaling: the lab zone plus 10,000 hosts, h00001.lab.test ..., in a copy of the lab folder.
  const bigLab = path.join(dir, 'lab-10k');
  await cp(lab, bigLab, { recursive: true });
  const extra = Array.from({ length: BIG }, (_, i) => ({ name: `h${String(i + 1).padStart(5, '0')}.lab.test`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
  await appendFile(path.join(bigLab, 'zones', 'lab.test.zone'), '\n; the bench: 10,000 more hosts\n' + extra.map((h) => `${h.name}. IN A ${h.address}\n`).join(''));
  const bigQueries = path.join(dir, 'queries-10k.txt');
  await writeFile(bigQueries, shuffle(extra).map((h) => `${h.name} A\n`).join(''));
  await measureZone(rec, {
    id: 'dns-a-10k',
    title: `DNS A over UDP, a zone of ${BIG.toLocaleString('en-US')} more records`,
    lab: bigLab,
    queries: bigQueries,
    hostRecords: [...hosts, ...extra],
    withNsd: false,
    target: false,
  });
}

async function measureZone(
  rec: Recorder,
  z: { id: string; title: string; lab: string; queries: string; hostRecords: { name: string; address: string }[]; withNsd: boolean; target: boolean },
): Promise<void> {
  const { dir, settings } = rec;
  const p = await ports(['ours', 'dnsmasq', 'nsd'], true);
  const started: Daemon[] = [];
  try {
    const dnsmasq = await startDnsmasq(await folder(dir, `${z.id}-dnsmasq`), p.dnsmasq, z.hostRecords);
    started.push(dnsmasq);
    const ours = await startOurs('dns', { dir, lab: z.lab, env: { DNS_PORT: String(p.ours), DNS_HOST: HOST }, ready: [{ kind: 'dns', port: p.ours }] });
    started.push(ours);
    const side = (label: string, daemon: Daemon, port: number): Side => ({ label, servers: [daemon], run: () => dnsperf(port, z.queries, settings.seconds) });
    const metrics = (against: string, target: boolean) => [
      { key: 'qps', title: `${z.title}, vs ${against}`, unit: 'queries/s', better: 'higher' as const, ...(target ? { target: { of: 'ratio' as const, atLeast: 1.0 } } : {}) },
      { key: 'lost', title: `${z.title}, vs ${against}: queries lost`, unit: 'count', better: 'lower' as const, noRatio: true },
    ];
    await compare(rec, { id: z.id, group: 'dns', metrics: metrics('dnsmasq', z.target), reference: side('dnsmasq 2.90', dnsmasq, p.dnsmasq), ours: side('wirelab dns', ours, p.ours) });
    if (z.withNsd) {
      const nsd = await startNsd(await folder(dir, `${z.id}-nsd`), p.nsd, path.join(z.lab, 'zones'));
      started.push(nsd);
      await compare(rec, { id: `${z.id}-nsd`, group: 'dns', metrics: metrics('NSD', false), reference: side('NSD 4.6, 1 server process', nsd, p.nsd), ours: side('wirelab dns', ours, p.ours) });
    }
  } finally {
    for (const d of started.reverse()) await d.stop();
  }
}

/** dnsmasq with the names as host records (hosts-file lines), nothing forwarded, no query log (its default). */
async function startDnsmasq(home: string, port: number, hosts: { name: string; address: string }[]): Promise<Daemon> {
  const hostsFile = path.join(home, 'hosts');
  await writeFile(hostsFile, hosts.map((h) => `${h.address} ${h.name}\n`).join(''));
  return startServer(
    {
      name: 'dnsmasq',
      command: 'dnsmasq',
      args: [
        '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces',
        `--port=${port}`, `--listen-address=${HOST}`, `--addn-hosts=${hostsFile}`, '--user=root',
        `--pid-file=${home}/dnsmasq.pid`, `--log-facility=${home}/dnsmasq.log`,
        '--local=/lab.test/', '--local=/example.test/', // answered here or NXDOMAIN: never forwarded
      ],
      logFile: path.join(home, 'stderr.log'),
    },
    [{ kind: 'dns', port }],
  );
}

/** NSD serving the lab's zone files themselves, one server process (ours is one process too). */
async function startNsd(home: string, port: number, zoneDir: string): Promise<Daemon> {
  const zones = (await loadZones({ zoneDir })).map((z) => `zone:\n  name: ${z.origin}\n  zonefile: ${path.join(zoneDir, path.basename(z.file))}\n`);
  const conf = path.join(home, 'nsd.conf');
  await writeFile(
    conf,
    [
      'server:',
      `  ip-address: ${HOST}`,
      `  port: ${port}`,
      '  server-count: 1',
      '  username: ""',
      `  zonesdir: "${home}"`,
      '  database: ""',
      `  zonelistfile: "${home}/zone.list"`,
      `  xfrdfile: "${home}/xfrd.state"`,
      `  xfrdir: "${home}"`,
      `  pidfile: "${home}/nsd.pid"`,
      `  logfile: "${home}/nsd.log"`,
      // Response rate limiting (on in Debian's build: 200 answers/s per client) would throttle the load itself.
      '  rrl-ratelimit: 0',
      'remote-control:',
      '  control-enable: no',
      ...zones,
    ].join('\n'),
  );
  return startServer({ name: 'nsd', command: 'nsd', args: ['-d', '-c', conf], logFile: path.join(home, 'stderr.log') }, [{ kind: 'dns', port }]);
}

/** A fixed shuffle (the same every run): queries spread over the zone, not in file order. */
function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
