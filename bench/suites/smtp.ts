import { readdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { maildirPath } from '../../services/common/maildir';
import { compare, type Recorder, type Side } from '../figures';
import type { Daemon } from '../process';
import { folder, HOST, ONE_LOAD_ADDRESS, oursData, ports, startOurs, startServer } from '../servers';
import { smtpSource } from '../tools';

/**
 * SMTP: mail.lab.test against Postfix, with Postfix's smtp-source sending to
 * bob@lab.test. Both answer 250 only once the message is on disk: ours after fsync of
 * the message in bob's Maildir (and of the folder), Postfix after its cleanup daemon's
 * fsync of the queue file; Postfix then delivers it into a Maildir of its own (virtual),
 * as ours already has. smtp-sink, which answers 250 and keeps nothing, would not be a
 * fair reference. Postfix runs from a folder of its own (master -d, in the foreground),
 * no chroot, no DNS, logging to a file.
 *
 * After each run the bench waits until every message answered 250 is in the Maildir
 * (Postfix: its queue has drained), and checks the count: nothing was lost.
 *
 *   new connection per message: smtp-source's default (1, 10, 20 senders at once)
 *   connection kept: -d, one session sends them all
 */

export async function smtpSuite(rec: Recorder, lab: string): Promise<void> {
  const { dir } = rec;
  const p = await ports(['ours', 'postfix', 'dns']);
  const pf = await folder(dir, 'postfix');
  const started: Daemon[] = [];
  try {
    const postfix = await startPostfix(pf, p.postfix);
    started.push(postfix);
    const ours = await startOurs('smtp', {
      dir,
      lab,
      // LAB_DNS only for mail to other domains, which the bench does not send.
      env: { SMTP_PORT: String(p.ours), SUBMISSION_PORT: '', SMTPS_PORT: '', SMTP_HOST: HOST, MAIL_DOMAIN: 'lab.test', LAB_DNS: `${HOST}:${p.dns}`, ...ONE_LOAD_ADDRESS },
      ready: [{ kind: 'tcp', port: p.ours }],
    });
    started.push(ours);
    const boxes = {
      postfix: path.join(pf, 'mail', 'bob', 'Maildir'),
      ours: maildirPath(oursData(dir, 'smtp'), 'lab.test', 'bob'),
    };
    const target = (atLeast: number) => ({ of: 'ratio' as const, atLeast });
    const runs: { id: string; title: string; senders: number; keep: boolean; target?: number; group: string }[] = [
      { id: 'smtp-new', title: 'SMTP, a new connection per message', senders: 1, keep: false, target: 1.0, group: 'smtp' },
      { id: 'smtp-kept', title: 'SMTP, one connection kept', senders: 1, keep: true, target: 1.0, group: 'smtp' },
      { id: 'smtp-new-10', title: 'SMTP, new connections, 10 senders', senders: 10, keep: false, group: 'smtp scaling' },
      { id: 'smtp-new-20', title: 'SMTP, new connections, 20 senders', senders: 20, keep: false, group: 'smtp scaling' },
    ];
    for (const r of runs) {
      if (rec.settings.quick && r.group !== 'smtp') continue; // scaling: full runs only
      await compare(rec, {
        id: r.id,
        group: r.group,
        metrics: [{ key: 'msgs', title: r.title, unit: 'msg/s', better: 'higher', ...(r.target ? { target: target(r.target) } : {}) }],
        reference: sender(rec, 'Postfix 3.7, real queue', postfix, p.postfix, boxes.postfix, r),
        ours: sender(rec, 'wirelab smtp', ours, p.ours, boxes.ours, r),
      });
    }
  } finally {
    for (const d of started.reverse()) await d.stop();
  }
}

/**
 * One side: smtp-source with as many messages as this server takes in about the run's
 * seconds (from its last run: the first, the warm-up, sends 20), then wait until all
 * are delivered and check none is missing.
 */
function sender(rec: Recorder, label: string, daemon: Daemon, port: number, maildir: string, r: { senders: number; keep: boolean }): Side {
  let rate = 0;
  return {
    label,
    servers: [daemon],
    run: async () => {
      const messages = rate ? Math.round(Math.min(20_000, Math.max(20, rate * rec.settings.seconds))) : 20;
      const before = await count(maildir);
      const result = await smtpSource(port, { messages, senders: r.senders, keep: r.keep, timeoutMs: (rec.settings.seconds * 6 + 60) * 1000 });
      rate = result.msgs!;
      await delivered(maildir, before + messages, label);
      return result;
    },
  };
}

/** Messages in a Maildir's new/ and cur/. */
async function count(maildir: string): Promise<number> {
  let n = 0;
  for (const sub of ['new', 'cur']) n += (await readdir(path.join(maildir, sub)).catch(() => [])).length;
  return n;
}

/** Until `want` messages are in the Maildir (the queue drained), or fail after 60 s naming what is missing. */
async function delivered(maildir: string, want: number, label: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const have = await count(maildir);
    if (have >= want) return;
    if (Date.now() > deadline) throw new Error(`${label}: ${want - have} message(s) answered 250 are not in ${maildir} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Postfix from its own folder: main.cf and master.cf written here, the queue made by
 * `postfix check`, the master daemon in the foreground (-d) so the bench holds its PID.
 */
async function startPostfix(home: string, port: number): Promise<Daemon> {
  const etc = await folder(home, 'etc');
  const mail = await folder(home, 'mail');
  await folder(home, 'queue');
  const data = await folder(home, 'data');
  const nobody = 65534;
  execFileSync('chown', [`${nobody}:${nobody}`, mail]);
  execFileSync('chown', ['postfix', data]);
  await writeFile(path.join(etc, 'vmailbox'), 'bob@lab.test bob/Maildir/\n');
  await writeFile(
    path.join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${home}/queue`,
      `data_directory = ${data}`,
      'command_directory = /usr/sbin',
      'daemon_directory = /usr/lib/postfix/sbin',
      'meta_directory = /etc/postfix',
      'shlib_directory = /usr/lib/postfix',
      'mail_owner = postfix',
      'setgid_group = postdrop',
      `inet_interfaces = ${HOST}`,
      'inet_protocols = ipv4',
      'myhostname = mail.lab.test',
      'mydomain = lab.test',
      'myorigin = lab.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      // Mail for bob@lab.test goes into a Maildir, as ours.
      'virtual_mailbox_domains = lab.test',
      `virtual_mailbox_base = ${mail}`,
      `virtual_mailbox_maps = texthash:${etc}/vmailbox`,
      `virtual_uid_maps = static:${nobody}`,
      `virtual_gid_maps = static:${nobody}`,
      // No name lookups: nothing leaves this machine.
      'smtpd_peername_lookup = no',
      'disable_dns_lookups = yes',
      'smtp_dns_support_level = disabled',
      'biff = no',
      `maillog_file = ${home}/maillog`,
      `maillog_file_prefixes = ${home}`,
      // No per-client rate limits: the load comes from one address.
      'smtpd_client_connection_count_limit = 0',
      'smtpd_client_connection_rate_limit = 0',
      'default_process_limit = 100',
      '',
    ].join('\n'),
  );
  const services = [
    `${HOST}:${port} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'local unix - n n - - local',
    'virtual unix - n n - - virtual',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  await writeFile(path.join(etc, 'master.cf'), services.join('\n') + '\n');
  execFileSync('postfix', ['-c', etc, 'check'], { stdio: 'ignore' }); // makes the queue's folders, with their owners
  return startServer(
    { name: 'postfix', command: '/usr/lib/postfix/sbin/master', args: ['-c', etc, '-d'], logFile: path.join(home, 'master.log') },
    [{ kind: 'tcp', port }],
  );
}
