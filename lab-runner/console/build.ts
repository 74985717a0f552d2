import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../services/common/paths';
import { LADDER_CSS, THEME_CSS } from '../report/style';

/**
 * The console's page, built by `npm run build` (after tsc): esbuild bundles client/
 * (Preact and TypeScript, with report/ladder.ts, the module the HTML report draws its
 * diagrams with) into one console.js; console.css is the report's theme and ladder
 * styles, then the console's own. Everything the page needs is in these three files:
 * no CDN, no web fonts, nothing fetched from anywhere but the console.
 */

export const PUBLIC_DIR = 'dist/lab-runner/console/public';

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wirelab console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console.css">
<script src="/console.js" defer></script>
</head>
<body>
<div id="app"><p>Loading the lab console…</p></div>
<noscript>The lab console needs JavaScript; <code>wirelab run --report html</code> writes a page that does not.</noscript>
</body>
</html>
`;

export async function buildConsole(root = packageRoot()): Promise<string[]> {
  // esbuild is a build tool (a devDependency): loaded only when building.
  const esbuild = await import('esbuild');
  const out = path.join(root, PUBLIC_DIR);
  await mkdir(out, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(root, 'lab-runner/console/client/main.tsx')],
    outfile: path.join(out, 'console.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2022',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(root, 'lab-runner/console/client/tsconfig.json'),
    legalComments: 'none',
    logLevel: 'warning',
  });
  const own = await readFile(path.join(root, 'lab-runner/console/client/console.css'), 'utf8');
  await writeFile(path.join(out, 'console.css'), THEME_CSS + LADDER_CSS + own);
  await writeFile(path.join(out, 'index.html'), INDEX_HTML);
  return ['index.html', 'console.js', 'console.css'].map((f) => path.join(out, f));
}

if (require.main === module) {
  buildConsole().catch((err: unknown) => {
    process.stderr.write(`console build failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
