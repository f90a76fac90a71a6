// MaterialWatcher on a real directory: an in-place write, a rename over the
// file and a Kubernetes `..data` symlink swap each trigger one reload; files
// that are not watched, written in the same directory, trigger none.
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MaterialWatcher } from '../../src/tls/index.js';
import { until } from '../helpers/cli.js';

const DEBOUNCE_MS = 50;
const settle = () => new Promise((r) => setTimeout(r, DEBOUNCE_MS * 10));

t.test('writes and renames of a watched file', async (t) => {
  const dir = t.testdir({ 'crl.pem': 'one', 'index.json': '{}' });
  const crl = join(dir, 'crl.pem');
  let calls = 0;
  const w = new MaterialWatcher([crl], () => calls++, DEBOUNCE_MS);
  t.teardown(() => w.close());

  writeFileSync(join(dir, 'index.json'), '{"other":1}');
  writeFileSync(join(dir, 'crl.pem.tmp-unrelated'), 'x');
  await settle();
  t.equal(calls, 0, 'other files in the directory: no reload');

  writeFileSync(crl, 'two');
  await until(() => calls === 1, 'reload after an in-place write');
  writeFileSync(join(dir, 'staged'), 'three');
  renameSync(join(dir, 'staged'), crl);
  await until(() => calls === 2, 'reload after mv staged crl.pem');
  await settle();
  t.equal(calls, 2, 'one reload per change');
});

t.test('a Kubernetes Secret volume: ..data swapped to a new directory', async (t) => {
  const vol = t.testdir({ '..2026_01': { 'crl.pem': 'one' } });
  symlinkSync('..2026_01', join(vol, '..data'));
  symlinkSync('..data/crl.pem', join(vol, 'crl.pem'));
  let calls = 0;
  const w = new MaterialWatcher([join(vol, 'crl.pem')], () => calls++, DEBOUNCE_MS);
  t.teardown(() => w.close());

  // The kubelet's atomic writer: new directory, ..data_tmp -> it, renamed over ..data. No event names crl.pem.
  mkdirSync(join(vol, '..2026_02'));
  writeFileSync(join(vol, '..2026_02', 'crl.pem'), 'two');
  symlinkSync('..2026_02', join(vol, '..data_tmp'));
  renameSync(join(vol, '..data_tmp'), join(vol, '..data'));
  await until(() => calls === 1, 'reload after the ..data swap');

  // A directory written but not (yet) swapped in changes nothing crl.pem resolves to.
  mkdirSync(join(vol, '..2026_03'));
  writeFileSync(join(vol, '..2026_03', 'crl.pem'), 'three');
  await settle();
  t.equal(calls, 1, 'a new directory not yet swapped in: no reload');
});
