import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestFrameSlots } from '../src/ingest/latest-frame-slots.js';
import { FfmpegLogSummary, isFfmpegError, parseFfmpegLogLine } from '../src/ingest/ffmpeg-log.js';
import { FrameRateMeter } from '../src/ingest/frame-rate-meter.js';
import { FakeClock, memoryLogger } from './support/ingest-fixtures.js';

/** Feeds `frames` whole frames of 4 bytes (each filled with its number) and commits each. */
function feed(slots: LatestFrameSlots<number>, first: number, count: number): number {
  let dropped = 0;
  for (let n = first; n < first + count; n += 1) {
    const bytes = new Uint8Array(4).fill(n);
    // Split across two appends, as pipe chunks are.
    let offset = slots.append(bytes.subarray(0, 3), 0);
    assert.equal(offset, 3);
    assert.equal(slots.frameComplete, false);
    offset = slots.append(bytes, 3);
    assert.equal(offset, 4);
    if (slots.commit(n)) dropped += 1;
  }
  return dropped;
}

test('frame slots: the newest complete frame wins, untaken ones are counted as dropped', () => {
  const slots = new LatestFrameSlots<number>(4);
  assert.equal(slots.take(), undefined, 'nothing before the first frame');
  assert.equal(feed(slots, 1, 1), 0);
  assert.equal(feed(slots, 2, 3), 3, 'frames 1, 2, 3 were still pending when 2, 3, 4 completed');
  const taken = slots.take();
  assert.deepEqual(taken && { meta: taken.meta, data: Array.from(taken.data) }, { meta: 4, data: [4, 4, 4, 4] });
  assert.equal(slots.take(), undefined, 'a frame is handed out once');
});

test('frame slots: a held frame is never overwritten, however many frames pass, and only three buffers exist', () => {
  const slots = new LatestFrameSlots<number>(4);
  feed(slots, 1, 1);
  const held = slots.take()!;
  const buffers = new Set<Uint8Array>([held.data]);
  assert.equal(feed(slots, 2, 50), 49, 'all but the last of 50 frames passed while the consumer held frame 1');
  assert.deepEqual(Array.from(held.data), [1, 1, 1, 1], 'the held buffer kept its frame');
  const next = slots.take()!;
  assert.equal(next.meta, 51);
  buffers.add(next.data);
  for (let n = 52; n < 70; n += 2) {
    feed(slots, n, 2);
    const frame = slots.take()!;
    assert.equal(frame.meta, n + 1);
    assert.deepEqual(Array.from(frame.data), [n + 1, n + 1, n + 1, n + 1]);
    buffers.add(frame.data);
  }
  assert.ok(buffers.size <= 3, `distinct buffers handed out: ${buffers.size}`);
  slots.release();
  feed(slots, 100, 1);
  slots.discardPartial();
  slots.append(new Uint8Array([9, 9]), 0);
  slots.discardPartial();
  assert.equal(slots.frameComplete, false);
  assert.throws(() => slots.commit(0), /before the frame is complete/);
  assert.equal(slots.take()!.meta, 100);
});

test('ffmpeg log lines: level and context are parsed, addresses and credentials are not kept', () => {
  assert.deepEqual(parseFfmpegLogLine('[tcp @ 0x3450b3c0] [error] Connection to tcp://127.0.0.1:1?timeout=2000000 failed: Connection refused'), {
    level: 'error',
    message: '[tcp] Connection to tcp://127.0.0.1:1?timeout=2000000 failed: Connection refused',
  });
  assert.deepEqual(parseFfmpegLogLine('[error] rtsp://admin:hunter2@cam/live: 401 Unauthorized'), {
    level: 'error',
    message: 'rtsp://***:***@cam/live: 401 Unauthorized',
  });
  assert.deepEqual(parseFfmpegLogLine('[info]   Duration: N/A'), { level: 'info', message: 'Duration: N/A' });
  assert.deepEqual(parseFfmpegLogLine('no tag'), { level: 'info', message: 'no tag' });
  assert.equal(isFfmpegError(parseFfmpegLogLine('[fatal] x')), true);
  assert.equal(isFfmpegError(parseFfmpegLogLine('[warning] x')), false);
});

test('ffmpeg log summary at info: blank ffmpeg lines are not forwarded as empty log lines', () => {
  const { logger, lines } = memoryLogger();
  const summary = new FfmpegLogSummary({ logger, clock: new FakeClock(), level: 'info' });
  for (const line of ['[info] ', '', '   ', '[info] Input #0, rtsp, from x:', '[info]']) summary.add(parseFfmpegLogLine(line));
  summary.flush();
  assert.deepEqual(lines.map((line) => (JSON.parse(line) as { msg: string }).msg), ['Input #0, rtsp, from x:']);
});

test('ffmpeg log summary: level filter, repeats logged once with a count, rate limit with a suppressed count', () => {
  const clock = new FakeClock();
  const { logger, lines } = memoryLogger();
  const summary = new FfmpegLogSummary({ logger, clock, level: 'warning', maxLinesPerWindow: 3, windowMs: 10_000 });
  const add = (line: string) => summary.add(parseFfmpegLogLine(line));
  add('[info] chatter');
  add('[h264 @ 0x1] [warning] concealing errors');
  add('[h264 @ 0x2] [warning] concealing errors');
  add('[h264 @ 0x3] [warning] concealing errors');
  add('[error] first error');
  add('[error] second error');
  add('[error] third error'); // over the budget of 3 lines
  add('[error] third error');
  clock.advance(10_000);
  add('[error] new window');
  summary.flush();
  const logged = lines.map((line) => JSON.parse(line) as { level: number; msg: string; repeated?: number; suppressed?: number });
  assert.deepEqual(
    logged.map((entry) => [entry.level, entry.msg]),
    [
      [40, '[h264] concealing errors'],
      [40, '[h264] concealing errors (repeated 2 more times)'],
      [50, 'first error'],
      [50, 'second error'],
      [40, '2 more ffmpeg log lines suppressed (rate limit)'],
      [50, 'new window'],
    ],
  );
});

test('frame rate meter: rate over the sliding window, from the first frame while younger than the window, over at least 1 s', () => {
  const meter = new FrameRateMeter(5_000, 64);
  assert.equal(meter.rate(0), 0);
  for (let t = 0; t <= 100; t += 10) meter.record(t);
  assert.equal(meter.rate(100), 10, 'a burst of 10 frames right after the first counts over one second, not 0.1 s');
  meter.reset();
  for (let t = 0; t <= 2_000; t += 200) meter.record(t);
  assert.equal(meter.rate(2_000), 5, '10 frames after the first in 2 s');
  for (let t = 2_200; t <= 10_000; t += 200) meter.record(t);
  assert.equal(meter.rate(10_000), 5);
  assert.equal(meter.rate(12_500), 2.6, '13 frames in the last 5 s');
  assert.equal(meter.rate(20_000), 0);
  meter.reset();
  assert.equal(meter.rate(20_000), 0);
});
