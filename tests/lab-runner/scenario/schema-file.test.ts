import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { scenarioJsonSchema } from '../../../lab-runner/scenario/schema';
import { STACK } from '../../../lab-runner/backends/stack';
import { parseZoneFile } from '../../../services/dns/zonefile';
import { LAB_DIR, REPO_DIR } from '../../helpers/paths';

test('scenario.schema.json is the schema the loader uses (regenerate with `npm run schema`)', () => {
  const committed = JSON.parse(readFileSync(path.join(REPO_DIR, 'scenario.schema.json'), 'utf8'));
  expect(committed).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
});

test('every service host in the lab plan resolves, in the zone files, to its address in the plan', () => {
  const dir = path.join(LAB_DIR, 'zones');
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.zone'))
    .flatMap((f) => parseZoneFile(readFileSync(path.join(dir, f), 'utf8'), { file: f }).records);
  for (const service of STACK) {
    const a = records.filter((r) => r.name === service.host && r.type === 'A').map((r) => r.data);
    expect([service.host, a]).toEqual([service.host, [service.address]]);
  }
});
