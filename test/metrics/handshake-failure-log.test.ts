// Lives in test/metrics/ (observability) rather than test/log/: it limits the log lines of the
// failures that ztproxy_tls_handshakes_total counts.
import t from 'tap';
import { pino } from 'pino';
import {
  HandshakeFailureLog,
  HANDSHAKE_FAILED_MSG,
  HANDSHAKE_SUPPRESSED_MSG,
} from '../../src/log/handshake-failure-log.js';

interface Line {
  level: number;
  msg: string;
  reason?: string;
  suppressed?: number;
}

function setup(options: ConstructorParameters<typeof HandshakeFailureLog>[1] = {}) {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  const clock = { ms: 1_000_000 };
  const hfl = new HandshakeFailureLog(log, { now: () => clock.ms, ...options });
  const failures = () => lines.filter((l) => l.msg === HANDSHAKE_FAILED_MSG).length;
  const summaries = () => lines.filter((l) => l.msg === HANDSHAKE_SUPPRESSED_MSG).map((l) => l.suppressed);
  return { lines, clock, hfl, failures, summaries };
}

t.test('logs the first 10 failures of a second, then one summary', async (t) => {
  const { lines, clock, hfl, failures, summaries } = setup();
  for (let i = 0; i < 25; i++) {
    t.equal(hfl.failed({ reason: 'no_certificate' }), i < 10, `failure ${i}`);
    clock.ms += 10;
  }
  t.equal(failures(), 10);
  t.same(summaries(), [], 'no summary before the interval ends');
  t.equal(lines[0]?.reason, 'no_certificate');
  t.equal(lines[0]?.level, 40, 'warn by default');
  clock.ms = 1_000_000 + 1000;
  hfl.failed({ reason: 'unknown_ca' });
  t.same(summaries(), [15], 'the next failure after the interval writes the summary first');
  t.equal(failures(), 11, 'and is logged itself: a new interval');
  t.equal(lines.at(-2)?.msg, HANDSHAKE_SUPPRESSED_MSG);
  t.equal(lines.at(-1)?.reason, 'unknown_ca');
});

t.test('flush writes the summary of a finished interval only', async (t) => {
  const { clock, hfl, summaries } = setup({ maxPerInterval: 2, intervalMs: 500 });
  for (let i = 0; i < 5; i++) hfl.failed({});
  hfl.flush();
  t.same(summaries(), [], 'interval not over');
  clock.ms += 499;
  hfl.flush();
  t.same(summaries(), []);
  clock.ms += 1;
  hfl.flush();
  t.same(summaries(), [3]);
  clock.ms += 5000;
  hfl.flush();
  t.same(summaries(), [3], 'one summary per interval, none for a quiet one');
});

t.test('no summary when nothing was suppressed', async (t) => {
  const { clock, hfl, failures, summaries } = setup();
  for (let second = 0; second < 3; second++) {
    for (let i = 0; i < 10; i++) hfl.failed({});
    clock.ms += 1000;
  }
  hfl.flush();
  t.equal(failures(), 30);
  t.same(summaries(), []);
});

t.test('a steady flood gives 10 lines and one summary per interval', async (t) => {
  const { clock, hfl, failures, summaries } = setup();
  for (let ms = 0; ms < 5000; ms += 1) {
    hfl.failed({});
    clock.ms += 1;
  }
  hfl.flush();
  t.equal(failures(), 50);
  t.same(summaries(), [990, 990, 990, 990, 990]);
});

t.test('a clock that steps backwards ends the interval', async (t) => {
  const { clock, hfl, summaries, failures } = setup({ maxPerInterval: 1 });
  hfl.failed({});
  hfl.failed({});
  clock.ms -= 60_000;
  hfl.failed({});
  t.same(summaries(), [1]);
  t.equal(failures(), 2);
});

t.test('close writes the pending summary at once; auto-flush is idempotent', async (t) => {
  const { hfl, summaries } = setup({ maxPerInterval: 1, level: 'info' });
  hfl.startAutoFlush();
  hfl.startAutoFlush();
  hfl.failed({});
  hfl.failed({});
  hfl.failed({});
  hfl.close();
  t.same(summaries(), [2]);
  hfl.close();
  t.same(summaries(), [2]);
});

t.test('auto-flush summarises a burst followed by silence', async (t) => {
  const { hfl, summaries, lines } = setup({ maxPerInterval: 1, intervalMs: 20, now: () => performance.now() });
  hfl.startAutoFlush();
  t.teardown(() => hfl.close());
  hfl.failed({});
  hfl.failed({});
  const deadline = Date.now() + 5000;
  while (summaries().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.same(summaries(), [1]);
  t.equal(lines[0]?.level, 40);
});

t.test('default clock and options', async (t) => {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  const hfl = new HandshakeFailureLog(log);
  for (let i = 0; i < 11; i++) hfl.failed({});
  hfl.close();
  t.equal(lines.length, 11);
  t.equal(lines[10]?.suppressed, 1);
});
