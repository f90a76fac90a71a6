import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { AccessLog, ACCESS_MSG, flushAccessLogs } from '../../src/log/access-log.js';

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

t.test('lines of one turn reach the destination together on the next turn, shaped like pino lines', async (t) => {
  const c = capture();
  const a = new AccessLog(c.log);
  a.write({ reqId: 'r1', status: 200, dn: 'CN=a', ttfbMs: null, absent: undefined });
  a.write({ reqId: 'r2', status: 502 });
  t.equal(c.chunks.length, 0, 'nothing written within the turn');
  await tick();
  await tick();
  t.equal(c.chunks.length, 1, 'one destination write for the batch');
  const [l1, l2] = c.lines().map((l) => JSON.parse(l));
  t.match(l1.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
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
  await tick();
  const lines = c.lines();
  t.equal(lines.length, 1);
  t.equal(JSON.parse(lines[0]!).path, path);
});

t.test('nothing is written when the level is above info', async (t) => {
  const c = capture('warn');
  new AccessLog(c.log).write({ reqId: 'r1' });
  await tick();
  t.equal(c.chunks.length, 0);
});

t.test('flushAccessLogs writes queued lines at once (exit path)', async (t) => {
  const c = capture();
  const a = new AccessLog(c.log);
  a.write({ reqId: 'r1' });
  flushAccessLogs();
  await tick(); // the Writable hands the chunk over on write; nothing more arrives from the cancelled batch
  t.equal(c.lines().length, 1);
  t.equal(JSON.parse(c.lines()[0]!).reqId, 'r1');
  a.write({ reqId: 'r2' });
  await tick();
  t.equal(c.lines().length, 2, 'a later line still goes out');
});

t.test('a logger without bindings gives no stray comma', async (t) => {
  const chunks: string[] = [];
  const log = pino({ base: undefined }, new Writable({ write: (ch: Buffer, _e, cb) => (chunks.push(ch.toString()), cb()) }));
  const a = new AccessLog(log);
  a.write({});
  a.write({ x: 1 });
  await tick();
  const lines = chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.same(lines.map((l) => Object.keys(l)), [['level', 'time', 'msg'], ['level', 'time', 'x', 'msg']]);
});
