import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { maildirPath } from '../../services/common/maildir';
import { packageRoot } from '../../services/common/paths';
import { compare, type Recorder, type Side } from '../figures';
import type { Daemon } from '../process';
import { folder, HOST, oursData, ports, startOurs, startServer } from '../servers';
import { python } from '../tools';

/**
 * Reading mail: mail.lab.test's POP3 (and IMAP, once the lab has it) against Dovecot,
 * both on a Maildir holding the same 100 messages of about 2 KB for bob. One logged-in
 * session downloads 1,000 messages (RETR n / FETCH n BODY.PEEK[], n = 1 ... 100 and
 * round again): Python's poplib and imaplib. Dovecot keeps its indexes in the Maildir,
 * built in the warm-up run.
 */

const MESSAGES = 100;

export function mailboxSuite(proto: 'pop3' | 'imap') {
  return async (rec: Recorder, lab: string): Promise<void | string> => {
    if (!existsSync(path.join(packageRoot(), 'dist', 'services', proto, 'main.js'))) return `the lab has no ${proto} service yet`;
    const { dir, settings } = rec;
    const p = await ports(['ours', 'oursTls', 'dovecot']);
    const mails = messages();
    // Ours: bob's Maildir in its data folder. Dovecot: one of its own, owned by the mail user.
    const ourBox = maildirPath(oursData(dir, proto), 'lab.test', 'bob');
    const dv = await folder(dir, 'dovecot');
    const dvBox = path.join(dv, 'mail', 'bob', 'Maildir');
    for (const box of [ourBox, dvBox]) {
      for (const sub of ['new', 'tmp']) await folder(box, sub);
      const cur = await folder(box, 'cur');
      for (const [i, text] of mails.entries()) await writeFile(path.join(cur, `${1_700_000_000 + i}.M${i}P1.bench:2,`), text);
    }
    execFileSync('chown', ['-R', '65534:65534', path.join(dv, 'mail')]);

    const started: Daemon[] = [];
    try {
      const dovecot = await startDovecot(dv, proto, p.dovecot);
      started.push(dovecot);
      const env: Record<string, string> =
        proto === 'pop3'
          ? { POP3_PORT: String(p.ours), POP3S_PORT: '', POP3_HOST: HOST, MAIL_DOMAIN: 'lab.test' }
          : { IMAP_PORT: String(p.ours), IMAPS_PORT: String(p.oursTls), IMAP_HOST: HOST, MAIL_DOMAIN: 'lab.test', IMAP_PLAINTEXT_LOGIN: 'yes' };
      const ours = await startOurs(proto, { dir, lab, env, ready: [{ kind: 'tcp', port: p.ours }] });
      started.push(ours);
      const count = settings.quick ? 200 : 1000;
      const side = (label: string, daemon: Daemon, port: number): Side => ({
        label,
        servers: [daemon],
        run: () => python('mail_load.py', [proto, HOST, port, 'bob', 'bob', count, settings.seconds * 6], (settings.seconds * 6 + 60) * 1000),
      });
      const verb = proto === 'pop3' ? 'RETR' : 'FETCH';
      await compare(rec, {
        id: `${proto}-download`,
        group: proto,
        metrics: [{ key: 'rate', title: `${proto.toUpperCase()}, ${count.toLocaleString('en-US')} ${verb} in one session`, unit: `${verb}/s`, better: 'higher', target: { of: 'ratio', atLeast: 0.8 } }],
        reference: side('Dovecot 2.3', dovecot, p.dovecot),
        ours: side(`wirelab ${proto}`, ours, p.ours),
      });
    } finally {
      for (const d of started.reverse()) await d.stop();
    }
  };
}

/** 100 messages of about 2 KB each, lines of 76 characters: the same bytes for both servers. */
function messages(): string[] {
  return Array.from({ length: MESSAGES }, (_, i) => {
    const body = Array.from({ length: 26 }, (_, l) => `${String(i).padStart(3, '0')}-${String(l).padStart(2, '0')} ${'abcdefghij'.repeat(7)}`).join('\r\n');
    return `From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: bench message ${i + 1}\r\nMessage-ID: <bench-${i + 1}@lab.test>\r\n\r\n${body}\r\n`;
  });
}

/** Dovecot in the foreground (-F) from its own folder: a passwd-file with bob (password bob), plain text logins allowed. */
async function startDovecot(home: string, proto: 'pop3' | 'imap', port: number): Promise<Daemon> {
  await folder(home, 'run');
  await folder(home, 'state');
  await writeFile(path.join(home, 'passwd'), `bob:{PLAIN}bob:65534:65534::${home}/mail/bob\n`);
  const conf = path.join(home, 'dovecot.conf');
  await writeFile(
    conf,
    [
      `base_dir = ${home}/run`,
      `state_dir = ${home}/state`,
      'instance_name = wirelab-bench',
      `listen = ${HOST}`,
      `protocols = ${proto}`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain',
      `log_path = ${home}/dovecot.log`,
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%n ${home}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = username_format=%n ${home}/passwd\n}`,
      `mail_location = maildir:${home}/mail/%n/Maildir`,
      'first_valid_uid = 1',
      `service ${proto}-login {\n  inet_listener ${proto} {\n    address = ${HOST}\n    port = ${port}\n  }\n${proto === 'imap' ? '  inet_listener imaps {\n    port = 0\n  }\n' : '  inet_listener pop3s {\n    port = 0\n  }\n'}}`,
      '',
    ].join('\n'),
  );
  return startServer({ name: 'dovecot', command: 'dovecot', args: ['-F', '-c', conf], logFile: path.join(home, 'stderr.log') }, [{ kind: 'tcp', port }]);
}
