import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The checkout's folders, found from this file (never from the working directory or an
 * absolute path): the tests run the same in any clone, wherever it is.
 */
export const REPO_DIR = path.resolve(__dirname, '../..');
/** The lab world: zones, site, users, homes, keys. Read-only: tests never write here. */
export const LAB_DIR = path.join(REPO_DIR, 'lab');
export const SCENARIOS_DIR = path.join(REPO_DIR, 'scenarios');
export const FIXTURES_DIR = path.join(REPO_DIR, 'tests', 'fixtures');

/**
 * A file of the build, e.g. `built('lab-runner/cli.js')` for dist/lab-runner/cli.js.
 * Tests of the built CLI and of the services' main.js need it: when it is missing the
 * test fails (never skips) and says how to make it.
 */
export function built(relative: string): string {
  const file = path.join(REPO_DIR, 'dist', relative);
  if (!existsSync(file)) throw new Error(`${path.relative(REPO_DIR, file)} is missing: run \`npm run build\` first (\`npm test\` does)`);
  return file;
}
