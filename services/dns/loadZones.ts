import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ZoneFileError, parseZoneFile, type Zone } from './zonefile';

/**
 * Read zone files from disk and parse them. The origin of each file defaults to its
 * name minus `.zone` (lab.test.zone serves lab.test), and a $ORIGIN line in the file
 * can say otherwise.
 */

export interface ZoneSource {
  /** Zone files to load, in this order. */
  zoneFiles?: readonly string[];
  /** A folder whose every `*.zone` file is loaded, in name order. */
  zoneDir?: string;
  /** The TTL of records that give none, in files without $TTL. */
  defaultTtl?: number;
}

export async function loadZones(source: ZoneSource): Promise<Zone[]> {
  const files = [...(source.zoneFiles ?? [])];
  if (source.zoneDir !== undefined) {
    const names = (await readdir(source.zoneDir)).filter((n) => n.endsWith('.zone')).sort();
    if (names.length === 0) throw new Error(`dns: no *.zone files in ${source.zoneDir}`);
    files.push(...names.map((n) => path.join(source.zoneDir!, n)));
  }
  if (files.length === 0) throw new Error('dns: no zones to serve: give zoneFiles or zoneDir');

  const zones: Zone[] = [];
  for (const file of files) {
    const shown = displayPath(file);
    const text = await readFile(file, 'utf8');
    const zone = parseZoneFile(text, { file: shown, origin: path.basename(file).replace(/\.zone$/, ''), defaultTtl: source.defaultTtl });
    const twin = zones.find((z) => z.origin === zone.origin);
    if (twin) throw new ZoneFileError(shown, zone.soa.line, `the zone ${zone.origin} is already loaded from ${twin.file}`);
    zones.push(zone);
  }
  return zones;
}

/** A path as a person would type it: relative to the working directory when inside it. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}
