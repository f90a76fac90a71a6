// With two workers, a port that is already taken ends `serve` with exit 1
// and ZTP_LISTEN's message naming the key or flag and the address: the
// primary ends with its workers' error instead of restarting them into the
// busy port forever (single process: serve-listen-port-busy.test.ts).
import t from 'tap';
import { assertListenError, busyPort } from './listen-port-busy-harness.js';

t.test('with workers, a busy port is ZTP_LISTEN naming the key and the address', async (t) => {
  const { busy, tlsFlags, config } = await busyPort(t);
  await assertListenError(t, '--listen', [...tlsFlags, '--listen', `127.0.0.1:${busy}`, '--metrics-listen', 'off', '--workers', '2'], `--listen 127.0.0.1:${busy}`);
  await assertListenError(t, 'metrics.listen', ['--config', config(`listen: 127.0.0.1:0\nworkers: 2\nmetrics:\n  listen: 127.0.0.1:${busy}\n`)], `metrics.listen 127.0.0.1:${busy}`);
});
