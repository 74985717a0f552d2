import { cp, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildFolderOnce } from './once';
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
    const seed = path.join(labDir, 'homes', user.name);
    await buildFolderOnce(homeDir(dataDir, user.name), async (home) => {
      if (existsSync(seed)) await cp(seed, home, { recursive: true });
    });
  }
}

/** lab/keys/<user>.pub: the user's lab-only public key, for SFTP public-key login. */
export function publicKeyFile(labDir: string, user: string): string {
  return path.join(labDir, 'keys', `${user}.pub`);
}
