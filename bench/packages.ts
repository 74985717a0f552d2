import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * The programs each suite needs, and the Debian package that has each. A missing one
 * is installed with apt-get when the bench runs as root (as in CI); otherwise the
 * suite is skipped and the report names the package to install.
 */

export interface Needed {
  /** A command on PATH, or an absolute path. */
  program: string;
  /** The Debian package that provides it. */
  pkg: string;
}

export const NEEDS: Record<string, Needed[]> = {
  http: [{ program: 'wrk', pkg: 'wrk' }, { program: 'nginx', pkg: 'nginx-light' }],
  dns: [{ program: 'dnsperf', pkg: 'dnsperf' }, { program: 'dnsmasq', pkg: 'dnsmasq-base' }, { program: 'nsd', pkg: 'nsd' }],
  ftp: [{ program: 'python3', pkg: 'python3' }, { program: 'vsftpd', pkg: 'vsftpd' }],
  sftp: [{ program: 'sftp', pkg: 'openssh-client' }, { program: '/usr/sbin/sshd', pkg: 'openssh-server' }],
  smtp: [{ program: 'smtp-source', pkg: 'postfix' }, { program: '/usr/lib/postfix/sbin/master', pkg: 'postfix' }],
  pop3: [{ program: 'python3', pkg: 'python3' }, { program: 'dovecot', pkg: 'dovecot-core' }, { program: '/usr/lib/dovecot/pop3', pkg: 'dovecot-pop3d' }],
  imap: [{ program: 'python3', pkg: 'python3' }, { program: 'dovecot', pkg: 'dovecot-core' }, { program: '/usr/lib/dovecot/imap', pkg: 'dovecot-imapd' }],
  lab: [],
  docker: [],
};

export function has(program: string): boolean {
  if (program.startsWith('/')) return existsSync(program);
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The packages still missing for `suite` after trying to install them; empty when all is there. */
export function ensure(suite: string, say: (text: string) => void): string[] {
  const missing = [...new Set((NEEDS[suite] ?? []).filter((n) => !has(n.program)).map((n) => n.pkg))];
  if (!missing.length) return [];
  if (process.getuid?.() !== 0 || !has('apt-get')) return missing;
  say(`installing ${missing.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    // Postfix asks what kind of mail system to configure: none, the bench brings its own.
    if (missing.includes('postfix')) {
      execFileSync('sh', ['-c', 'echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections'], { stdio: 'ignore', env });
    }
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'ignore', env, timeout: 600_000 });
  } catch (err) {
    say(`apt-get install ${missing.join(' ')} failed: ${(err as Error).message.split('\n')[0]}`);
  }
  return [...new Set((NEEDS[suite] ?? []).filter((n) => !has(n.program)).map((n) => n.pkg))];
}
