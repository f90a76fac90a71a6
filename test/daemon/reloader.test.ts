// The one reload path of every mode (single, primary, worker): reloads run
// one at a time, triggers during a reload queue exactly one more, and a
// failure is logged with code ZTP_RELOAD while nothing else changes.
import t from 'tap';
import { resolveConfig, type ResolvedConfig } from '../../src/config/index.js';
import { Reloader } from '../../src/daemon/reloader.js';
import { memoryLogger } from '../helpers/proxy.js';

const config: ResolvedConfig = resolveConfig({
  listen: '127.0.0.1:0',
  tls: { cert: 'server.crt', key: 'server.key', clientCA: 'ca.crt' },
  routes: [{ name: 'api', upstream: 'http://127.0.0.1:9' }],
});

/** An apply step the test finishes by hand, counting how many ran at once. */
function gate() {
  const waiting: { ok: () => void; fail: (e: Error) => void }[] = [];
  let running = 0;
  let most = 0;
  const apply = () =>
    new Promise<ResolvedConfig>((resolve, reject) => {
      most = Math.max(most, ++running);
      waiting.push({ ok: () => (running--, resolve(config)), fail: (e) => (running--, reject(e)) });
    });
  return { apply, waiting, most: () => most };
}

const settle = () => new Promise((r) => setImmediate(r));

t.test('triggers during a reload queue one more, never two at once', async (t) => {
  const { log, logs } = memoryLogger();
  const g = gate();
  const r = new Reloader({ log, apply: g.apply });
  t.teardown(() => r.close());
  r.reload('SIGHUP');
  r.reload('SIGHUP');
  r.reload('file change');
  await settle();
  t.equal(g.waiting.length, 1, 'one reload runs');
  g.waiting[0]!.ok();
  await settle();
  t.equal(g.waiting.length, 2, 'then exactly one more for the three triggers');
  g.waiting[1]!.ok();
  await settle();
  t.equal(g.waiting.length, 2, 'and no third');
  t.equal(g.most(), 1, 'never two at once');
  t.same(logs.filter((l) => l.msg === 'config reloaded').map((l) => l.trigger), ['SIGHUP', 'file change'], 'each logged with its trigger');
});

t.test('a failed reload is ZTP_RELOAD in the log, and the next one runs', async (t) => {
  const { log, logs } = memoryLogger();
  const g = gate();
  const r = new Reloader({ log, apply: g.apply });
  t.teardown(() => r.close());
  r.reload('SIGHUP');
  await settle();
  g.waiting[0]!.fail(new Error('routez: unknown key'));
  await settle();
  const failed = logs.find((l) => l.msg === 'reload failed; old config keeps serving');
  t.match(failed, { level: 50, code: 'ZTP_RELOAD', trigger: 'SIGHUP', reason: 'routez: unknown key' });
  t.match(failed?.err, { message: 'reload on SIGHUP' }, 'the error is a ZtpError with the cause');
  r.reload('SIGHUP');
  await settle();
  t.equal(g.waiting.length, 2, 'a later trigger reloads again');
  g.waiting[1]!.ok();
  await settle();
  t.ok(logs.some((l) => l.msg === 'config reloaded'));
});

t.test('after close, triggers are ignored (the process is stopping)', async (t) => {
  const { log } = memoryLogger();
  const g = gate();
  const r = new Reloader({ log, apply: g.apply });
  r.reload('SIGHUP');
  r.reload('SIGHUP');
  r.close();
  await settle();
  g.waiting[0]!.ok();
  await settle();
  r.reload('SIGHUP');
  await settle();
  t.equal(g.waiting.length, 1, 'neither the queued nor a new trigger runs');
});
