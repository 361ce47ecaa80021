import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vectorBytes } from '../src/core/vectors.js';
import { decodeIdentity, mergedAppearance, momentumAppearance, withExemplar, type Exemplar, type StoredIdentity } from '../src/gallery/records.js';

const close = (actual: number, expected: number, tolerance = 1e-7) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

test('momentum update (seed 000): c ← m·c + (1−m)·f renormalised, the camera weights scaled with it', () => {
  // m = 0.9, c = [1, 0, 0] seen by A, f = [0.8, 0.6, 0] seen by B → [0.98, 0.06, 0] / 0.98183502.
  const updated = momentumAppearance({ sum: Float32Array.of(1, 0, 0), weights: { A: 1 } }, Float32Array.of(0.8, 0.6, 0), 'B', 0.9);
  close(updated.sum[0]!, 0.9981310335652204);
  close(updated.sum[1]!, 0.06111006327950329);
  assert.equal(updated.sum[2], 0);
  close(updated.weights.A!, 0.9 / 0.98183502);
  close(updated.weights.B!, 0.1 / 0.98183502);
  // m = 0 takes the feature, m = 1 keeps the centroid.
  assert.deepEqual(Array.from(momentumAppearance({ sum: Float32Array.of(1, 0), weights: { A: 1 } }, Float32Array.of(0, 1), 'A', 0).sum), [0, 1]);
  assert.deepEqual(Array.from(momentumAppearance({ sum: Float32Array.of(1, 0), weights: { A: 1 } }, Float32Array.of(0, 1), 'A', 1).sum), [1, 0]);
});

test('merged appearance: count-weighted sum (at least 1 each), renormalised, camera weights added alike', () => {
  const merged = mergedAppearance([
    { appearance: { sum: Float32Array.of(1, 0), weights: { A: 1 } }, count: 2 },
    { appearance: { sum: Float32Array.of(0, 1), weights: { B: 1 } }, count: 0 },
  ]);
  // [2, 1] / √5
  close(merged.sum[0]!, 2 / Math.sqrt(5));
  close(merged.sum[1]!, 1 / Math.sqrt(5));
  close(merged.weights.A!, 2 / Math.sqrt(5));
  close(merged.weights.B!, 1 / Math.sqrt(5));
});

test('views stay diverse: of the two most alike, the lower-quality one goes (the older among equals)', () => {
  const view = (x: number, y: number, quality: number, at: number): Exemplar => {
    const n = Math.hypot(x, y);
    return { embedding: Float32Array.of(x / n, y / n), cameraId: 'A', quality, at };
  };
  const front = view(1, 0, 0.9, 1);
  const nearFront = view(0.99, 0.14, 0.8, 2);
  const side = view(0, 1, 0.5, 3);
  // Kept by quality alone, the side view would go; diversity drops the near-duplicate instead.
  assert.deepEqual(withExemplar([front, nearFront], side, 2), [front, side]);
  const sameQuality = view(0.99, 0.14, 0.9, 0);
  assert.deepEqual(withExemplar([front, side], sameQuality, 2), [front, side], 'the older of two equal views goes');
});

test('an identity stored before raw appearances (0.1) reads its prototype as the appearance', () => {
  const stored = {
    id: 'person-000001',
    objectClass: 'person',
    prototype: vectorBytes(Float32Array.of(0.6, 0.8)),
    exemplars: [{ embedding: vectorBytes(Float32Array.of(0.6, 0.8)), quality: 0.5, at: 1 }],
    count: 1,
    createdAt: 1,
    cameras: {},
    watchlist: false,
  } as unknown as StoredIdentity;
  const record = decodeIdentity(stored);
  assert.deepEqual(Array.from(record.appearance.sum), [0.6000000238418579, 0.800000011920929]);
  assert.deepEqual(record.appearance.weights, {});
  assert.equal(record.exemplars[0]!.cameraId, '');
});
