/**
 * Golden files: each test/golden/hosts/<case>.in.yaml is rendered with the
 * committed TEST-ONLY keys in test/golden/hosts/keys and compared byte for
 * byte with test/golden/hosts/<case>/<host>/…, and the file list and modes
 * with <case>.files. `ZTP_UPDATE_GOLDEN=1` rewrites the expected outputs
 * (and adds a key for a new host name); review the diff before committing.
 */
import t from 'tap';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory, renderHosts } from '../../src/hosts/index.js';

const goldenDir = fileURLToPath(new URL('../golden/hosts/', import.meta.url));
const keysDir = join(goldenDir, 'keys');
const update = process.env['ZTP_UPDATE_GOLDEN'] === '1';
const cases = readdirSync(goldenDir).filter((f) => f.endsWith('.in.yaml')).map((f) => f.slice(0, -'.in.yaml'.length));

t.ok(cases.length >= 2, 'golden cases found');

t.test('the example golden case is config/hosts.example.yaml', async (t) => {
  const example = readFileSync(new URL('../../config/hosts.example.yaml', import.meta.url), 'utf8');
  t.equal(readFileSync(join(goldenDir, 'example.in.yaml'), 'utf8'), example, 'copy it over and re-render the goldens');
});

for (const name of cases) {
  t.test(name, async (t) => {
    const inv = await loadInventory(join(goldenDir, `${name}.in.yaml`));
    const keysCopy = join(t.testdir({}), 'keys');
    cpSync(keysDir, keysCopy, { recursive: true });
    const files = await renderHosts(inv, { keysDir: update ? keysDir : keysCopy });
    const manifest = [...files].map(([path, f]) => `${f.mode.toString(8).padStart(4, '0')} ${path}`).join('\n') + '\n';
    const outDir = join(goldenDir, name);
    if (update) {
      rmSync(outDir, { recursive: true, force: true });
      for (const [path, f] of files) {
        mkdirSync(dirname(join(outDir, path)), { recursive: true });
        writeFileSync(join(outDir, path), f.content);
      }
      writeFileSync(join(goldenDir, `${name}.files`), manifest);
    }
    t.same(readdirSync(keysCopy).sort(), readdirSync(keysDir).sort(), 'every host has a committed test key (no key generated)');
    t.equal(manifest, readFileSync(join(goldenDir, `${name}.files`), 'utf8'), 'file list and modes');
    for (const [path, f] of files) {
      const expected = join(outDir, path);
      if (!existsSync(expected)) {
        t.fail(`${path}: no golden file`);
        continue;
      }
      t.equal(f.content, readFileSync(expected, 'utf8'), path);
    }
  });
}
