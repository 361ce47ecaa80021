/**
 * Pseudo-identities from the site's unlabelled tracks. One track is one person (its crops are
 * free positives); tracks across cameras are grouped by similarity under the constraint that
 * two tracks on one camera at the same time are two people; each track's label then gets a
 * weight from the entropy split of DESIGN seed 003, and each pseudo-identity a difficulty
 * (seed 002) that drives hard-identity sampling.
 */
import { median } from '../core/statistics.js';
import { calibratedScore } from '../features/score-calibration.js';
import { rowDot, rows, softmaxInPlace, type Rows } from './losses.js';

/** When and where a track was seen: what the co-occurrence constraint needs. */
export interface TrackSpan {
  cameraId: string;
  startMs: number;
  endMs: number;
}

export interface ClusterOptions {
  /** Two groups join when the mean calibrated cosine between their tracks is at least this. */
  similarity: number;
}

/** Cosine of row i of a and row j of b (unit rows). */
const dotRows = (a: Rows, i: number, b: Rows, j: number) => rowDot(a.data, i * a.dimension, b.data, j * b.dimension, a.dimension);

const overlaps = (a: TrackSpan, b: TrackSpan) => a.cameraId === b.cameraId && a.startMs <= b.endMs && b.startMs <= a.endMs;

/**
 * Average-linkage grouping of unit track features with cannot-link constraints. Candidate
 * links (each track to its `neighbours` most similar) are taken from the most similar down;
 * two groups join when the mean cosine over all their cross pairs (S_a·S_b / (n_a·n_b), S the
 * sum of a group's unit features) is ≥ `similarity` and no track of one co-occurs with a track
 * of the other on one camera. Returns a label per track, 0..K−1 in order of first track.
 */
export function clusterTracks(features: Rows, spans: readonly TrackSpan[], options: ClusterOptions): Int32Array {
  const n = features.count;
  if (spans.length !== n) throw new RangeError(`${n} features but ${spans.length} track spans`);
  const similarity = calibratedSimilarities(features, spans);
  // Each track's nearest track on every camera (its own included, never one seen at the same time).
  const cameraIds = [...new Set(spans.map((span) => span.cameraId))];
  const nearest = spans.map((span, i) => {
    const best = new Map<string, number>();
    for (let j = 0; j < n; j++) {
      if (j === i || overlaps(span, spans[j]!)) continue;
      const camera = spans[j]!.cameraId;
      const current = best.get(camera);
      if (current === undefined || similarity(i, j) > similarity(i, current)) best.set(camera, j);
    }
    return best;
  });
  // Mutual links only: j is i's nearest on j's camera and i is j's nearest on i's camera.
  const links: { a: number; b: number; similarity: number }[] = [];
  for (let i = 0; i < n; i++) {
    for (const camera of cameraIds) {
      const j = nearest[i]!.get(camera);
      if (j === undefined || j < i || nearest[j]!.get(spans[i]!.cameraId) !== i || similarity(i, j) < options.similarity) continue;
      links.push({ a: i, b: j, similarity: similarity(i, j) });
    }
  }
  links.sort((x, y) => y.similarity - x.similarity || x.a - y.a || x.b - y.b);

  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const members = new Map<number, number[]>(Array.from({ length: n }, (_, i) => [i, [i]]));
  for (const { a, b } of links) {
    const rootA = find(a);
    const rootB = find(b);
    if (rootA === rootB) continue;
    const groupA = members.get(rootA)!;
    const groupB = members.get(rootB)!;
    let cross = 0;
    for (const i of groupA) for (const j of groupB) cross += similarity(i, j);
    if (cross / (groupA.length * groupB.length) < options.similarity) continue;
    if (groupA.some((i) => groupB.some((j) => overlaps(spans[i]!, spans[j]!)))) continue;
    parent[rootB] = rootA;
    groupA.push(...groupB);
    members.delete(rootB);
  }
  const labels = new Int32Array(n);
  const labelOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const root = find(i);
    if (!labelOf.has(root)) labelOf.set(root, labelOf.size);
    labels[i] = labelOf.get(root)!;
  }
  return labels;
}

export interface PseudoLabels {
  labels: Int32Array;
  /** Confidence weight of each label: 1 for the confident part, lower for the rest. */
  weights: Float64Array;
  /** Unit prototype of each pseudo-identity (K × d), from its confident tracks. */
  prototypes: Rows;
  /** Tracks in the confident part. */
  confident: number;
}

export interface EntropySplitOptions {
  /** Temperature of the softmax over prototypes whose entropy is each track's uncertainty. */
  temperature: number;
  /** Weight of a label from the less confident part. */
  lowConfidenceWeight: number;
  /** Off: every track keeps its cluster with weight 1 (the ablation). */
  enabled: boolean;
}

/** Unit mean of the given rows of `features`. */
function unitMean(features: Rows, indices: readonly number[], out: Float64Array, offset: number): void {
  const d = features.dimension;
  for (let t = 0; t < d; t++) out[offset + t] = 0;
  for (const i of indices) for (let t = 0; t < d; t++) out[offset + t]! += features.data[i * d + t]!;
  let norm = 0;
  for (let t = 0; t < d; t++) norm += out[offset + t]! ** 2;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let t = 0; t < d; t++) out[offset + t]! /= norm;
}

/**
 * Entropy split (seed 003): each track's entropy H over softmax_k(z·p_k/τ) against the
 * clusters' prototypes; within each cluster the lower-entropy half (rounded up, so a single
 * track is confident) forms the prototype; each other track takes the label of the nearest
 * such prototype, with the lower weight.
 */
export function entropySplit(features: Rows, clusters: Int32Array, options: EntropySplitOptions): PseudoLabels {
  const n = features.count;
  const d = features.dimension;
  let k = 0;
  for (const label of clusters) k = Math.max(k, label + 1);
  const groups: number[][] = Array.from({ length: k }, () => []);
  clusters.forEach((label, i) => groups[label]!.push(i));
  const prototypes = rows(k, d);
  groups.forEach((group, label) => unitMean(features, group, prototypes.data, label * d));
  if (!options.enabled) return { labels: Int32Array.from(clusters), weights: new Float64Array(n).fill(1), prototypes, confident: n };

  const entropy = new Float64Array(n);
  const logits = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) logits[c] = dotRows(features, i, prototypes, c) / options.temperature;
    softmaxInPlace(logits);
    let h = 0;
    for (const p of logits) if (p > 0) h -= p * Math.log(p);
    entropy[i] = h;
  }
  const confidentSet = new Uint8Array(n);
  groups.forEach((group, label) => {
    const ordered = [...group].sort((a, b) => entropy[a]! - entropy[b]! || a - b);
    const kept = ordered.slice(0, Math.ceil(ordered.length / 2));
    for (const i of kept) confidentSet[i] = 1;
    unitMean(features, kept, prototypes.data, label * d);
  });
  const labels = new Int32Array(n);
  const weights = new Float64Array(n);
  let confident = 0;
  for (let i = 0; i < n; i++) {
    if (confidentSet[i]) {
      labels[i] = clusters[i]!;
      weights[i] = 1;
      confident += 1;
      continue;
    }
    let best = 0;
    for (let c = 1; c < k; c++) if (dotRows(features, i, prototypes, c) > dotRows(features, i, prototypes, best)) best = c;
    labels[i] = best;
    weights[i] = options.lowConfidenceWeight;
  }
  return { labels, weights, prototypes, confident };
}

/**
 * Seed 002 on the pseudo-identities: with W the unit prototypes (row-normalised), D = W·Wᵀ,
 * difficulty c_i = max_{n≠i} D(i, n) and sampling probability p_i = c_i / Σ_j c_j. Negative
 * difficulties count as 0, and every identity keeps a small floor so none is never drawn.
 */
export function identitySampling(prototypes: Rows): Float64Array {
  const k = prototypes.count;
  const difficulty = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (j !== i) max = Math.max(max, dotRows(prototypes, i, prototypes, j));
    difficulty[i] = Math.max(Number.isFinite(max) ? max : 0, 0) + SAMPLING_FLOOR;
  }
  const total = difficulty.reduce((sum, value) => sum + value, 0);
  return difficulty.map((value) => value / total);
}

const SAMPLING_FLOOR = 1e-3;

/**
 * Cosine similarities calibrated per camera pair as the matcher does: (s − m)/(1 − m), m the
 * median similarity of that pair of cameras. A shifted camera lowers every similarity to its
 * tracks; uncalibrated, no pseudo-identity would ever span it.
 */
function calibratedSimilarities(features: Rows, spans: readonly TrackSpan[]): (i: number, j: number) => number {
  const n = features.count;
  const cameraIds = [...new Set(spans.map((span) => span.cameraId))];
  const cameraOf = Int32Array.from(spans, (span) => cameraIds.indexOf(span.cameraId));
  const c = cameraIds.length;
  const pairOf = (i: number, j: number) => Math.min(cameraOf[i]!, cameraOf[j]!) * c + Math.max(cameraOf[i]!, cameraOf[j]!);
  // Float32: at the 5000 tracks the trainer takes, the n × n matrix is 100 MB.
  const similarities = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) similarities[i * n + j] = similarities[j * n + i] = dotRows(features, i, features, j);
  // Medians from an even sample of each camera pair's similarities (every stride-th pair).
  const stride = Math.max(1, Math.floor((n * (n - 1)) / 2 / MEDIAN_SAMPLES));
  const samples: number[][] = Array.from({ length: c * c }, () => []);
  let index = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (index++ % stride === 0) samples[pairOf(i, j)]!.push(similarities[i * n + j]!);
  const medians = samples.map((values) => (values.length > 0 ? median(values) : 0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const m = medians[pairOf(i, j)]!;
      similarities[i * n + j] = i === j ? 1 : calibratedScore(similarities[i * n + j]!, m);
    }
  }
  return (i, j) => similarities[i * n + j]!;
}

/** Similarities sampled for the camera pairs' medians. */
const MEDIAN_SAMPLES = 200_000;

/**
 * Confident cross-camera pseudo-pairs: tracks on two cameras that are each other's nearest
 * track on the other's camera, with a calibrated similarity of at least `similarity`. On PETS09
 * about half of these pairs are one person under the colour/blur shift, against 1 in 15 of
 * all cross-camera pairs.
 */
export function crossCameraPairs(features: Rows, spans: readonly TrackSpan[], similarity: number): [number, number][] {
  const n = features.count;
  const calibrated = calibratedSimilarities(features, spans);
  const nearestOn = (i: number, cameraId: string): number => {
    let best = -1;
    for (let j = 0; j < n; j++) if (spans[j]!.cameraId === cameraId && (best === -1 || calibrated(i, j) > calibrated(i, best))) best = j;
    return best;
  };
  const cameraIds = [...new Set(spans.map((span) => span.cameraId))];
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    for (const cameraId of cameraIds) {
      if (cameraId === spans[i]!.cameraId) continue;
      const j = nearestOn(i, cameraId);
      if (j > i && nearestOn(j, spans[i]!.cameraId) === i && calibrated(i, j) >= similarity) pairs.push([i, j]);
    }
  }
  return pairs;
}
