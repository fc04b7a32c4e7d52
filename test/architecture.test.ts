/**
 * The parts of src/ and the one direction their imports go: errors and config at the bottom, the
 * libraries (contract, observe, auth, limits) above them, the gateway adapting them, the admin
 * server and the process wiring it all, the CLI on top. A part imports only parts below it, so no
 * import loop can form between parts, and none may form between files, types included.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'src');

/** Bottom first. `(root)` is src/cli.ts and src/runtime-flags.ts. */
const LAYERS = [
  'errors',
  'config',
  'sqlite',
  'redis',
  'tls',
  'contract',
  'observe',
  'auth',
  'limits',
  'gateway',
  'admin',
  'process',
  'cli',
  'bank',
  'demo',
  '(root)',
] as const;

interface Import {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    const isSource =
      entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && entry.name !== 'testing.ts';
    return isSource ? [full] : [];
  });
}

/**
 * Every relative import and re-export of every source file, with whether it brings types only,
 * and every relative dynamic `import('./…')`, which loads the file as surely, only later.
 */
function importsOf(files: readonly string[]): Import[] {
  const statement = /^(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'(\.{1,2}\/[^']+)'/gm;
  const dynamic = /\bimport\(\s*'(\.{1,2}\/[^']+)'\s*[,)]/g;
  const resolve = (file: string, to: string): string =>
    path.resolve(path.dirname(file), to).replace(/\.js$/, '.ts');
  return files.flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    const loaded = [...text.matchAll(dynamic)].map((match) => ({
      from: file,
      to: resolve(file, match[1]!),
      typeOnly: false,
    }));
    return [...staticImports(file, text), ...loaded];
  });

  function staticImports(file: string, text: string): Import[] {
    return [...text.matchAll(statement)].map((match) => {
      const names = match[2]!.trim();
      const allTypes =
        names.startsWith('{') &&
        names
          .slice(1, -1)
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '')
          .every((name) => name.startsWith('type '));
      return { from: file, to: resolve(file, match[3]!), typeOnly: match[1] !== undefined || allTypes };
    });
  }
}

const partOf = (file: string): string => {
  const relative = path.relative(src, file).split(path.sep);
  return relative.length === 1 ? '(root)' : relative[0]!;
};

/** The files in loops of the graph (Tarjan's strongly connected components of two or more). */
function loops(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.map((file) => path.relative(src, file)).sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Every identifier a file declares or uses (comments and strings left out). */
function namesIn(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const names: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) names.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

const files = sourceFiles(src);
const imports = importsOf(files).filter((edge) => files.includes(edge.to));

describe('the parts of src/', () => {
  it('are all placed in a layer', () => {
    expect(imports.length).toBeGreaterThan(300);
    const parts = new Set(files.map(partOf));
    expect([...parts].filter((part) => !(LAYERS as readonly string[]).includes(part))).toEqual([]);
  });

  it('count a dynamic import as an import', () => {
    const loads = (from: string, to: string) =>
      imports.some((edge) => edge.from === path.join(src, from) && edge.to === path.join(src, to));
    // Loaded by the command that needs it, and by nothing else.
    expect(loads('cli.ts', path.join('process', 'start.ts'))).toBe(true);
    expect(loads(path.join('process', 'start.ts'), path.join('process', 'workers.ts'))).toBe(true);
  });

  it('import only the parts below them', () => {
    const up = new Set<string>();
    for (const edge of imports) {
      const [from, to] = [partOf(edge.from), partOf(edge.to)];
      if (from === to) continue;
      const rank = (part: string) => (LAYERS as readonly string[]).indexOf(part);
      if (rank(to) < rank(from)) continue;
      up.add(
        `${path.relative(src, edge.from)} -> ${path.relative(src, edge.to)}${edge.typeOnly ? ' (type)' : ''}`,
      );
    }
    expect([...up].sort()).toEqual([]);
  });

  it('form no import loop between files, counting the imports of types only', () => {
    const edges = new Map<string, string[]>(files.map((file) => [file, []]));
    for (const edge of imports) edges.get(edge.from)!.push(edge.to);
    expect(imports.some((edge) => edge.typeOnly)).toBe(true);
    expect(loops(edges)).toEqual([]);
  });

  it('reach the HTTP parser binding only through gateway/http1/, front door and upstream client alike', () => {
    const binding = /_http_common|http_parser|HTTPParser\b/;
    const touching = files
      .filter((file) => binding.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(src, file));
    const http1 = touching.filter((file) => file.startsWith(path.join('gateway', 'http1') + path.sep));
    expect(http1).toContain(path.join('gateway', 'http1', 'parser.ts'));
    const users = touching.filter((file) => !http1.includes(file)).sort();
    expect(users).toEqual([
      path.join('gateway', 'front', 'connection.ts'),
      path.join('gateway', 'upstream-client', 'connection.ts'),
    ]);
    for (const user of users)
      expect(readFileSync(path.join(src, user), 'utf8')).toMatch(/from '\.\.\/http1\/parser\.js'/);
    expect(readFileSync(path.join(src, 'gateway', 'http1', 'parser.ts'), 'utf8')).toMatch(/_http_common/);
  });

  it('call a response a response: no name says "answer" but the workers\' question and answer messages', () => {
    const answering = files
      .filter((file) => !file.startsWith(path.join(src, 'process') + path.sep))
      .flatMap((file) =>
        namesIn(file)
          .filter((name) => /answer/i.test(name))
          .map((name) => `${path.relative(src, file)}: ${name}`),
      );
    expect(answering).toEqual([]);
    expect(namesIn(path.join(src, 'process', 'worker.ts'))).toContain('MetricsAnswer');
  });

  it('finds a loop when there is one (the check itself)', () => {
    const edges = new Map([
      ['/a', ['/b']],
      ['/b', ['/c']],
      ['/c', ['/a']],
      ['/d', ['/a']],
    ]);
    expect(loops(edges)).toHaveLength(1);
  });
});
