import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * Mail aliases, from lab/aliases.yaml: mail for an address on the left goes into the
 * mailbox of the address on the right, a lab user of the same domain. The lab uses
 * them for postmaster: RFC 5321 4.5.1 says every mail domain MUST take mail for
 * "postmaster" (in any letter case), where people report problems with its mail.
 *
 *   aliases:
 *     postmaster@lab.test: alice@lab.test
 */

/** Alias address -> the address whose mailbox gets its mail; both lower case. */
export type Aliases = ReadonlyMap<string, string>;

const ADDRESS = /^[^@\s]+@[^@\s]+$/;

/** The aliases of a lab folder; none when it has no aliases.yaml. Every error names the file. */
export async function loadAliases(labDir: string): Promise<Aliases> {
  const file = path.join(labDir, 'aliases.yaml');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return new Map();
  const doc = parse(text) as { aliases?: unknown } | null;
  const entries = doc?.aliases;
  if (!entries || typeof entries !== 'object' || Array.isArray(entries)) throw new Error(`${file}: expected "aliases:" with lines like "postmaster@lab.test: alice@lab.test"`);
  const aliases = new Map<string, string>();
  for (const [alias, target] of Object.entries(entries)) {
    if (!ADDRESS.test(alias) || typeof target !== 'string' || !ADDRESS.test(target)) {
      throw new Error(`${file}: "${alias}: ${String(target)}" is not an address and the address whose mailbox gets its mail`);
    }
    if (domainOf(alias) !== domainOf(target)) {
      throw new Error(`${file}: ${alias} and ${target} are in different domains; an alias delivers into a mailbox of its own domain`);
    }
    aliases.set(alias.toLowerCase(), target.toLowerCase());
  }
  return aliases;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
