import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { AccessLog, ACCESS_FLUSH_MS, ACCESS_MSG, flushAccessLogs } from '../../src/log/access-log.js';
import { ManualClock } from '../helpers/clock.js';

/** A pino logger whose destination records every chunk it is handed. */
function capture(level = 'info') {
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = pino({ level, base: { pid: 4242, role: 'worker' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, dest);
  return { log, chunks, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

const tick = () => new Promise((r) => setImmediate(r));
/** An access log on a clock the test moves: `batchWindow()` is the 50 ms a line may wait for its batch, passed. */
function clocked(log: ReturnType<typeof capture>['log']) {
  const clock = new ManualClock();
  const a = new AccessLog(log, { clock });
  return { a, clock, batchWindow: () => clock.advance(ACCESS_FLUSH_MS) };
}

t.test('lines are batched into one destination write, shaped like pino lines', async (t) => {
  const c = capture();
  const { a, clock } = clocked(c.log);
  a.write({ reqId: 'r1', status: 200, dn: 'CN=a', ttfbMs: null, absent: undefined });
  await tick();
  a.write({ reqId: 'r2', status: 502 });
  await tick();
  clock.advance(ACCESS_FLUSH_MS - 1);
  t.equal(c.chunks.length, 0, 'nothing written before the batch is due');
  clock.advance(1);
  t.equal(c.chunks.length, 1, 'one destination write for the batch');
  const [l1, l2] = c.lines().map((l) => JSON.parse(l));
  t.match(l1.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.equal(l1.time, new Date(clock.now() - ACCESS_FLUSH_MS).toISOString(), 'the time of the write, from the clock');
  t.same(Object.keys(l1), ['level', 'time', 'pid', 'role', 'reqId', 'status', 'dn', 'ttfbMs', 'msg'], 'undefined fields are left out, as pino does');
  t.same({ ...l1, time: 0 }, { level: 'info', time: 0, pid: 4242, role: 'worker', reqId: 'r1', status: 200, dn: 'CN=a', ttfbMs: null, msg: ACCESS_MSG });
  t.equal(l2.reqId, 'r2');

  // pino itself, for the same record: the same keys in the same order.
  c.log.info({ reqId: 'r3', status: 200, dn: 'CN=a', ttfbMs: null }, ACCESS_MSG);
  t.same(Object.keys(JSON.parse(c.lines()[2]!)), ['level', 'time', 'pid', 'role', 'reqId', 'status', 'dn', 'ttfbMs', 'msg']);
});

t.test('hostile values stay inside one line', async (t) => {
  const c = capture();
  const a = new AccessLog(c.log);
  const path = '/a"b\\c\n{"level":"error"}\r\u0000\u2028é';
  a.write({ path });
  a.flush();
  const lines = c.lines();
  t.equal(lines.length, 1);
  t.equal(JSON.parse(lines[0]!).path, path);
});

t.test('nothing is written when the level is above info', async (t) => {
  const c = capture('warn');
  const { a, clock, batchWindow } = clocked(c.log);
  a.write({ reqId: 'r1' });
  t.equal(clock.pending, 0, 'no batch timer either');
  a.flush();
  batchWindow();
  t.equal(c.chunks.length, 0);
});

t.test('flushAccessLogs writes queued lines at once (exit path)', async (t) => {
  const c = capture();
  const { a, clock, batchWindow } = clocked(c.log);
  a.write({ reqId: 'r1' });
  flushAccessLogs();
  t.equal(c.lines().length, 1, 'written synchronously');
  t.equal(JSON.parse(c.lines()[0]!).reqId, 'r1');
  t.equal(clock.pending, 0, 'the batch timer is cancelled');
  batchWindow();
  t.equal(c.chunks.length, 1, 'the cancelled batch writes nothing more');
  a.write({ reqId: 'r2' });
  batchWindow();
  t.equal(c.lines().length, 2, 'a later line still goes out');
});

t.test('16 KiB of pending lines are written at once, without waiting', async (t) => {
  const c = capture();
  const { a, clock, batchWindow } = clocked(c.log);
  const path = '/' + 'x'.repeat(1000);
  let n = 0;
  while (c.chunks.length === 0 && n < 100) a.write({ n: n++, path });
  t.ok(n > 10 && n < 20, `the write came after ${n} lines of ~1 KiB`);
  t.equal(c.lines().length, n, 'all of them, in one write');
  t.same(c.lines().map((l) => JSON.parse(l).n), [...Array(n).keys()], 'in order');
  t.equal(clock.pending, 0, 'no batch timer left behind');
  a.write({ n: n++ });
  batchWindow();
  t.equal(c.chunks.length, 2, 'the next line starts a new batch');
});

t.test('a logger without bindings gives no stray comma', async (t) => {
  const chunks: string[] = [];
  const log = pino({ base: undefined }, new Writable({ write: (ch: Buffer, _e, cb) => (chunks.push(ch.toString()), cb()) }));
  const a = new AccessLog(log);
  a.write({});
  a.write({ x: 1 });
  a.flush();
  const lines = chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.same(lines.map((l) => Object.keys(l)), [['level', 'time', 'msg'], ['level', 'time', 'x', 'msg']]);
});
