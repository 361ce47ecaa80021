import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRanking, scoreRanking, type LabelledEmbedding } from '../src/eval/reid-metrics.js';

const at = (identity: number, degrees: number): LabelledEmbedding => {
  const r = (degrees * Math.PI) / 180;
  return { identity, embedding: Float32Array.from([Math.cos(r), Math.sin(r)]) };
};

test('AP of a ranked list: mean precision at each true match', () => {
  assert.deepEqual(scoreRanking([false, true, false, true]), { ap: (1 / 2 + 2 / 4) / 2, firstMatchRank: 2 });
  const r = scoreRanking([true, false, true]);
  assert.ok(r);
  assert.ok(Math.abs(r.ap - (1 + 2 / 3) / 2) < 1e-12);
  assert.equal(r.firstMatchRank, 1);
  assert.deepEqual(scoreRanking([true]), { ap: 1, firstMatchRank: 1 });
  assert.equal(scoreRanking([false, false]), undefined);
});

test('mAP and CMC over hand-ranked 2-D embeddings; queries without a true match are left out', () => {
  // Gallery directions (degrees): g0 id1 @10, g1 id2 @5, g2 id1 @60, g3 id3 @30.
  const gallery = [at(1, 10), at(2, 5), at(1, 60), at(3, 30)];
  const queries = [
    // @0: g1(id2) .996, g0(id1) .985, g3(id3) .866, g2(id1) .5 → F T F T: AP 0.5, first match at 2.
    at(1, 0),
    // @40: g3(id3) .985, g2 .940, g0 .866, g1 .819 → T F F F: AP 1, first match at 1.
    at(3, 40),
    // id 4 is not in the gallery: not scored.
    at(4, 20),
  ];
  const result = evaluateRanking(queries, gallery, 3);
  assert.equal(result.queries, 2);
  assert.equal(result.gallery, 4);
  assert.equal(result.mAP, 0.75);
  assert.deepEqual(result.cmc, [0.5, 1, 1]);
});

test('ties keep gallery order; empty inputs give zeros', () => {
  // Both gallery items are identical to the query; the true match comes second in gallery order.
  const tie = evaluateRanking([at(1, 0)], [at(2, 0), at(1, 0)], 2);
  assert.deepEqual(tie.cmc, [0, 1]);
  assert.equal(tie.mAP, 0.5);
  assert.deepEqual(evaluateRanking([], [at(1, 0)], 2), { mAP: 0, cmc: [0, 0], queries: 0, gallery: 1 });
});
