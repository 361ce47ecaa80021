import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackEmbedding, type TrackCrop } from '../src/embed/track-embedding.js';

const crop = (quality: number, embedding: number[], frameIndex = 0): TrackCrop => ({
  quality,
  embedding: Float32Array.from(embedding),
  pts: frameIndex / 10,
  frameIndex,
  box: { x1: frameIndex, y1: 0, x2: frameIndex + 10, y2: 25 },
});

function assertVector(actual: Float32Array | undefined, expected: number[]): void {
  assert.ok(actual, 'an embedding');
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) < 1e-6, `[${Array.from(actual)}] vs [${expected}]`));
}

test('embedding is the quality-weighted mean of the kept crops, renormalised', () => {
  const track = new TrackEmbedding({ k: 3 });
  assert.equal(track.embedding(), undefined);
  assert.equal(track.bestCrop(), undefined);
  track.add(crop(0.6, [1, 0, 0], 1));
  assertVector(track.embedding(), [1, 0, 0]);
  track.add(crop(0.2, [0, 1, 0], 2));
  // 0.6·(1,0,0) + 0.2·(0,1,0) = (0.6, 0.2, 0) → /√0.4
  assertVector(track.embedding(), [0.6 / Math.sqrt(0.4), 0.2 / Math.sqrt(0.4), 0]);
  track.add(crop(0.3, [0, 0, 1], 3));
  const n = Math.sqrt(0.36 + 0.04 + 0.09);
  assertVector(track.embedding(), [0.6 / n, 0.2 / n, 0.3 / n]);
});

test('keeps the best K: shouldEmbed says whether a crop would enter, the worst is evicted', () => {
  const track = new TrackEmbedding({ k: 2 });
  assert.equal(track.shouldEmbed(0, 0), true, 'room left');
  assert.equal(track.add(crop(0.5, [1, 0], 1)), true);
  assert.equal(track.add(crop(0.1, [0, 1], 2)), true);
  assert.equal(track.shouldEmbed(0.1, 0), false, 'equal to the worst does not improve the track');
  assert.equal(track.shouldEmbed(0.05, 0), false);
  assert.equal(track.add(crop(0.05, [0, 1], 3)), false);
  assert.equal(track.shouldEmbed(0.2, 0), true);
  assert.equal(track.add(crop(0.9, [0, 1], 4)), true);
  assert.deepEqual(track.keptCrops().map((c) => c.frameIndex), [4, 1]);
  // 0.9·(0,1) + 0.5·(1,0) normalised.
  const n = Math.hypot(0.5, 0.9);
  assertVector(track.embedding(), [0.5 / n, 0.9 / n]);
  assert.deepEqual(track.bestCrop(), { quality: 0.9, pts: 0.4, frameIndex: 4, box: { x1: 4, y1: 0, x2: 14, y2: 25 } });
  assert.equal(track.size, 2);
});

test('default K is 5; zero-quality crops still give an embedding when nothing better exists', () => {
  const track = new TrackEmbedding();
  assert.equal(track.k, 5);
  track.add(crop(0, [3, 4], 1));
  track.add(crop(0, [0, 1], 2));
  // Equal floor weights: plain mean of (3,4) and (0,1) = (1.5, 2.5), normalised.
  const n = Math.hypot(1.5, 2.5);
  assertVector(track.embedding(), [1.5 / n, 2.5 / n]);
  for (let i = 3; i <= 5; i++) track.add(crop(0.1 * i, [1, 0], i));
  assert.equal(track.shouldEmbed(0, 0), false, 'full, and 0 beats none of the kept crops');
  assert.equal(track.shouldEmbed(0.01, 0), true, 'beats a zero-quality crop');
  assert.throws(() => new TrackEmbedding({ k: 0 }), /positive integer/);
});

test('min interval: within it of the last crop taken no crop is embedded, however good; after it, as usual', () => {
  const track = new TrackEmbedding({ k: 3, minIntervalS: 1 });
  assert.equal(track.add({ ...crop(0.3, [1, 0], 1), pts: 10 }), true);
  assert.equal(track.shouldEmbed(0.9, 10.8), false, '0.8 s after the last crop');
  assert.equal(track.add({ ...crop(0.9, [0, 1], 2), pts: 10.8 }), false);
  assert.equal(track.shouldEmbed(0.9, 11), true, '1 s after');
  assert.equal(track.add({ ...crop(0.9, [0, 1], 3), pts: 11 }), true);
  assert.equal(track.shouldEmbed(0.95, 11.5), false, 'the interval runs from the last crop taken');
  assert.equal(track.size, 2);
});

test('halves: the earlier and the later half of the kept crops by media time, each weighted as the whole; none below two crops', () => {
  const track = new TrackEmbedding({ k: 4 });
  const at = (quality: number, embedding: number[], pts: number): TrackCrop => ({ ...crop(quality, embedding), pts });
  track.add(at(0.9, [1, 0], 3));
  assert.equal(track.halves(), undefined);
  track.add(at(0.5, [0, 1], 1));
  track.add(at(0.3, [Math.SQRT1_2, Math.SQRT1_2], 2));
  track.add(at(0.2, [0, 1], 4));
  // By time: pts 1 [0,1] q .5, pts 2 [1,1]/√2 q .3 | pts 3 [1,0] q .9, pts 4 [0,1] q .2.
  const [early, late] = track.halves()!;
  const s = Math.SQRT1_2;
  const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));
  const expectEarly = unit([0.3 * s, 0.5 + 0.3 * s]);
  const expectLate = unit([0.9, 0.2]);
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(early[i]! - expectEarly[i]!) < 1e-6);
    assert.ok(Math.abs(late[i]! - expectLate[i]!) < 1e-6);
  }
});
