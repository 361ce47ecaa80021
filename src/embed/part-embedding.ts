/**
 * Part embeddings with visibility (DESIGN seed 001): re-ID models that describe a crop by
 * several body or vehicle parts (horizontal stripes, keypoint regions, learnt part prototypes)
 * besides the global vector, each with a visibility score, let two crops be compared on what
 * both of them show. An occluder (a pillar, another person, the frame edge) then lowers the
 * visibility of the parts it hides instead of corrupting the comparison.
 *
 * The maths here serves every stage: a crop's parts (normalised), a track's (from its best
 * crops), an identity's (momentum over its tracks, merged on merges) and the similarity of two
 * part sets over their mutually visible parts.
 */

/** How a model lays out its parts: `count` parts of `dim` values each. */
export interface PartLayout {
  count: number;
  dim: number;
}

export interface PartEmbedding {
  /** `count × dim`, row-major; each part unit length, or all zeros for a part never seen. */
  features: Float32Array;
  /** One score per part in [0, 1]: how much of the part the crops showed. */
  visibility: Float32Array;
}

/** The layout a part set has: one visibility per part. */
export function layoutOf(parts: PartEmbedding): PartLayout {
  const count = parts.visibility.length;
  return { count, dim: count === 0 ? 0 : parts.features.length / count };
}

/** A crop's parts as the model gave them: each part normalised, visibilities clamped to [0, 1] (NaN counts as hidden). */
export function cropParts(features: Float32Array, visibility: Float32Array, layout: PartLayout): PartEmbedding {
  const parts = { features: Float32Array.from(features), visibility: Float32Array.from(visibility, clampUnit) };
  for (let k = 0; k < layout.count; k++) normalisePart(parts.features, k, layout.dim);
  return parts;
}

/**
 * A track's parts from its crops: each part the mean of the crops' parts weighted by crop
 * quality × the part's visibility in that crop (renormalised), and its visibility the
 * quality-weighted mean of the crops' visibilities. A part no crop showed stays zero.
 */
export function trackParts(crops: readonly { parts: PartEmbedding; quality: number }[], layout: PartLayout, minWeight = 1e-3): PartEmbedding {
  const features = new Float32Array(layout.count * layout.dim);
  const visibility = new Float32Array(layout.count);
  let totalQuality = 0;
  for (const { parts, quality } of crops) {
    const q = Math.max(quality, minWeight);
    totalQuality += q;
    for (let k = 0; k < layout.count; k++) {
      const weight = q * parts.visibility[k]!;
      visibility[k]! += q * parts.visibility[k]!;
      if (weight === 0) continue;
      for (let j = 0; j < layout.dim; j++) features[k * layout.dim + j]! += weight * parts.features[k * layout.dim + j]!;
    }
  }
  for (let k = 0; k < layout.count; k++) {
    visibility[k] = totalQuality > 0 ? visibility[k]! / totalQuality : 0;
    normalisePart(features, k, layout.dim);
  }
  return { features, visibility };
}

/**
 * An identity's parts after one more track, by momentum as its global appearance (seed 000),
 * part by part in proportion to how visible the part was: c_k ← normalise(m_k·c_k + (1 − m_k)·f_k)
 * with m_k = 1 − (1 − m)·v_k, so a hidden part leaves the identity's as it was; the part's
 * visibility follows V_k ← m_k·V_k + (1 − m_k)·1 when the part was seen (v_k > 0), else stays.
 */
export function momentumParts(current: PartEmbedding, next: PartEmbedding, momentum: number, layout: PartLayout): PartEmbedding {
  const features = Float32Array.from(current.features);
  const visibility = Float32Array.from(current.visibility);
  for (let k = 0; k < layout.count; k++) {
    const v = next.visibility[k]!;
    if (v === 0) continue;
    const m = 1 - (1 - momentum) * v;
    for (let j = 0; j < layout.dim; j++) {
      const i = k * layout.dim + j;
      features[i] = m * features[i]! + (1 - m) * next.features[i]!;
    }
    normalisePart(features, k, layout.dim);
    visibility[k] = m * visibility[k]! + (1 - m);
  }
  return { features, visibility };
}

/** Identities merged: each part the count- and visibility-weighted mean (renormalised), visibility the count-weighted mean. */
export function mergedParts(list: readonly { parts: PartEmbedding; count: number }[], layout: PartLayout): PartEmbedding {
  return trackParts(
    list.map(({ parts, count }) => ({ parts, quality: Math.max(1, count) })),
    layout,
  );
}

export interface PartSimilarity {
  /** Σ_k w_k·cos(a_k, b_k) / Σ_k w_k over w_k = min(visibility a_k, visibility b_k); 0 when nothing is mutually visible. */
  similarity: number;
  /** Σ_k w_k / count: how much of the object both show, in [0, 1]. */
  coverage: number;
}

/** Similarity of two part sets over their mutually visible parts. */
export function partSimilarity(a: PartEmbedding, b: PartEmbedding, layout: PartLayout): PartSimilarity {
  let weighted = 0;
  let total = 0;
  for (let k = 0; k < layout.count; k++) {
    const w = Math.min(a.visibility[k]!, b.visibility[k]!);
    if (w <= 0) continue;
    let dot = 0;
    for (let j = 0; j < layout.dim; j++) dot += a.features[k * layout.dim + j]! * b.features[k * layout.dim + j]!;
    weighted += w * dot;
    total += w;
  }
  return { similarity: total > 0 ? weighted / total : 0, coverage: total / layout.count };
}

/**
 * The matcher's score with parts: s + weight·coverage·(p − g), where s is the score in the
 * matching space (camera-centred, adapted, calibrated later), g the raw cosine of the two
 * global vectors and p the parts' raw similarity over what both show. p and g are both raw
 * cosines of the same crops, so their difference says how much more (or less) alike the
 * mutually visible parts are than the whole crops (an occluder lowers g, not p), whatever the
 * matching space did to the scale of s. Without mutually visible parts the score is s.
 */
export function partAdjustedScore(score: number, globalRaw: number, parts: PartSimilarity, weight: number): number {
  return score + weight * parts.coverage * (parts.similarity - globalRaw);
}

function normalisePart(features: Float32Array, part: number, dim: number): void {
  let norm = 0;
  const start = part * dim;
  for (let j = start; j < start + dim; j++) norm += features[j]! * features[j]!;
  if (norm === 0) return;
  const scale = 1 / Math.sqrt(norm);
  for (let j = start; j < start + dim; j++) features[j]! *= scale;
}

function clampUnit(value: number): number {
  return value > 0 ? (value < 1 ? value : 1) : 0;
}
