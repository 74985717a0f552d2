import { Maildir, maildirPath } from '../common/maildir';
import type { LabUser } from '../common/users';
import type { Aliases } from './aliases';
import { isBarePostmaster } from './envelope';

/**
 * Final delivery (RFC 5321 2.3.5): the domains a server is the destination for, its
 * users there, and their mailboxes. A message for a local user is written into that
 * user's Maildir; POP3 reads the same folders.
 */

/** `carol@example.test` -> `{ local: 'carol', domain: 'example.test' }`; the last @ splits (RFC 5321 4.1.2). */
export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return at < 0 ? { local: address, domain: '' } : { local: address.slice(0, at), domain: address.slice(at + 1) };
}

export class LocalMailboxes {
  /** The users with a mailbox here: those of lab/users.yaml whose domain is ours. */
  readonly users: readonly LabUser[];

  /** Alias local part -> the local user whose mailbox gets its mail (postmaster -> alice). */
  readonly aliases: ReadonlyMap<string, LabUser>;

  constructor(
    private readonly dataDir: string,
    readonly domain: string,
    users: readonly LabUser[],
    aliases: Aliases = new Map(),
  ) {
    this.users = users.filter((u) => u.domain.toLowerCase() === domain.toLowerCase());
    const local = new Map<string, LabUser>();
    for (const [alias, target] of aliases) {
      const { local: name, domain: aliasDomain } = splitAddress(alias);
      if (!this.isLocalDomain(aliasDomain)) continue; // another server's alias
      const user = this.userOf(target);
      if (!user) throw new Error(`the alias ${alias} leads to ${target}, which is no user of ${domain}`);
      local.set(name.toLowerCase(), user);
    }
    this.aliases = local;
  }

  isLocalDomain(domain: string): boolean {
    return domain.toLowerCase() === this.domain.toLowerCase();
  }

  /**
   * The local user whose mailbox gets an address's mail, if there is one: a user by name,
   * or through an alias (postmaster; also the bare `Postmaster` of RFC 5321 4.1.1.3).
   * The lab compares local parts without case: RFC 5321 2.4 lets a server decide, and
   * most do the same.
   */
  userOf(address: string): LabUser | undefined {
    const { local, domain } = isBarePostmaster(address) ? { local: address, domain: this.domain } : splitAddress(address);
    if (!this.isLocalDomain(domain)) return undefined;
    const name = local.toLowerCase();
    return this.users.find((u) => u.name.toLowerCase() === name) ?? this.aliases?.get(name);
  }

  /** The user's own address: `alice@lab.test`. */
  addressOf(user: LabUser): string {
    return `${user.name}@${this.domain}`;
  }

  /**
   * Write the message into each user's Maildir (tmp/, fsync, rename into new/). Resolves
   * once every copy is on disk: only then may the server answer 250.
   */
  async deliver(users: readonly LabUser[], message: Buffer): Promise<void> {
    const names = [...new Set(users.map((u) => u.name))];
    for (const name of names) await new Maildir(maildirPath(this.dataDir, this.domain, name)).deliver(message);
  }
}
