import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classCapacity, PixelPool } from '../src/snapshots/pixel-pool.js';

test('size classes are a quarter octave apart from 4 KiB: hand-computed capacities, never below the size, at most 19 % above', () => {
  // 4096·2^(k/4), rounded up: k = 1 → 4870.99, k = 2 → 5792.62, k = 5 → 9741.98; an 832×468 RGB frame
  // (1,168,128 bytes, 8.156 octaves above 4 KiB) takes k = 33: 4096·2^8.25 = 1,246,974.5.
  assert.deepEqual(
    [1, 4096, 4097, 4871, 4872, 8192, 8193, 832 * 468 * 3].map(classCapacity),
    [4096, 4096, 4871, 4871, 5793, 8192, 9742, 1_246_975],
  );
  for (let bytes = 4097; bytes < 4_000_000; bytes = Math.ceil(bytes * 1.013)) {
    const capacity = classCapacity(bytes);
    assert.ok(capacity >= bytes && capacity <= bytes * 1.19, `${bytes} → ${capacity}`);
  }
});

test('a released buffer is reused for the next copy of its class; held ones are not', () => {
  const pool = new PixelPool();
  const first = pool.take(10_000);
  assert.equal(first.data.length, 10_000);
  assert.deepEqual(pool.usage(), { inUseBytes: classCapacity(10_000), idleBytes: 0 });
  first.retain();
  first.release();
  const second = pool.take(9_800); // same class, while the first is still held
  assert.notEqual(second.data.buffer, first.data.buffer);
  first.release();
  assert.deepEqual(pool.usage(), { inUseBytes: classCapacity(10_000), idleBytes: classCapacity(10_000) });
  const third = pool.take(9_900);
  assert.equal(third.data.buffer, first.data.buffer, 'the released buffer came back');
  assert.equal(third.data.length, 9_900);
  assert.throws(() => first.release(), /released more often than held/);
  assert.throws(() => first.retain(), /cannot be retained/);
  assert.throws(() => pool.take(0), RangeError);
});

test('idle buffers not needed over a whole trim interval are dropped, those still needed are kept', () => {
  let now = 0;
  const pool = new PixelPool({ trimEveryMs: 1000, now: () => now });
  const capacity = classCapacity(50_000);
  const burst = [pool.take(50_000), pool.take(50_000), pool.take(50_000)];
  for (const buffer of burst) buffer.release();
  assert.equal(pool.usage().idleBytes, 3 * capacity);
  // Each interval from now on needs one buffer at a time.
  const oneAtATime = () => pool.take(50_000).release();
  now = 1000;
  oneAtATime(); // the first trim: the burst was needed in its interval, nothing goes
  assert.equal(pool.usage().idleBytes, 3 * capacity);
  now = 2000;
  oneAtATime(); // two stayed idle through the whole last interval: dropped
  assert.deepEqual(pool.usage(), { inUseBytes: 0, idleBytes: capacity });
  now = 3000;
  oneAtATime();
  assert.equal(pool.usage().idleBytes, capacity, 'the one in use each interval stays');
});
