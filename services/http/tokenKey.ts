import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The secret that signs login tokens: 32 random bytes, created on first start and
 * kept in the data directory (base64url text), so tokens survive a restart.
 * Delete the file and restart: every token issued so far stops working.
 */
export async function loadOrCreateKey(file: string): Promise<Buffer> {
  try {
    return parseKey(file, await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  try {
    // 'wx': fail if another process created it meanwhile; then use that one.
    await writeFile(file, key.toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return parseKey(file, await readFile(file, 'utf8'));
  }
}

function parseKey(file: string, text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64url');
  if (key.length < 32) throw new Error(`${file}: the token key must be at least 32 bytes (base64url); delete it to make a new one`);
  return key;
}
