import { readFileSync } from 'node:fs';
import path from 'node:path';
import { scenarioJsonSchema } from '../../lab-runner/scenario/schema';
import { STACK } from '../../lab-runner/backends/stack';
import { parseZoneFile } from '../../services/dns/zonefile';

test('scenario.schema.json is the schema the loader uses (regenerate with `npm run schema`)', () => {
  const committed = JSON.parse(readFileSync(path.resolve(__dirname, '../../scenario.schema.json'), 'utf8'));
  expect(committed).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
});

test('every service host in the lab plan resolves, in the zone files, to its address in the plan', () => {
  const file = path.resolve(__dirname, '../../lab/zones/lab.test.zone');
  const zone = parseZoneFile(readFileSync(file, 'utf8'), { file });
  for (const service of STACK) {
    const a = zone.records.filter((r) => r.name === service.host && r.type === 'A').map((r) => r.data);
    expect([service.host, a]).toEqual([service.host, [service.address]]);
  }
});
