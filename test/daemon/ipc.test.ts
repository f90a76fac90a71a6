// The primary/worker channel is typed: what crosses it parses into one of
// the known messages or is ignored (a malformed ticket key never reaches
// node:tls), and the fork environment round-trips the effective flags.
import t from 'tap';
import { keysOf, parseToPrimary, parseToWorker, readWorkerEnv, toPrimary, toWorker, workerEnv } from '../../src/daemon/ipc.js';

t.test('messages round-trip; anything else is ignored', async (t) => {
  const keys = Buffer.alloc(48, 7);
  const reload = parseToWorker(JSON.parse(JSON.stringify(toWorker.reload(keys))));
  t.equal(reload?.type, 'ztproxy:reload');
  t.same(reload && reload.type !== 'ztproxy:stop' ? keysOf(reload) : null, keys, 'the keys survive the channel');
  t.same(parseToWorker(toWorker.stop()), { type: 'ztproxy:stop' });
  t.equal(parseToWorker({ type: 'ztproxy:ticket-keys', keys: 'ab' }), null, 'short keys are dropped');
  t.equal(parseToWorker({ type: 'ztproxy:ticket-keys', keys: 'zz'.repeat(48) }), null, 'non-hex keys are dropped');
  t.equal(parseToWorker({ type: 'ztproxy:metrics-req', id: 1 }), null, "metrics/cluster.ts's messages are not ours");
  t.equal(parseToWorker(null), null);
  t.same(parseToPrimary(toPrimary.ready(8443)), { type: 'ztproxy:ready', port: 8443 });
  t.same(parseToPrimary(toPrimary.wantKeys()), { type: 'ztproxy:want-keys' });
  t.same(parseToPrimary(toPrimary.failed('ZTP_LISTEN', 'listen 127.0.0.1:1: cannot listen')), { type: 'ztproxy:failed', code: 'ZTP_LISTEN', message: 'listen 127.0.0.1:1: cannot listen' });
  t.equal(parseToPrimary({ type: 'ztproxy:ready', port: '8443' }), null);
  t.equal(parseToPrimary('ztproxy:ready'), null);
});

t.test('the fork environment carries the flags and the adopted fd, never keys', async (t) => {
  const env = workerEnv({ overrides: { listen: '127.0.0.1:8443', upstream: 'http://127.0.0.1:1' }, listenFd: 3 });
  t.same(readWorkerEnv(env), { overrides: { listen: '127.0.0.1:8443', upstream: 'http://127.0.0.1:1' }, listenFd: 3 });
  t.same(readWorkerEnv(workerEnv({ overrides: {}, listenFd: undefined })), { overrides: {}, listenFd: undefined });
  t.equal(readWorkerEnv({}), null, 'not forked by a primary');
});
