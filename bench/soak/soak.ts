#!/usr/bin/env node
/**
 * `npm run soak`: the lab under load and faults, with figures.
 *
 * Starts every service as its own process (as its container runs it) on 127.0.0.1, with
 * a fresh data folder (processes.ts), or the Docker lab with --docker (docker.ts); drives
 * them all at once with well-behaved clients (HTTP GETs through www and the proxy, DNS queries, SMTP deliveries each with its own Message-ID,
 * POP3 RETR, IMAP FETCH, FTP and SFTP uploads of bytes with a known SHA-256) and bad
 * ones (garbage bytes, connection floods from 127.0.0.2, slow readers, wrong
 * passwords); half way it kills one service with SIGKILL and starts it again on the same
 * data and port. At the end it stops every service with SIGTERM and counts what was
 * lost: every message answered 250 must be in its Maildir once, every upload answered
 * 226 (FTP) or OK to CLOSE (SFTP) must be on disk, whole. It prints one row per service
 * and exits 1 if anything acknowledged was lost or duplicated, or a service did not
 * stop cleanly.
 *
 *   npm run soak                     3 minutes, SIGKILL to smtp half way
 *   npm run soak -- --quick          25 seconds
 *   npm run soak -- --seconds 60 --kill ftp --clients 3
 *   flock /tmp/wirelab-docker.lock npm run soak -- --docker [--quick]
 *                                    the same against the Docker lab (docker.ts): `docker kill`
 *                                    and `docker-compose up -d` of the service, the count
 *                                    read out of the volumes
 *
 * Bounded: in time (--seconds), in requests per service (--max-requests), and to this
 * machine (127.0.0.1 and, for the flood, 127.0.0.2).
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { homeDir } from '../../services/common/homes';
import { maildirPath } from '../../services/common/maildir';
import * as clients from './clients';
import { DockerLab } from './docker';
import { SOAK_SERVICES, type SoakLab } from './lab';
import { EmbeddedLab } from './processes';
import { errorKind, ServiceStats, table } from './stats';

interface Options {
  seconds: number;
  clients: number;
  maxRequests: number;
  kill: string;
  keep: boolean;
  dropOne: boolean;
  docker: boolean;
}

const positive = (text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a whole number, at least 1');
  return n;
};

/** What each well-behaved client uploads: small enough for many, big enough to span packets. */
const UPLOAD_BYTES = 64 * 1024;
/** Users whose mailboxes POP3 and IMAP read (bob's fills up with the deliveries). */
const READERS = ['alice', 'web'];

async function main(): Promise<number> {
  const program = new Command('soak')
    .description('drive every lab service at once, kill one half way, and count what was lost')
    .option('--quick', 'a short run: 25 seconds')
    .option('--seconds <n>', 'how long the load runs', positive)
    .option('--clients <n>', 'well-behaved clients per service, at once', positive, 2)
    .option('--max-requests <n>', 'at most this many requests per service', positive, 100000)
    .option('--kill <service>', 'the service killed with SIGKILL half way and started again', 'smtp')
    .option('--docker', 'the Docker lab (Compose project wirelabtest; run under flock /tmp/wirelab-docker.lock)')
    .option('--keep', 'keep the data folder (its path is printed)')
    .option('--drop-one', "the soak's own test: delete one delivered message before the count, which must then find it lost")
    .parse();
  const raw = program.opts<{ quick?: boolean; seconds?: number; clients: number; maxRequests: number; kill: string; keep?: boolean; dropOne?: boolean; docker?: boolean }>();
  const options: Options = { seconds: raw.seconds ?? (raw.quick ? 25 : 180), clients: raw.clients, maxRequests: raw.maxRequests, kill: raw.kill, keep: Boolean(raw.keep), dropOne: Boolean(raw.dropOne), docker: Boolean(raw.docker) };

  if (!SOAK_SERVICES.includes(options.kill)) throw new Error(`--kill: no service ${options.kill}; one of ${SOAK_SERVICES.join(', ')}`);
  const lab: SoakLab = options.docker ? new DockerLab() : new EmbeddedLab();
  let exitCode = 0;
  try {
    await lab.start();

    const stats = new Map(SOAK_SERVICES.map((name) => [name, new ServiceStats(name)]));
    const port = (name: string): number => lab.port(name);
    /** Message-IDs answered 250, by the mailbox they went to. */
    const delivered = new Map<string, string[]>();
    const remember = (user: string, id: string): void => {
      if (!delivered.has(user)) delivered.set(user, []);
      delivered.get(user)!.push(id);
    };
    const uploads: { service: 'ftp' | 'sftp'; user: string; name: string; sha256: string }[] = [];

    // Something for POP3 and IMAP to read.
    for (const user of READERS) for (let i = 0; i < 3; i++) {
      const id = `seed-${user}-${i}@soak.lab.test`;
      await clients.smtpDeliver(port('smtp'), `${user}@lab.test`, id);
      remember(user, id);
    }

    const started = Date.now();
    const deadline = started + options.seconds * 1000;
    let serial = 0;

    /** One well-behaved client of `service`: runs `op` again and again until the deadline or the request cap. */
    const worker = async (service: string, op: (n: number) => Promise<void>): Promise<void> => {
      const s = stats.get(service)!;
      while (Date.now() < deadline && s.served + [...s.errors.values()].reduce((a, b) => a + b, 0) < options.maxRequests) {
        const n = ++serial;
        const t0 = performance.now();
        try {
          await op(n);
          s.ok(performance.now() - t0);
        } catch (err) {
          s.error(errorKind(err));
          // A refused connection (the service is down and starting again): not a busy loop.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const good: Promise<void>[] = [];
    for (let i = 0; i < options.clients; i++) {
      const reader = READERS[i % READERS.length]!;
      good.push(
        worker('http', () => clients.httpGet(port('http'), '/', 'www.lab.test')),
        worker('proxy', () => clients.httpGet(port('proxy'), '/', 'shop.lab.test')),
        worker('app', () => clients.httpGet(port('app'), '/health', 'app.lab.test')),
        worker('dns', () => clients.dnsQuery(port('dns'))),
        worker('smtp', async (n) => {
          const id = `soak-${n}-${process.pid}@soak.lab.test`;
          await clients.smtpDeliver(port('smtp'), 'bob@lab.test', id);
          remember('bob', id);
        }),
        worker('pop3', () => clients.pop3Retr(port('pop3'), reader)),
        worker('imap', () => clients.imapFetch(port('imap'), reader)),
        worker('ftp', async (n) => {
          const { bytes, sha256 } = clients.uploadBytes(UPLOAD_BYTES);
          const name = `soak-${n}.bin`;
          await clients.ftpUpload(port('ftp'), 'alice', name, bytes);
          uploads.push({ service: 'ftp', user: 'alice', name, sha256 });
        }),
        worker('sftp', async (n) => {
          const { bytes, sha256 } = clients.uploadBytes(UPLOAD_BYTES);
          const name = `soak-${n}.bin`;
          await clients.sftpUpload(port('sftp'), 'bob', name, bytes);
          uploads.push({ service: 'sftp', user: 'bob', name, sha256 });
        }),
      );
    }

    // The bad clients: four loops at once (garbage, floods from 127.0.0.2, slow readers,
    // wrong passwords), each going round the services it makes sense against.
    const badLoop = async (targets: string[], attempt: (target: string) => Promise<string>): Promise<void> => {
      for (let round = 0; Date.now() < deadline; round++) {
        const target = targets[round % targets.length]!;
        try {
          stats.get(target)!.badClient(await attempt(target));
        } catch (err) {
          stats.get(target)!.badClient(`error:${errorKind(err)}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const tcp = ['http', 'proxy', 'app', 'smtp', 'pop3', 'imap', 'ftp', 'sftp'];
    const bad = [
      badLoop(tcp, (target) => clients.garbage(port(target))),
      badLoop(tcp, (target) => clients.flood(port(target), 30)),
      badLoop(['http', 'proxy'], (target) => clients.slowReader(port(target))),
      badLoop(['pop3'], (target) => clients.wrongPassword(port(target))),
    ];

    // Half way: SIGKILL, then the same service again on the same data and port.
    const fault = (async () => {
      await new Promise((resolve) => setTimeout(resolve, (options.seconds * 1000) / 2));
      await lab.killAndRestart(options.kill, `at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    })();

    await Promise.all([...good, ...bad, fault]);
    process.stderr.write(`soak: load done after ${((Date.now() - started) / 1000).toFixed(1)} s; stopping the services with SIGTERM...\n`);
    for (const [name, code] of await lab.stop()) {
      if (code !== 0) {
        stats.get(name)!.error(`exit ${code} on SIGTERM`);
        exitCode = 1;
      }
    }
    const dataDir = await lab.data();

    if (options.dropOne) {
      const inbox = path.join(maildirPath(dataDir, 'lab.test', 'bob'), 'new');
      const [first] = await readdir(inbox);
      if (first) await rm(path.join(inbox, first));
    }

    // What was acknowledged, against what is on disk.
    const smtp = stats.get('smtp')!;
    for (const [user, ids] of delivered) {
      const found = await messageIds(maildirPath(dataDir, 'lab.test', user));
      for (const id of ids) {
        smtp.acknowledged++;
        const n = found.get(id) ?? 0;
        if (n === 0) smtp.lost++;
        if (n > 1) smtp.duplicated++;
      }
    }
    for (const upload of uploads) {
      const s = stats.get(upload.service)!;
      s.acknowledged++;
      const bytes = await readFile(path.join(homeDir(dataDir, upload.user), upload.name)).catch(() => undefined);
      if (!bytes || createHash('sha256').update(bytes).digest('hex') !== upload.sha256) s.lost++;
    }

    const peak = lab.peakMemory();
    const rows = [...stats.values()];
    process.stdout.write(`wirelab soak (${options.docker ? 'Docker' : 'embedded'}): ${options.seconds} s, ${options.clients} clients per service, SIGKILL to ${options.kill} half way, node ${process.version}, ${os.cpus().length} CPUs\n\n`);
    process.stdout.write(`${table(rows, peak)}\n\n`);
    const lost = rows.reduce((n, s) => n + s.lost + s.duplicated, 0);
    process.stdout.write(lost === 0 ? 'items lost: 0\n' : `items lost or duplicated: ${lost}\n`);
    process.stderr.write('\n');
    if (lost > 0) exitCode = 1;
    return exitCode;
  } finally {
    await lab.close(options.keep);
  }
}

/** Every Message-ID in a Maildir (new/ and cur/), with how many files carry it. */
async function messageIds(maildir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const sub of ['new', 'cur']) {
    const names = await readdir(path.join(maildir, sub)).catch(() => [] as string[]);
    for (const name of names) {
      const head = (await readFile(path.join(maildir, sub, name), 'latin1')).split(/\r?\n\r?\n/, 1)[0]!;
      const id = /^Message-ID:\s*<([^>]+)>/im.exec(head)?.[1];
      if (id) found.set(id, (found.get(id) ?? 0) + 1);
    }
  }
  return found;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
