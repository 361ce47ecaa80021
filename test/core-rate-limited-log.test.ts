import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitedLog } from '../src/core/rate-limited-log.js';
import { memoryLogger } from './support/mqtt-fakes.js';

test('rate-limited log: one line per kind per interval, the repeats counted on the next line of that kind', () => {
  const { logger, records } = memoryLogger();
  let now = 0;
  const log = new RateLimitedLog(logger, 60_000, () => now);
  for (let i = 0; i < 5000; i++) {
    log.error('disk', { n: i }, 'write failed');
    if (i % 10 === 0) log.warn('snapshot', {}, 'snapshot failed');
    now += 10; // 5000 failures in 50 s
  }
  assert.deepEqual(records.map((r) => [r.kind, r.msg]), [['disk', 'write failed'], ['snapshot', 'snapshot failed']]);
  now = 60_000;
  log.error('disk', {}, 'write failed');
  const { time: _time, ...last } = records.at(-1)!;
  assert.deepEqual(last, { level: 50, kind: 'disk', repeated: 4999, msg: 'write failed (and 4999 more like it in the last 60 s)' });
});
