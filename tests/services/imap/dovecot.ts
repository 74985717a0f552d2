/**
 * Dovecot (Debian's dovecot-imapd), the reference IMAP server the comparison test runs
 * next to ours: started as a daemon on 127.0.0.1 and a free port, with a minimal
 * configuration in a temp folder (no system users: one passwd-file user, its Maildir a
 * copy of the one our server reads), in the foreground so it is stopped by its PID.
 */
import { chmod, chown, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Child } from '../../helpers/process';
import { RawSocket } from '../../helpers/socket';
import { poll } from '../../helpers/wait';
import { freePort } from '../../helpers/ports'; // Dovecot cannot bind port 0 and tell which port it got

export const DOVECOT = '/usr/sbin/dovecot';

export interface RunningDovecot {
  port: number;
  dir: string;
  /** Its copy of the Maildir. */
  maildir: string;
  stop(): Promise<void>;
}

/** chown -R, for the Maildir copy of a Dovecot that runs its mail processes as another user. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, uid, gid);
    else await chown(full, uid, gid);
  }
}

/**
 * Start Dovecot for one user whose Maildir is a copy of `maildir` (timestamps kept: they
 * are INTERNALDATE). Sent, Drafts and Trash are special-use mailboxes made at login and
 * subscribed, as ours are.
 */
export async function startDovecot(maildir: string, user: string, password: string): Promise<RunningDovecot> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-dovecot-'));
  const home = path.join(dir, 'home');
  const copy = path.join(home, 'Maildir');
  await mkdir(home, { recursive: true });
  await cp(maildir, copy, { recursive: true, preserveTimestamps: true });
  // Dovecot refuses to run mail processes as root: as root, the mail user is nobody.
  const root = process.getuid?.() === 0;
  const uid = root ? 65534 : process.getuid!();
  const gid = root ? 65534 : process.getgid!();
  if (root) {
    await chownTree(home, uid, gid);
    await chmod(dir, 0o711); // mkdtemp makes it 0700: the mail user must pass through
  }
  const port = await freePort();
  await writeFile(path.join(dir, 'passwd'), `${user}:{PLAIN}${password}:${uid}:${gid}::${home}::\n`);
  const conf = path.join(dir, 'dovecot.conf');
  await writeFile(
    conf,
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
import_environment = TZ=UTC
${root ? '' : `default_login_user = ${os.userInfo().username}\ndefault_internal_user = ${os.userInfo().username}\n`}
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
namespace inbox {
  inbox = yes
  separator = .
  mailbox INBOX {
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service auth {
  user = ${root ? 'root' : os.userInfo().username}
}
`,
  );
  await mkdir(path.join(dir, 'run'));
  await mkdir(path.join(dir, 'state'));
  const child = Child.start(DOVECOT, ['-F', '-c', conf], { stdio: 'ignore' });
  try {
    await ready(port);
  } catch (e) {
    await child.stop('SIGKILL');
    throw e;
  }
  return {
    port,
    dir,
    maildir: copy,
    async stop() {
      await child.stop('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Dovecot is ready when a connection gets its real greeting: until its auth process
 * is up it greets with "Waiting for authentication process to respond". Polled, with a
 * deadline that says so.
 */
async function ready(port: number, ms = 20000): Promise<void> {
  let last = 'nothing';
  await poll(
    `Dovecot's greeting on 127.0.0.1:${port}`,
    async () => {
      last = await greeting(port).catch((e: Error) => `error: ${e.message}`);
      return /^\* OK \[CAPABILITY .*\] Dovecot/.test(last) ? true : undefined;
    },
    { ms, everyMs: 100, describe: async () => `last greeting: ${last.trim()}` },
  );
}

/** The first line a new connection gets. */
async function greeting(port: number): Promise<string> {
  const socket = await RawSocket.connect(port, { ms: 2000 });
  try {
    return await socket.readLine({ ms: 2000 });
  } finally {
    socket.destroy();
  }
}
