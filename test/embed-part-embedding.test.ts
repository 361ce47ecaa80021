import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cropParts, layoutOf, mergedParts, momentumParts, partAdjustedScore, partSimilarity, trackParts } from '../src/embed/part-embedding.js';

const close = (actual: ArrayLike<number> | number, expected: number[] | number, message?: string) => {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = typeof expected === 'number' ? [expected] : expected;
  assert.equal(a.length, e.length, message);
  a.forEach((v, i) => assert.ok(Math.abs(v - e[i]!) < 1e-5, `${message ?? ''} [${a}] vs [${e}]`));
};
const parts = (features: number[], visibility: number[]) => ({ features: Float32Array.from(features), visibility: Float32Array.from(visibility) });

test("a crop's parts: each normalised on its own, visibilities clamped to [0, 1] (NaN is hidden)", () => {
  const crop = cropParts(Float32Array.of(3, 4, 0, -2), Float32Array.of(1.5, NaN), { count: 2, dim: 2 });
  close(crop.features, [0.6, 0.8, 0, -1]);
  close(crop.visibility, [1, 0]);
  assert.deepEqual(layoutOf(crop), { count: 2, dim: 2 });
});

test("a track's parts weigh each crop by quality × the part's visibility; its visibility is the quality-weighted mean", () => {
  // Part 0: 1·1·(1,0) + 0.5·1·(0,1) = (1, 0.5) → (0.894427, 0.447214); part 1: only the first crop
  // shows it, (0, 1). Visibility: (1·1 + 0.5·1)/1.5 = 1 and (1·0.5 + 0.5·0)/1.5 = 1/3.
  const track = trackParts(
    [
      { parts: parts([1, 0, 0, 1], [1, 0.5]), quality: 1 },
      { parts: parts([0, 1, 1, 0], [1, 0]), quality: 0.5 },
    ],
    { count: 2, dim: 2 },
  );
  close(track.features, [0.894427, 0.447214, 0, 1]);
  close(track.visibility, [1, 1 / 3]);
  // A part no crop showed stays zero (it cannot vote in a comparison).
  close(trackParts([{ parts: parts([1, 0, 0, 1], [1, 0]), quality: 1 }], { count: 2, dim: 2 }).features, [1, 0, 0, 0]);
});

test("an identity's parts move by momentum in proportion to each part's visibility; a hidden part stays", () => {
  // m = 0.8. Part 0 fully seen: m₀ = 1 − 0.2·1 = 0.8, 0.8·(1,0) + 0.2·(0,1) → (0.970143, 0.242536),
  // V₀ = 0.8·0.5 + 0.2 = 0.6. Part 1 half seen: m₁ = 1 − 0.2·0.5 = 0.9, (0.9, 0.1) → (0.993884, 0.110432), V₁ = 0.9·0.2 + 0.1 = 0.28.
  const current = parts([1, 0, 1, 0], [0.5, 0.2]);
  const moved = momentumParts(current, parts([0, 1, 0, 1], [1, 0.5]), 0.8, { count: 2, dim: 2 });
  close(moved.features, [0.970143, 0.242536, 0.993884, 0.110432]);
  close(moved.visibility, [0.6, 0.28]);
  const unseen = momentumParts(current, parts([0, 1, 0, 1], [0, 0]), 0.8, { count: 2, dim: 2 });
  close(unseen.features, [1, 0, 1, 0]);
  close(unseen.visibility, [0.5, 0.2]);
});

test('merged identities: parts weighted by count × visibility, visibility by count', () => {
  // 3·1·(1,0) + 1·0.5·(0,1) = (3, 0.5) → (0.986394, 0.164399); visibility (3·1 + 1·0.5)/4 = 0.875.
  const merged = mergedParts(
    [
      { parts: parts([1, 0], [1]), count: 3 },
      { parts: parts([0, 1], [0.5]), count: 1 },
    ],
    { count: 1, dim: 2 },
  );
  close(merged.features, [0.986394, 0.164399]);
  close(merged.visibility, 0.875);
});

test('similarity over mutually visible parts, and the score it adjusts', () => {
  // Weights min(Va, Vb) = (0.5, 0.2, 0); cosines 0.6 and 1 (part 2 is hidden on a, so not compared):
  // (0.5·0.6 + 0.2·1)/0.7 = 0.714286, coverage 0.7/3.
  const a = parts([1, 0, 0, 1, 1, 0], [1, 0.2, 0]);
  const b = parts([0.6, 0.8, 0, 1, 0, 1], [0.5, 1, 1]);
  const similarity = partSimilarity(a, b, { count: 3, dim: 2 });
  close(similarity.similarity, 0.714286);
  close(similarity.coverage, 0.7 / 3);
  // 0.3 + 0.5 · 0.233333 · (0.714286 − 0.4) = 0.336667
  close(partAdjustedScore(0.3, 0.4, similarity, 0.5), 0.336667);
  // Nothing mutually visible: no part evidence, the score stays.
  const none = partSimilarity(parts([1, 0], [1]), parts([1, 0], [0]), { count: 1, dim: 2 });
  assert.deepEqual(none, { similarity: 0, coverage: 0 });
  assert.equal(partAdjustedScore(0.3, 0.4, none, 0.5), 0.3);
});
