import { readFile } from 'node:fs/promises';
import { timingSafeEqual, createHash } from 'node:crypto';
import path from 'node:path';
import { parse } from 'yaml';

/** A lab user from lab/users.yaml. */
export interface LabUser {
  name: string;
  password: string;
  domain: string;
  fullName?: string;
}

export async function loadUsers(labDir: string): Promise<LabUser[]> {
  const file = path.join(labDir, 'users.yaml');
  const doc = parse(await readFile(file, 'utf8')) as { users?: LabUser[] } | null;
  if (!doc || !Array.isArray(doc.users)) throw new Error(`${file}: expected a list under "users:"`);
  return doc.users.map((u, i) => {
    if (typeof u?.name !== 'string' || typeof u.password !== 'string' || typeof u.domain !== 'string') {
      throw new Error(`${file}: user #${i + 1} needs name, password and domain`);
    }
    return { ...u, name: u.name, password: String(u.password), domain: u.domain };
  });
}

/**
 * Check a user name and password. Compares hashes in constant time, so how long a
 * wrong password takes does not tell how much of it was right.
 */
export function checkPassword(users: readonly LabUser[], name: string, password: string): LabUser | undefined {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  const user = users.find((u) => u.name === name);
  const ok = timingSafeEqual(digest(user?.password ?? '\0no user\0'), digest(password));
  return user && ok ? user : undefined;
}

/**
 * A mail login (POP3, IMAP): the name is `alice` or `alice@lab.test`, since many mail
 * clients send the whole address. Only users of `domain` log in; the password is checked
 * even for a foreign domain, so the answer takes as long either way.
 */
export function checkMailLogin(users: readonly LabUser[], domain: string, name: string, password: string): LabUser | undefined {
  const at = name.lastIndexOf('@');
  const local = at === -1 ? name : name.slice(0, at);
  const ours = at === -1 || name.slice(at + 1).toLowerCase() === domain.toLowerCase();
  const user = checkPassword(users, local, password);
  return ours ? user : undefined;
}
