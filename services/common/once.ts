import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Make the folder `target` exactly once, even when several processes try at the same
 * moment (in Docker every container mounts the same volume and starts together).
 * `build` fills a temporary folder beside the target, which is then renamed into place:
 * rename is atomic, so a reader sees the whole folder or none of it. The loser of the
 * race finds the winner's folder there and drops its own copy.
 * Resolves true when this call made the folder, false when it was already there.
 */
export async function buildFolderOnce(target: string, build: (folder: string) => Promise<void>): Promise<boolean> {
  if (existsSync(target)) return false;
  await mkdir(path.dirname(target), { recursive: true });
  const building = `${target}.building-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(building);
    await build(building);
    await rename(building, target);
    return true;
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    if (['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '') && existsSync(target)) return false; // another process made it first
    throw err;
  }
}
