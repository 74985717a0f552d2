import { randomInt } from 'node:crypto';
import { publishedPorts, PASSIVE_PORTS_VARIABLE } from '../../lab-runner/backends/docker/settings';
import { canBind, freePort } from '../../lab-runner/grade/target';

/**
 * Settings for a Docker lab in the tests: every published port moved to a free one
 * (the standard ones may be held by an embedded lab on this machine), as a person
 * would in .env. Pass them in the environment: Compose and wirelab both read it.
 */
export async function freeLabPorts(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const p of publishedPorts({})) env[p.variable] = String(await freePort(p.service === 'dns'));
  env[PASSIVE_PORTS_VARIABLE] = await freeRange(10);
  return env;
}

/**
 * `from-to`: `count` free TCP ports in a row, for FTP's passive range: below Linux's
 * ephemeral ports (32768 and up), which outgoing connections take at any moment, and
 * above the lab's own 30000-30009.
 */
async function freeRange(count: number): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const from = randomInt(30100, 32700);
    let free = true;
    for (let port = from; port < from + count && free; port++) free = await canBind(port, 'tcp');
    if (free) return `${from}-${from + count - 1}`;
  }
  throw new Error(`found no ${count} free ports in a row between 30100 and 32710 on 127.0.0.1`);
}
