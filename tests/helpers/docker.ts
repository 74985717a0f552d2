import { publishedPorts, PASSIVE_PORTS_VARIABLE } from '../../lab-runner/backends/docker/settings';
import { freePort, freePortRange } from './ports';

/**
 * Settings for a Docker lab in the tests: every published port moved to a free one
 * (the standard ones may be held by an embedded lab on this machine), as a person
 * would in .env. Pass them in the environment: Compose and wirelab both read it.
 */
export async function freeLabPorts(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const p of publishedPorts({})) env[p.variable] = String(await freePort(p.service === 'dns'));
  const passive = await freePortRange(10);
  env[PASSIVE_PORTS_VARIABLE] = `${passive.from}-${passive.to}`;
  return env;
}

