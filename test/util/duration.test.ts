import t from 'tap';
import { parseDurationSeconds } from '../../src/util/duration.js';

t.test('parses units', async (t) => {
  t.equal(parseDurationSeconds('8h'), 8 * 3600);
  t.equal(parseDurationSeconds('30d'), 30 * 86400);
  t.equal(parseDurationSeconds('10y'), 10 * 365 * 86400);
  t.equal(parseDurationSeconds('90s'), 90);
});

t.test('rejects bad input with ZTP_DURATION', async (t) => {
  for (const bad of ['', '8', 'h', '-1h', '0h', '1.5h', '8 hours', '8H']) {
    t.throws(() => parseDurationSeconds(bad), { code: 'ZTP_DURATION' }, bad);
  }
});
