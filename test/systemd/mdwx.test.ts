/**
 * Why systemd/ztproxy.service keeps MemoryDenyWriteExecute=no: Node's V8 JIT
 * maps code pages writable and then makes them executable, which the
 * restriction forbids. The kernel's own version of it, PR_SET_MDWE
 * (Linux >= 6.3; systemd >= 257 uses it, older systemd a seccomp filter that
 * is stricter still), is set here with python's ctypes and inherited by node
 * across execve.
 */
import t from 'tap';
import { run, which } from './unit-tools.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const python = which('python3');
const HOT_LOOP = 'let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log(s)';
const WITH_MDWE = [
  'import ctypes, os, sys',
  'libc = ctypes.CDLL(None, use_errno=True)',
  // PR_SET_MDWE = 65, PR_MDWE_REFUSE_EXEC_GAIN = 1
  'if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)',
  'os.execv(sys.argv[1], sys.argv[1:])',
].join('\n');

function underMdwe(nodeArgs: string[]) {
  return run(python!, ['-c', WITH_MDWE, process.execPath, ...nodeArgs]);
}

const probe = python ? underMdwe(['--jitless', '-e', '0']) : undefined;
const skip = skipUnlessInstalled(python !== undefined, 'python3', 'used to call prctl') ||
  (probe?.status === 77
    ? 'the kernel has no PR_SET_MDWE (Linux >= 6.3)'
    : false);

t.test('node with its JIT dies under memory-deny-write-execute', { skip }, async (t) => {
  const r = underMdwe(['-e', HOT_LOOP]);
  t.not(r.status, 0, `node exits abnormally (status ${r.status}, signal ${r.signal})`);
  t.notMatch(r.stdout, /49999995000000/, 'the loop never completes');
  t.comment(r.stderr.split('\n').find((l) => l.includes('Check failed')) ?? '');
});

t.test('node --jitless survives it (not an option: no optimising compiler, no wasm)', { skip }, async (t) => {
  const r = underMdwe(['--jitless', '-e', HOT_LOOP]);
  t.equal(r.status, 0);
  t.match(r.stdout, /49999995000000/);
});
