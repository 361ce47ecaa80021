import { test } from 'node:test';
import assert from 'node:assert/strict';
import { halfVectorBytes, vectorBytes, vectorFromHalfBytes } from '../src/core/vectors.js';
import { decodeIdentity, decodeSighting, encodeSighting, mergedAppearance, momentumAppearance, withExemplar, type Exemplar, type SightingRecord, type StoredIdentity, type StoredSighting } from '../src/gallery/records.js';

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

test('half-precision vector bytes: IEEE binary16 little endian, rounded to nearest even', () => {
  const halves = (...values: number[]) => Array.from(new Uint16Array(halfVectorBytes(Float32Array.from(values)).buffer));
  // 1 = 0x3C00, -2 = 0xC000, 0.1 → 0x2E66 (0.0999755859375), largest finite 65504 = 0x7BFF, smallest subnormal 2^-24 = 0x0001.
  assert.deepEqual(halves(1, -2, 0.1, 65504, 2 ** -24, 0), [0x3c00, 0xc000, 0x2e66, 0x7bff, 0x0001, 0]);
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: to the even one (1); 1 + 3·2^-11 to 1 + 2^-9.
  assert.deepEqual(halves(1 + 2 ** -11, 1 + 3 * 2 ** -11), [0x3c00, 0x3c02]);
  // Rounding into infinity and in the subnormal range: 65520 is halfway to 65536 (inf), 2^-25 halfway to 0.
  assert.deepEqual(halves(65519, 65520, 2 ** -25, 3 * 2 ** -25, -Infinity), [0x7bff, 0x7c00, 0x0000, 0x0002, 0xfc00]);
  assert.deepEqual(Array.from(vectorFromHalfBytes(Uint8Array.of(0x66, 0x2e, 0x00, 0xc0))), [0.0999755859375, -2]);
  // Every one of the 65536 patterns reads as its value and writes back to itself (NaNs stay NaN).
  const every = new Uint16Array(65536).map((_, bits) => bits);
  const values = vectorFromHalfBytes(new Uint8Array(every.buffer));
  assert.equal(values[0x3555], 0.333251953125);
  assert.equal(values[0x8001], -(2 ** -24));
  const again = new Uint16Array(halfVectorBytes(values).buffer);
  const mismatches = every.filter((bits) => (Number.isNaN(values[bits]) ? !Number.isNaN(values[again[bits]!]) : again[bits] !== bits));
  assert.deepEqual(Array.from(mismatches), []);
  assert.throws(() => vectorFromHalfBytes(new Uint8Array(3)), /3 bytes, not a multiple of 2/);
});

test('a sighting is stored with its embedding in half precision; one stored in float32 before reads as it was', () => {
  const record: SightingRecord = {
    cameraId: 'A', trackId: 1, objectClass: 'person', firstSeenAt: 1, lastSeenAt: 2, pts: 0.5, box: { x1: 0, y1: 0, x2: 1, y2: 1 }, quality: 0.5,
    identityId: 'person-000001',
    embedding: Float32Array.of(0.6, 0.8),
    decision: { eventId: 'e', outcome: 'new-identity', candidates: 0, decidedAt: 2 },
  };
  const stored = encodeSighting(record);
  assert.equal(stored.half, true);
  assert.deepEqual(Array.from(stored.embedding), [0xcd, 0x38, 0x66, 0x3a]);
  assert.deepEqual({ ...decodeSighting(stored), embedding: Array.from(decodeSighting(stored).embedding) }, { ...record, embedding: [0.60009765625, 0.7998046875] });
  const { half: _half, ...legacy } = { ...stored, embedding: vectorBytes(record.embedding) } satisfies StoredSighting;
  assert.deepEqual(decodeSighting(legacy), record);
});
