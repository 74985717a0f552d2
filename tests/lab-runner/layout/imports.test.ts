import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_DIR } from '../../helpers/paths';

/**
 * The shape of the code, read from TypeScript's own view of it: the project's
 * tsconfig, each file parsed, each import resolved as the compiler resolves it (type
 * imports included: a circle of types is still a circle a reader has to untangle).
 *
 * - no import circle anywhere in lab-runner/ or services/;
 * - the wire layer (lab-runner/wire/) is what executors and backends share: it imports
 *   neither, executors do not import backends (but their interface, backends/types.ts),
 *   and backends do not import executors;
 * - the ladder diagram (report/ladder.ts) runs in a browser too: nothing it loads at
 *   run time touches Node.
 */

const rel = (file: string): string => path.relative(REPO_DIR, file).split(path.sep).join('/');

interface Edge {
  to: string;
  /** `import type`, or every name imported is a type: gone at run time. */
  typeOnly: boolean;
  specifier: string;
}

function importGraph(): Map<string, Edge[]> {
  const config = ts.readConfigFile(path.join(REPO_DIR, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_DIR);
  const files = parsed.fileNames.filter((f) => /^(lab-runner|services)\//.test(rel(f)) && !f.endsWith('.d.ts'));
  const graph = new Map<string, Edge[]>();
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const edges: Edge[] = [];
    const add = (specifier: string, typeOnly: boolean): void => {
      const resolved = ts.resolveModuleName(specifier, file, parsed.options, ts.sys).resolvedModule;
      const to = resolved && !resolved.isExternalLibraryImport ? rel(resolved.resolvedFileName) : specifier;
      edges.push({ to, typeOnly, specifier });
    };
    const visit = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, isTypeOnly(node));
      } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]!)) {
        const callee = node.expression;
        if ((ts.isIdentifier(callee) && callee.text === 'require') || callee.kind === ts.SyntaxKind.ImportKeyword) add((node.arguments[0] as ts.StringLiteral).text, false);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    graph.set(rel(file), edges);
  }
  return graph;
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return node.isTypeOnly || (!!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly));
  const clause = node.importClause;
  if (!clause) return false; // import './x': run for its effects
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
}

/** Every import circle: the strongly connected components of more than one file (Tarjan), or a file importing itself. */
export function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}

const graph = importGraph();
const targets = (file: string): string[] => (graph.get(file) ?? []).map((e) => e.to);

test('the graph is read: the runner and the services are in it, with their imports resolved', () => {
  expect(graph.size).toBeGreaterThan(100);
  expect(targets('lab-runner/run.ts')).toContain('lab-runner/wire/index.ts');
  expect(targets('lab-runner/executors/types.ts')).toContain('lab-runner/backends/types.ts');
});

test('the circle finder finds a circle, and only a circle', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
    ['e', ['e']],
  ]);
  expect(circles(g)).toEqual([['a', 'b', 'c'], ['e']]);
  expect(circles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
});

test('no import circle in lab-runner/ or services/ (type imports included)', () => {
  expect(circles(new Map([...graph].map(([file, edges]) => [file, edges.map((e) => e.to)])))).toEqual([]);
});

test('executors and backends meet in the wire layer, never in each other', () => {
  const crossing = [...graph].flatMap(([file, edges]) =>
    edges
      .filter(
        (e) =>
          (file.startsWith('lab-runner/executors/') && e.to.startsWith('lab-runner/backends/') && e.to !== 'lab-runner/backends/types.ts') ||
          (file.startsWith('lab-runner/backends/') && e.to.startsWith('lab-runner/executors/')) ||
          (file.startsWith('lab-runner/wire/') && /^lab-runner\/(?!wire\/)/.test(e.to)),
      )
      .map((e) => `${file} -> ${e.to}`),
  );
  expect(crossing).toEqual([]);
});

test('the ladder diagram loads nothing that needs Node: the console can bundle it for a browser', () => {
  const seen = new Set<string>();
  const problems: string[] = [];
  const load = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(path.join(REPO_DIR, file), 'utf8');
    if (/\b(Buffer|process|require|__dirname)\b/.test(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*/g, ''))) problems.push(`${file} uses a Node global`);
    for (const e of graph.get(file) ?? []) {
      if (e.typeOnly) continue;
      if (!e.to.startsWith('lab-runner/')) problems.push(`${file} imports ${e.specifier}`);
      else load(e.to);
    }
  };
  load('lab-runner/report/ladder.ts');
  expect(seen).toContain('lab-runner/report/markup.ts');
  expect(problems).toEqual([]);
});
