/**
 * SECURITY.md lists every limit of every service and of the console with its default, in
 * one table per defaults object (`*_DEFAULTS`, TLS_LIMITS, CONSOLE_LIMITS). This test reads the objects the servers use
 * and the tables, so the two cannot drift: a new limit, a changed default or a row for
 * a limit that is gone fails here, and the failure prints the table as it should be.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { APP_SERVER_DEFAULTS } from '../../services/app/server';
import { AUTH_THROTTLE_DEFAULTS } from '../../services/common/authThrottle';
import { HTTP_SERVICE_DEFAULTS } from '../../services/common/httpService';
import { SESSION_DEFAULTS } from '../../services/common/lineSession';
import { duration } from '../../services/common/options';
import { TLS_LIMITS } from '../../services/common/tls';
import { DNS_SERVER_DEFAULTS } from '../../services/dns/server';
import { FTP_SERVER_DEFAULTS } from '../../services/ftp/server';
import { HTTP_SERVER_DEFAULTS } from '../../services/http/server';
import { IMAP_SERVER_DEFAULTS } from '../../services/imap/server';
import { POP3_SERVER_DEFAULTS } from '../../services/pop3/server';
import { PROXY_SERVER_DEFAULTS } from '../../services/proxy/server';
import { SFTP_SERVER_DEFAULTS } from '../../services/sftp/server';
import { CONSOLE_LIMITS } from '../../lab-runner/console/server';
import { SMTP_SERVER_DEFAULTS } from '../../services/smtp/server';

const ROOT = path.resolve(__dirname, '../..');
const SECURITY = readFileSync(path.join(ROOT, 'SECURITY.md'), 'utf8');

type Defaults = Readonly<Record<string, unknown>>;

/**
 * Objects whose keys other objects take in whole (`...SESSION_DEFAULTS`): documented once,
 * in their own table. In order: one takes keys of those before it (SESSION_DEFAULTS takes
 * AUTH_THROTTLE_DEFAULTS'), and documents only its own.
 */
const SHARED: Record<string, Defaults> = { AUTH_THROTTLE_DEFAULTS, SESSION_DEFAULTS, HTTP_SERVICE_DEFAULTS };

const OBJECTS: Record<string, Defaults> = {
  ...SHARED,
  TLS_LIMITS,
  DNS_SERVER_DEFAULTS,
  HTTP_SERVER_DEFAULTS,
  PROXY_SERVER_DEFAULTS,
  APP_SERVER_DEFAULTS,
  SMTP_SERVER_DEFAULTS,
  POP3_SERVER_DEFAULTS,
  IMAP_SERVER_DEFAULTS,
  FTP_SERVER_DEFAULTS,
  SFTP_SERVER_DEFAULTS,
  CONSOLE_LIMITS,
};

/** A default as the table shows it: `60000 (1 min)`, `16384 (16 KiB)`, `` `lab.test` ``. */
function shown(key: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => shown(key, v)).join(', ');
  if (typeof value === 'string') return `\`${value}\``;
  if (typeof value !== 'number') return String(value);
  if (/Ms$/.test(key) && value >= 1000) return `${value} (${duration(value)})`;
  if (/Bytes$|Size$|Message$|Payload$/.test(key) && value >= 1024 && value % 1024 === 0) {
    return value % (1024 * 1024) === 0 ? `${value} (${value / 1024 / 1024} MiB)` : `${value} (${value / 1024} KiB)`;
  }
  return String(value);
}

/** The keys an object's own table lists: all but those it takes unchanged from a shared object (one listed before it, for a shared one). */
function ownKeys(name: string, defaults: Defaults): string[] {
  const names = Object.keys(SHARED);
  const from = name in SHARED ? names.slice(0, names.indexOf(name)) : names;
  return Object.keys(defaults).filter((key) => !from.some((other) => key in SHARED[other]! && SHARED[other]![key] === defaults[key]));
}

/** The rows of the table under the heading that names `name`, up to the next heading: key -> default cell. */
function table(name: string): Map<string, string> | undefined {
  const lines = SECURITY.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.includes(`\`${name}\``));
  if (start === -1) return undefined;
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,4} /.test(line)) break;
    const cells = /^\| `(\w+)` \| ([^|]+) \|/.exec(line);
    if (cells) rows.set(cells[1]!, cells[2]!.trim());
  }
  return rows;
}

describe.each(Object.entries(OBJECTS))('SECURITY.md documents %s', (name, defaults) => {
  test('a table under a heading that names it, one row per limit with its default, and no other rows', () => {
    const want = ownKeys(name, defaults).map((key) => `| \`${key}\` | ${shown(key, defaults[key])} |`);
    const rows = table(name);
    const have = rows === undefined ? [] : [...rows].map(([key, value]) => `| \`${key}\` | ${value} |`);
    // On failure: the rows as they should be (the third column, what the limit does, is written by hand).
    expect(have.sort()).toEqual(want.sort());
  });
});

test('every defaults object a service or the console exports is in the list above', () => {
  const exported: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (file.endsWith('.ts')) exported.push(...[...readFileSync(file, 'utf8').matchAll(/^export const (\w+_DEFAULTS|\w+_LIMITS) = /gm)].map((m) => m[1]!));
    }
  };
  walk(path.join(ROOT, 'services'));
  walk(path.join(ROOT, 'lab-runner', 'console'));
  expect(exported.sort()).toEqual(Object.keys(OBJECTS).sort());
});
