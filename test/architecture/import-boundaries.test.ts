// docs/architecture.md's rules, enforced: a folder of src/ is reached only through its index.ts, imports
// run down the layers (never up), and no file imports itself round a circle. Reads src/ as text.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import t from 'tap';

/** Low to high. A folder may import its own files and the index of any folder listed before it. */
export const LAYERS = ['util', 'config', 'tls', 'log', 'metrics', 'authz', 'ca', 'sshca', 'hosts', 'proxy', 'dev', 'daemon', 'cli', '.'];
const SRC = join(import.meta.dirname, '../../src');
const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(SRC, f));
const folderOf = (f: string) => (relative(SRC, f).includes(sep) ? relative(SRC, f).split(sep)[0]! : '.');
const graph = new Map(files.map((f) => [f, [...readFileSync(f, 'utf8').matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.\.?\/[^']+)'/gms)]
  .map((m) => join(dirname(f), m[1]!).replace(/\.js$/, '.ts'))]));

t.test('cross-folder imports go through an index and run down the layers', async (t) => {
  const bad: string[] = [];
  for (const [from, targets] of graph) for (const to of targets) {
    const [a, b] = [folderOf(from), folderOf(to)];
    if (a === b) continue;
    if (!to.endsWith(`${sep}index.ts`) && b !== '.') bad.push(`${relative(SRC, from)} -> ${relative(SRC, to)}: skips ${b}/index.ts`);
    if (LAYERS.indexOf(b) >= LAYERS.indexOf(a)) bad.push(`${relative(SRC, from)} -> ${relative(SRC, to)}: runs up from ${a} to ${b}`);
  }
  t.same(bad, [], 'every folder is known to LAYERS and reached through its index, downwards');
  t.same(files.map(folderOf).filter((f) => !LAYERS.includes(f)), [], 'every folder has a layer');
});

t.test('no import circle', async (t) => {
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (f: string, trail: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') return void circles.push([...trail.slice(trail.indexOf(f)), f].map((x) => relative(SRC, x)).join(' -> '));
    state.set(f, 'open');
    for (const to of graph.get(f) ?? []) visit(to, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  t.same(circles, []);
});
