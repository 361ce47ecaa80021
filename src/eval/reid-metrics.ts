/**
 * Re-ID ranking metrics with the standard definitions (as in Market-1501 / torchreid):
 * each query ranks the whole gallery by cosine similarity, best first.
 *   AP(query)   = mean over the gallery's true matches of precision at the rank of each match
 *   mAP         = mean AP over the queries that have at least one true match in the gallery
 *   CMC rank-k  = fraction of those queries whose first true match is within the top k
 * Queries without any true match in the gallery are left out of both (they cannot be scored).
 * The gallery must not contain the query itself; callers build disjoint sets.
 */

import { dot } from '../core/vectors.js';

export interface LabelledEmbedding {
  identity: number;
  /** L2-normalised, so the dot product is the cosine similarity. */
  embedding: Float32Array;
}

export interface RankingResult {
  mAP: number;
  /** cmc[k-1] = CMC at rank k, for k = 1..maxRank. */
  cmc: number[];
  /** Queries scored (with at least one true match in the gallery). */
  queries: number;
  gallery: number;
}

/**
 * Scores one ranked list of match flags (true = same identity as the query), best first.
 * Returns undefined when the list holds no true match.
 */
export function scoreRanking(matches: readonly boolean[]): { ap: number; firstMatchRank: number } | undefined {
  let found = 0;
  let precisionSum = 0;
  let firstMatchRank = 0;
  matches.forEach((isMatch, index) => {
    if (!isMatch) return;
    found += 1;
    precisionSum += found / (index + 1);
    if (firstMatchRank === 0) firstMatchRank = index + 1;
  });
  return found === 0 ? undefined : { ap: precisionSum / found, firstMatchRank };
}

/**
 * Ranks the gallery for every query and aggregates mAP and CMC up to `maxRank`.
 * Ties in similarity keep gallery order (a stable sort), so results are deterministic.
 */
export function evaluateRanking(queries: readonly LabelledEmbedding[], gallery: readonly LabelledEmbedding[], maxRank = 10): RankingResult {
  const cmcHits = new Array<number>(maxRank).fill(0);
  let apSum = 0;
  let scored = 0;
  const order = gallery.map((_, index) => index);
  const similarity = new Float64Array(gallery.length);
  for (const query of queries) {
    gallery.forEach((item, index) => (similarity[index] = dot(query.embedding, item.embedding)));
    order.sort((a, b) => similarity[b]! - similarity[a]! || a - b);
    const score = scoreRanking(order.map((index) => gallery[index]!.identity === query.identity));
    if (!score) continue;
    scored += 1;
    apSum += score.ap;
    for (let k = score.firstMatchRank; k <= maxRank; k++) cmcHits[k - 1]! += 1;
  }
  return {
    mAP: scored === 0 ? 0 : apSum / scored,
    cmc: cmcHits.map((hits) => (scored === 0 ? 0 : hits / scored)),
    queries: scored,
    gallery: gallery.length,
  };
}
