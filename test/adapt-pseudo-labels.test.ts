import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beatsActive, holdOut, scoreProjection, adaptedProjection, type AdapterScore } from '../src/adapt/adapter-check.js';
import { rows } from '../src/adapt/losses.js';
import { clusterTracks, crossCameraPairs, entropySplit, identitySampling, type TrackSpan } from '../src/adapt/pseudo-labels.js';
import { normalised } from '../src/core/vectors.js';

const unitRows = (vectors: number[][]) => {
  const d = vectors[0]!.length;
  const out = rows(vectors.length, d);
  vectors.forEach((v, i) => out.data.set(normalised(Float32Array.from(v)), i * d));
  return out;
};
const span = (cameraId: string, startMs: number, endMs: number): TrackSpan => ({ cameraId, startMs, endMs });

test('clustering joins mutual nearest tracks across cameras, never two tracks seen at the same time on one camera', () => {
  // Person 1 on A then B; person 2 on A then B; tracks 4 and 5 look alike but overlap on camera A.
  const features = unitRows([
    [1, 0.1, 0, 0], // 0: A, person 1
    [0.95, 0.15, 0.05, 0], // 1: B, person 1
    [0, 1, 0.1, 0], // 2: A, person 2
    [0.05, 0.95, 0.1, 0], // 3: B, person 2
    [0, 0, 1, 0.1], // 4: A
    [0, 0, 0.98, 0.12], // 5: A, at the same time as 4
  ]);
  const spans = [span('A', 0, 10), span('B', 20, 30), span('A', 40, 50), span('B', 60, 70), span('A', 100, 120), span('A', 110, 130)];
  const labels = clusterTracks(features, spans, { similarity: 0.2 });
  assert.equal(labels[0], labels[1]);
  assert.equal(labels[2], labels[3]);
  assert.notEqual(labels[0], labels[2]);
  assert.notEqual(labels[4], labels[5], 'two tracks at the same time on one camera are two people');
  assert.deepEqual(crossCameraPairs(features, spans, 0.2), [[0, 1], [2, 3]]);
});

test('entropy split: the lower-entropy half of a cluster forms its prototype, the rest take the nearest prototype at the low weight', () => {
  // Cluster 0 holds two tracks near e₀ and one halfway to e₁ (higher entropy); cluster 1 one track on e₁.
  const features = unitRows([[1, 0], [0.99, 0.14], [0.6, 0.8], [0, 1]]);
  const split = entropySplit(features, Int32Array.from([0, 0, 0, 1]), { temperature: 0.1, lowConfidenceWeight: 0.5, enabled: true });
  assert.equal(split.confident, 3);
  assert.deepEqual([...split.weights], [1, 1, 0.5, 1]);
  // The halfway track is nearer e₁'s prototype (0.8) than cluster 0's confident mean (≈ 0.67): it moves.
  assert.deepEqual([...split.labels], [0, 0, 1, 1]);
  const off = entropySplit(features, Int32Array.from([0, 0, 0, 1]), { temperature: 0.1, lowConfidenceWeight: 0.5, enabled: false });
  assert.deepEqual([...off.labels], [0, 0, 0, 1]);
  assert.deepEqual([...off.weights], [1, 1, 1, 1]);
});

test('hard-identity sampling: p_i ∝ max_{n≠i} cos(w_i, w_n) (seed 002), with a floor', () => {
  const prototypes = unitRows([[1, 0], [0.8, 0.6], [-1, 0]]);
  const p = identitySampling(prototypes);
  // Difficulties 0.8, 0.8, max(−0.8, 0) → 0, each + 0.001.
  const total = 0.801 * 2 + 0.001;
  assert.deepEqual([...p].map((x) => Number(x.toFixed(6))), [0.801 / total, 0.801 / total, 0.001 / total].map((x) => Number(x.toFixed(6))));
});

test('held-out split by key is stable under reordering; the check scores halves, mixing and pairs on known cases', () => {
  const keys = Array.from({ length: 30 }, (_, i) => ({ key: `cam#${i}` }));
  const a = holdOut(keys, 3).heldOut.map((t) => t.key);
  const b = holdOut([...keys].reverse(), 3).heldOut.map((t) => t.key).reverse();
  assert.deepEqual(a, b);
  assert.ok(a.length > 0 && a.length < 30);

  const e = (v: number[]) => normalised(Float32Array.from(v));
  // Two people, each seen by A and B; halves of each track close to it.
  const tracks = [
    { key: 'A#1', cameraId: 'A', startMs: 0, endMs: 1, embedding: e([1, 0, 0.1]), halves: [e([1, 0.05, 0.1]), e([1, -0.05, 0.1])] as [Float32Array, Float32Array] },
    { key: 'B#1', cameraId: 'B', startMs: 2, endMs: 3, embedding: e([1, 0, -0.1]), halves: [e([1, 0.05, -0.1]), e([1, -0.05, -0.1])] as [Float32Array, Float32Array] },
    { key: 'A#2', cameraId: 'A', startMs: 4, endMs: 5, embedding: e([0, 1, 0.1]) },
    { key: 'B#2', cameraId: 'B', startMs: 6, endMs: 7, embedding: e([0, 1, -0.1]) },
  ];
  const plain = adaptedProjection(() => undefined);
  const score = scoreProjection(tracks, plain, plain, 0);
  // Each track's nearest (of 3) are: its person on the other camera, then the other person's two tracks (one per camera).
  assert.equal(score.cameraMixing, (2 * 4) / (3 * 4));
  assert.equal(score.pairAgreement, 1);
  assert.equal(score.tracks.pairs, 2);
  // A#1's first half finds its own second half before B#1's (tie-free here).
  assert.ok(score.selfConsistency > 0.5 && score.selfConsistency <= 1);
});

test('activation rule: more camera mixing by the margin, at most the tolerance lost on self-consistency and pair agreement', () => {
  const score = (cameraMixing: number, selfConsistency: number, pairAgreement: number): AdapterScore => ({ cameraMixing, selfConsistency, pairAgreement, tracks: { all: 10, halves: 10, pairs: 3 } });
  const active = score(0.2, 0.9, 1);
  const rule = { margin: 0.02, tolerance: 0.2 };
  assert.equal(beatsActive(score(0.3, 0.85, 0.9), active, rule), true);
  assert.equal(beatsActive(score(0.21, 0.95, 1), active, rule), false, 'mixing rose less than the margin');
  assert.equal(beatsActive(score(0.5, 0.6, 1), active, rule), false, 'people blurred together');
  assert.equal(beatsActive(score(0.5, 0.95, 0.7), active, rule), false, 'confident pairs torn apart');
});
