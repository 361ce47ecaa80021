/**
 * Judging an adapter without labels, on a held-out slice of the site's own tracks (never
 * trained on). Three figures, each for the candidate and for the active space:
 *
 * - camera mixing: the share of each track's nearest tracks (NEIGHBOURS of them) seen by
 *   another camera. A camera difference the features still carry keeps each camera's tracks
 *   among themselves (PETS09 left | right shifted: 0.14 centred, 0.36 once adapted);
 * - self-consistency: the first half of a track's crops, as a query among the second halves of
 *   every held-out track, should find its own (mean reciprocal rank); an adapter that blurs
 *   people together to mix cameras loses it;
 * - pair agreement: confident cross-camera pseudo-pairs found in the active space (mutual
 *   nearest tracks, pseudo-labels.ts) should stay each other's nearest (mean reciprocal rank
 *   of the partner among the tracks of its camera; 1 for the active space by construction).
 *
 * A candidate is activated when it mixes cameras more than the active space by a margin and
 * loses at most a tolerance on the other two. Measured on PETS09 (all four scenes, docs/
 * accuracy.md), this rule accepted the adapters that raised the cross-camera AUC and refused
 * those trained with L_c or L_align alone, which raise one figure by wrecking another.
 */
import { dot, normaliseInPlace } from '../core/vectors.js';
import { rows, type Rows } from './losses.js';
import { crossCameraPairs } from './pseudo-labels.js';
import type { AdaptationTrack } from './trainer.js';

/** The projection being judged: raw embedding of a camera → unit feature. */
export type Projection = (cameraId: string, raw: Float32Array) => Float32Array;

export interface AdapterScore {
  cameraMixing: number;
  selfConsistency: number;
  pairAgreement: number;
  /** Held-out tracks, those with halves, and the pseudo-pairs among them. */
  tracks: { all: number; halves: number; pairs: number };
}

/** The three figures in words, for logs and the CLI. */
export function describeScore(score: Pick<AdapterScore, 'cameraMixing' | 'selfConsistency' | 'pairAgreement'>): string {
  return `camera mixing ${score.cameraMixing.toFixed(3)}, self-consistency ${score.selfConsistency.toFixed(3)}, pair agreement ${score.pairAgreement.toFixed(3)}`;
}

/** Nearest tracks counted by camera mixing. */
const NEIGHBOURS = 5;

export interface ActivationRule {
  /** Camera mixing must rise by at least this much. */
  margin: number;
  /** Self-consistency and pair agreement may fall by at most this much. */
  tolerance: number;
}

/** Whether the candidate's figures beat the active ones under the rule (see the module comment). */
export function beatsActive(candidate: AdapterScore, active: AdapterScore, rule: ActivationRule): boolean {
  return (
    candidate.cameraMixing >= active.cameraMixing + rule.margin &&
    candidate.selfConsistency >= active.selfConsistency - rule.tolerance &&
    candidate.pairAgreement >= active.pairAgreement - rule.tolerance
  );
}

/** FNV-1a of the track key: which tracks are held out must not depend on their order. */
function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/** Splits tracks into training and held out: about one in `every` is held out, by key. */
export function holdOut<T extends Pick<AdaptationTrack, 'key'>>(tracks: readonly T[], every: number): { training: T[]; heldOut: T[] } {
  const training: T[] = [];
  const heldOut: T[] = [];
  for (const track of tracks) (keyHash(track.key) % every === 0 ? heldOut : training).push(track);
  return { training, heldOut };
}

/**
 * Scores a projection on held-out tracks (see the module comment). The pseudo-pairs are found
 * with `reference` (the active space), so candidate and active are judged on the same pairs.
 */
export function scoreProjection(tracks: readonly AdaptationTrack[], project: Projection, reference: Projection, pairSimilarity: number): AdapterScore {
  const withHalves = tracks.filter((track) => track.halves !== undefined);
  const queries = withHalves.map((track) => project(track.cameraId, track.halves![0]));
  const targets = withHalves.map((track) => project(track.cameraId, track.halves![1]));
  const selfConsistency = meanReciprocalRank(queries.map((query, i) => ({ query, own: i })), targets);

  const features = tracks.map((track) => project(track.cameraId, track.embedding));
  let mixed = 0;
  let counted = 0;
  features.forEach((feature, i) => {
    const nearest = features
      .map((other, j) => ({ j, similarity: j === i ? -Infinity : dot(feature, other) }))
      .sort((a, b) => b.similarity - a.similarity || a.j - b.j)
      .slice(0, Math.min(NEIGHBOURS, features.length - 1));
    counted += nearest.length;
    mixed += nearest.filter(({ j }) => tracks[j]!.cameraId !== tracks[i]!.cameraId).length;
  });
  const cameraMixing = counted > 0 ? mixed / counted : 0;

  const pairs = tracks.length > 1 ? crossCameraPairs(unitRows(tracks.map((track) => reference(track.cameraId, track.embedding))), tracks, pairSimilarity) : [];
  let reciprocalRanks = 0;
  for (const [a, b] of pairs) {
    // Each side of a pair queries the tracks of the other's camera.
    for (const [query, partner] of [[a, b], [b, a]] as const) {
      const own = dot(features[query]!, features[partner]!);
      const rank = 1 + tracks.filter((track, j) => j !== partner && track.cameraId === tracks[partner]!.cameraId && dot(features[query]!, features[j]!) > own).length;
      reciprocalRanks += 1 / rank;
    }
  }
  const pairAgreement = pairs.length > 0 ? reciprocalRanks / (2 * pairs.length) : 1;
  return { cameraMixing, selfConsistency, pairAgreement, tracks: { all: tracks.length, halves: withHalves.length, pairs: pairs.length } };
}

/** Mean over queries of 1 / the rank of the query's own target among all targets. */
function meanReciprocalRank(queries: readonly { query: Float32Array; own: number }[], targets: readonly Float32Array[]): number {
  if (queries.length === 0) return 0;
  let sum = 0;
  for (const { query, own } of queries) {
    const ownSimilarity = dot(query, targets[own]!);
    sum += 1 / (1 + targets.filter((target, j) => j !== own && dot(query, target) > ownSimilarity).length);
  }
  return sum / queries.length;
}

function unitRows(vectors: readonly Float32Array[]): Rows {
  const d = vectors[0]?.length ?? 0;
  const out = rows(vectors.length, d);
  vectors.forEach((vector, i) => out.data.set(vector, i * d));
  return out;
}

/** The matching space's projection with an optional adapter: normalise(A·(raw − μ_c)). */
export function adaptedProjection(offsetOf: (cameraId: string) => Float32Array | undefined, adapter?: { apply(x: Float32Array, out?: Float32Array): Float32Array }): Projection {
  return (cameraId, raw) => {
    const offset = offsetOf(cameraId);
    const centred = Float32Array.from(raw);
    if (offset !== undefined) for (let i = 0; i < centred.length; i++) centred[i]! -= offset[i]!;
    return normaliseInPlace(adapter ? adapter.apply(centred) : centred);
  };
}
