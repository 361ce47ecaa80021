/**
 * The entropy confidence of a decision (DESIGN seed 003); the momentum update of the cluster
 * memory (seed 000) is in gallery/records.ts, where identities are kept.
 */

export interface EntropyConfidence {
  /** H(p) / log(n), in [0, 1]; 0 when there is only one option. */
  normalisedEntropy: number;
  /** 1 − normalisedEntropy. */
  confidence: number;
}

/**
 * Softmax p over [s_1 … s_k, threshold] / τ — the candidates plus a "none of them" option
 * at the threshold similarity — and its normalised entropy H(p)/log(n), n = k + 1.
 * A decision is confident when one option (a candidate or "none") takes the mass.
 */
export function entropyConfidence(similarities: readonly number[], threshold: number, temperature: number): EntropyConfidence {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const n = similarities.length + 1;
  if (n === 1) return { normalisedEntropy: 0, confidence: 1 };
  // Stable softmax: shift the logits by the largest; H = log Z − Σ w·z / Z with w = exp(z − top).
  let top = threshold;
  for (const similarity of similarities) if (similarity > top) top = similarity;
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    const shifted = ((i < similarities.length ? similarities[i]! : threshold) - top) / temperature;
    const weight = Math.exp(shifted);
    total += weight;
    weighted += weight * shifted;
  }
  const entropy = Math.log(total) - weighted / total;
  const normalisedEntropy = Math.min(1, Math.max(0, entropy / Math.log(n)));
  return { normalisedEntropy, confidence: 1 - normalisedEntropy };
}
