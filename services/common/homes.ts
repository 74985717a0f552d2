import { randomBytes } from 'node:crypto';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LabUser } from './users';

/**
 * The lab users' home folders, shared by FTP and SFTP (and by HTTP, which serves
 * user web's public_html as http://www.lab.test/~web/). A home is state, so it lives in
 * the data directory, seeded from lab/homes/<user> the first time.
 */

export function homeDir(dataDir: string, user: string): string {
  return path.join(dataDir, 'homes', user);
}

/** lab/ftp: anonymous FTP's read-only root (it holds pub/). Read straight from lab/, never written. */
export function anonymousRoot(labDir: string): string {
  return path.join(labDir, 'ftp');
}

/**
 * Create each user's home from lab/homes/<user> (or empty) unless it is already there.
 * FTP and SFTP both do this when they start, possibly at the same moment on one
 * volume: each home is built under a temporary name and renamed into place, so the
 * loser of the race finds the home there and drops its copy.
 */
export async function seedHomes(labDir: string, dataDir: string, users: readonly LabUser[]): Promise<void> {
  await mkdir(path.join(dataDir, 'homes'), { recursive: true });
  for (const user of users) {
    const home = homeDir(dataDir, user.name);
    if (existsSync(home)) continue;
    const building = `${home}.seeding-${process.pid}-${randomBytes(4).toString('hex')}`;
    const seed = path.join(labDir, 'homes', user.name);
    if (existsSync(seed)) await cp(seed, building, { recursive: true });
    else await mkdir(building);
    try {
      await rename(building, home);
    } catch (err) {
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await rm(building, { recursive: true, force: true }); // another server seeded it first
    }
  }
}

/** lab/keys/<user>.pub: the user's lab-only public key, for SFTP public-key login. */
export function publicKeyFile(labDir: string, user: string): string {
  return path.join(labDir, 'keys', `${user}.pub`);
}
