import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_DIR } from '../../helpers/paths';
import { PUBLIC_DIR } from '../../../lab-runner/console/build';
import { LADDER_CSS } from '../../../lab-runner/report/style';

/**
 * The console's page as `npm run build` leaves it (npm test builds first): three files,
 * and nothing in them that would fetch from anywhere but the console itself.
 */

const read = (name: string): string => readFileSync(path.join(REPO_DIR, PUBLIC_DIR, name), 'utf8');

/** Namespace names are identifiers in the DOM API, never fetched. */
const NAMESPACES = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace']);

test.each(['index.html', 'console.js', 'console.css'])('%s is built and names no address outside the console', (name) => {
  const text = read(name);
  expect(text.length).toBeGreaterThan(400);
  // The lab's own names (http://www.lab.test/ in an example) end in .test: never outside the lab.
  const urls = (text.match(/https?:\/\/[^\s"'`)<>\\]+/gi) ?? []).filter((u) => !NAMESPACES.has(u) && !/^http:\/\/[a-z0-9.-]+\.test(:\d+)?(\/|$)/.test(u));
  expect(urls).toEqual([]);
  expect(text).not.toMatch(/@import|url\(\s*['"]?(https?:)?\/\//i);
});

test('the page loads its own two files and nothing else', () => {
  const html = read('index.html');
  expect(html.match(/(?:src|href)="[^"]*"/g)).toEqual(['href="data:,"', 'href="/console.css"', 'src="/console.js"']);
});

test("the ladder looks as in the HTML report: the report's own styles are in console.css", () => {
  expect(read('console.css')).toContain(LADDER_CSS);
});
