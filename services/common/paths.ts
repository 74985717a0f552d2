import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the lab world (lab/, read-only configuration) and the lab's state (the data
 * directory) live. Services are handed both; only the data directory is ever written.
 */

/** The package root: the nearest folder above this file that holds package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find wirelab's package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** lab/ in the package, or $WIRELAB_LAB. */
export function defaultLabDir(): string {
  return process.env.WIRELAB_LAB ?? path.join(packageRoot(), 'lab');
}

/** data/ in the package, or $WIRELAB_DATA. Deleting it resets the lab. */
export function defaultDataDir(): string {
  return process.env.WIRELAB_DATA ?? path.join(packageRoot(), 'data');
}

/**
 * Copy a seed file from lab/ into the data directory unless a copy is already there:
 * the lab's first state is lab/, what the class did to it since is the data directory.
 */
export async function seedFile(seed: string, target: string): Promise<void> {
  if (existsSync(target)) return;
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(seed, target);
}

/**
 * Refuse a data directory inside the lab directory: lab/ is configuration and stays
 * read-only, and a service that wrote its state there would change the lab for everyone.
 */
export function checkDataDir(labDir: string, dataDir: string): void {
  const rel = path.relative(path.resolve(labDir), path.resolve(dataDir));
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
    throw new Error(`the data directory ${dataDir} is inside the lab directory ${labDir}; lab/ stays read-only`);
  }
}
