/**
 * The adaptation losses of DESIGN seed 000 (and the MMD of seed 004) with their gradients,
 * written out by hand and checked against finite differences in the tests. Every function
 * takes unit features z (B × d, row-major) and returns the loss with ∂loss/∂z of the same
 * shape; the trainer chains that through the normalisation and the adapter.
 *
 *   L_c = −Σ_i w_i log softmax_k(z_i·c_k/τ)[y_i] / Σ_i w_i         cluster memory, pseudo-labels y, weights w
 *   L_s = −mean_i log(e^{z_i·f̃_i/τ} / (e^{z_i·f̃_i/τ} + Σ_{k≠y_i} e^{z_i·c_k/τ}))   f̃_i = normalise(z_i + ε·ĝ_i)
 *   L_D = −mean_i log softmax(W·z_i + b)[camera_i]                   domain classifier; ĝ_i = ∂L_D/∂z_i / ‖·‖
 *   MMD² = mean k(a, a') + mean k(b, b') − 2 mean k(a, b)            k = mean over σ of exp(−‖x − y‖² / 2σ²)
 *
 * In L_s the augmentation direction ĝ is held constant (it is where the domain classifier
 * says the camera shows most, not something to optimise through), and the feature's own
 * pseudo-identity is left out of the negatives: seed 000 sums over every centroid, which
 * pushes each feature away from its own identity against L_c (measured: cross-camera AUC
 * fell with it).
 */

/** B rows of d values, row-major. */
export interface Rows {
  count: number;
  dimension: number;
  data: Float64Array;
}

export interface LossGradient {
  loss: number;
  /** ∂loss/∂z, B × d. */
  gradient: Float64Array;
}

export function rows(count: number, dimension: number, data = new Float64Array(count * dimension)): Rows {
  if (data.length !== count * dimension) throw new RangeError(`${count} × ${dimension} rows need ${count * dimension} values, got ${data.length}`);
  return { count, dimension, data };
}

/** Dot product of the d values of a from ai and of b from bi. */
export function rowDot(a: Float64Array | Float32Array, ai: number, b: Float64Array | Float32Array, bi: number, d: number): number {
  let sum = 0;
  for (let j = 0; j < d; j++) sum += a[ai + j]! * b[bi + j]!;
  return sum;
}

/** Softmax of `logits` in place; returns log Σ exp(logits) before it. */
export function softmaxInPlace(logits: Float64Array): number {
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) sum += logits[k] = Math.exp(logits[k]! - max);
  for (let k = 0; k < logits.length; k++) logits[k]! /= sum;
  return max + Math.log(sum);
}

/** L_c: InfoNCE of each feature against the cluster memory, weighted by pseudo-label confidence. */
export function clusterLoss(z: Rows, labels: Int32Array, weights: Float64Array, memory: Rows, temperature: number): LossGradient {
  const { count: n, dimension: d } = z;
  const gradient = new Float64Array(n * d);
  const probabilities = new Float64Array(memory.count);
  let totalWeight = 0;
  for (let i = 0; i < n; i++) totalWeight += weights[i]!;
  if (totalWeight === 0) return { loss: 0, gradient };
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]! / totalWeight;
    if (w === 0) continue;
    for (let k = 0; k < memory.count; k++) probabilities[k] = rowDot(z.data, i * d, memory.data, k * d, d) / temperature;
    const label = labels[i]!;
    const target = probabilities[label]!;
    loss += w * (softmaxInPlace(probabilities) - target);
    probabilities[label]! -= 1;
    for (let k = 0; k < memory.count; k++) {
      const scale = (w * probabilities[k]!) / temperature;
      if (scale === 0) continue;
      for (let j = 0; j < d; j++) gradient[i * d + j]! += scale * memory.data[k * d + j]!;
    }
  }
  return { loss, gradient };
}

/**
 * L_s: the augmented feature is the positive of its own feature against the cluster memory.
 * ĝ (directions) is held constant; the gradient flows through z in both z·f̃ and f̃.
 */
export function sampleLoss(z: Rows, labels: Int32Array, directions: Rows, epsilon: number, memory: Rows, temperature: number): LossGradient {
  const { count: n, dimension: d } = z;
  const gradient = new Float64Array(n * d);
  if (n === 0) return { loss: 0, gradient };
  const logits = new Float64Array(memory.count + 1);
  const augmented = new Float64Array(d);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const zi = i * d;
    let norm = 0;
    for (let j = 0; j < d; j++) norm += (augmented[j] = z.data[zi + j]! + epsilon * directions.data[zi + j]!) ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < d; j++) augmented[j]! /= norm;
    let zDotAugmented = 0;
    for (let j = 0; j < d; j++) zDotAugmented += z.data[zi + j]! * augmented[j]!;
    logits[0] = zDotAugmented / temperature;
    for (let k = 0; k < memory.count; k++) logits[k + 1] = k === labels[i] ? -Infinity : rowDot(z.data, zi, memory.data, k * d, d) / temperature;
    const positive = logits[0]!;
    loss += (softmaxInPlace(logits) - positive) / n;
    // ∂(z·f̃)/∂z = f̃ + J·z with J = (I − f̃f̃ᵀ)/‖z + εĝ‖ the Jacobian of the normalisation.
    const positiveScale = (logits[0]! - 1) / temperature / n;
    for (let j = 0; j < d; j++) {
      const throughNormalisation = (z.data[zi + j]! - augmented[j]! * zDotAugmented) / norm;
      gradient[zi + j]! += positiveScale * (augmented[j]! + throughNormalisation);
    }
    for (let k = 0; k < memory.count; k++) {
      const scale = logits[k + 1]! / temperature / n;
      if (scale === 0) continue;
      for (let j = 0; j < d; j++) gradient[zi + j]! += scale * memory.data[k * d + j]!;
    }
  }
  return { loss, gradient };
}

/** A linear softmax classifier over cameras: logits = W·z + b. */
export interface DomainClassifier {
  domains: number;
  /** domains × d, row-major. */
  weights: Float64Array;
  bias: Float64Array;
}

export interface DomainLossGradient extends LossGradient {
  weightGradient: Float64Array;
  biasGradient: Float64Array;
}

/** L_D: cross-entropy of the domain classifier, with the gradients for z and for the classifier. */
export function domainLoss(z: Rows, domains: Int32Array, classifier: DomainClassifier): DomainLossGradient {
  const { count: n, dimension: d } = z;
  const c = classifier.domains;
  const gradient = new Float64Array(n * d);
  const weightGradient = new Float64Array(c * d);
  const biasGradient = new Float64Array(c);
  const probabilities = new Float64Array(c);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) probabilities[k] = rowDot(classifier.weights, k * d, z.data, i * d, d) + classifier.bias[k]!;
    const target = probabilities[domains[i]!]!;
    loss += (softmaxInPlace(probabilities) - target) / n;
    probabilities[domains[i]!]! -= 1;
    for (let k = 0; k < c; k++) {
      const delta = probabilities[k]! / n;
      biasGradient[k]! += delta;
      for (let j = 0; j < d; j++) {
        gradient[i * d + j]! += delta * classifier.weights[k * d + j]!;
        weightGradient[k * d + j]! += delta * z.data[i * d + j]!;
      }
    }
  }
  return { loss, gradient, weightGradient, biasGradient };
}

/** Each row of `gradient` scaled to unit length (a zero row stays zero): the directions ĝ. */
export function unitDirections(gradient: Float64Array, count: number, dimension: number): Rows {
  const out = rows(count, dimension, Float64Array.from(gradient));
  for (let i = 0; i < count; i++) {
    const norm = Math.sqrt(rowDot(out.data, i * dimension, out.data, i * dimension, dimension));
    if (norm > 0) for (let j = 0; j < dimension; j++) out.data[i * dimension + j]! /= norm;
  }
  return out;
}

/**
 * MMD² between the rows of z in group 0 and those in group 1 (biased estimate, Gaussian
 * kernels averaged over the bandwidths σ); rows of any other group are ignored.
 */
export function mmdLoss(z: Rows, groups: Int32Array, bandwidths: readonly number[]): LossGradient {
  const { count: n, dimension: d } = z;
  const gradient = new Float64Array(n * d);
  const sizes = [0, 0];
  for (let i = 0; i < n; i++) if (groups[i] === 0 || groups[i] === 1) sizes[groups[i]!]! += 1;
  if (sizes[0] === 0 || sizes[1] === 0) return { loss: 0, gradient };
  // Coefficient of k(x_i, x_j) in MMD²: 1/n_a² within a, 1/n_b² within b, −2/(n_a n_b) across.
  const coefficient = (gi: number, gj: number) => (gi === gj ? 1 / sizes[gi]! ** 2 : -1 / (sizes[0]! * sizes[1]!));
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const gi = groups[i]!;
    if (gi !== 0 && gi !== 1) continue;
    for (let j = 0; j < n; j++) {
      const gj = groups[j]!;
      if (gj !== 0 && gj !== 1) continue;
      let squared = 0;
      for (let t = 0; t < d; t++) squared += (z.data[i * d + t]! - z.data[j * d + t]!) ** 2;
      let kernel = 0;
      let slope = 0;
      for (const sigma of bandwidths) {
        const value = Math.exp(-squared / (2 * sigma * sigma)) / bandwidths.length;
        kernel += value;
        slope += value / (sigma * sigma);
      }
      const weight = coefficient(gi, gj);
      loss += weight * kernel;
      // ∂k(x_i, x_j)/∂x_i = −slope·(x_i − x_j); the pair (j, i) gives x_i the same again.
      if (i === j) continue;
      for (let t = 0; t < d; t++) gradient[i * d + t]! += -2 * weight * slope * (z.data[i * d + t]! - z.data[j * d + t]!);
    }
  }
  return { loss, gradient };
}
