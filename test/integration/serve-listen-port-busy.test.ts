// A port that is already taken: `serve` exits 1 with ZTP_LISTEN's message
// naming the key or flag that set the address and the address itself, for
// the mTLS listener and the metrics listener, set by flag or by config
// (with workers: serve-listen-port-busy-workers.test.ts).
import t from 'tap';
import { assertListenError, busyPort } from './listen-port-busy-harness.js';

t.test('a busy port is ZTP_LISTEN naming the key and the address', async (t) => {
  const { busy, tlsFlags, config } = await busyPort(t);
  await assertListenError(t, '--listen', [...tlsFlags, '--listen', `127.0.0.1:${busy}`, '--metrics-listen', 'off'], `--listen 127.0.0.1:${busy}`);
  await assertListenError(t, 'listen', ['--config', config(`listen: 127.0.0.1:${busy}\nworkers: 1\nmetrics:\n  listen: false\n`)], `listen 127.0.0.1:${busy}`);
  await assertListenError(t, '--metrics-listen', [...tlsFlags, '--listen', '127.0.0.1:0', '--metrics-listen', `127.0.0.1:${busy}`], `--metrics-listen 127.0.0.1:${busy}`);
  await assertListenError(t, 'metrics.listen', ['--config', config(`listen: 127.0.0.1:0\nworkers: 1\nmetrics:\n  listen: 127.0.0.1:${busy}\n`)], `metrics.listen 127.0.0.1:${busy}`);
});
