import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussianRandom, uniformRandom } from '../src/core/random.js';
import { clusterLoss, domainLoss, mmdLoss, rows, sampleLoss, unitDirections, type LossGradient, type Rows } from '../src/adapt/losses.js';
import { batchObjective, forward, type Batch, type BatchSettings } from '../src/adapt/trainer.js';
import { ResidualAdapter } from '../src/adapt/residual-adapter.js';

const normal = gaussianRandom(uniformRandom(11));

function randomRows(count: number, dimension: number, unit = true): Rows {
  const out = rows(count, dimension, Float64Array.from({ length: count * dimension }, normal));
  if (unit) {
    for (let i = 0; i < count; i++) {
      const row = out.data.subarray(i * dimension, (i + 1) * dimension);
      const norm = Math.hypot(...row);
      for (let j = 0; j < dimension; j++) row[j]! /= norm;
    }
  }
  return out;
}

/** Central finite differences of `loss` against the analytic gradient, relative to the gradient's scale. */
function assertGradient(parameters: Float64Array, analytic: Float64Array, loss: () => number, tolerance = 1e-5): void {
  const h = 1e-6;
  let scale = 0;
  for (const value of analytic) scale = Math.max(scale, Math.abs(value));
  assert.ok(scale > 0, 'the gradient is zero: nothing is checked');
  for (let t = 0; t < parameters.length; t++) {
    const kept = parameters[t]!;
    parameters[t] = kept + h;
    const up = loss();
    parameters[t] = kept - h;
    const down = loss();
    parameters[t] = kept;
    const numeric = (up - down) / (2 * h);
    assert.ok(Math.abs(numeric - analytic[t]!) <= tolerance * Math.max(1, scale), `∂/∂θ[${t}]: analytic ${analytic[t]}, finite differences ${numeric}`);
  }
}

test('L_c: the gradient matches finite differences and the loss matches a hand computation', () => {
  const z = randomRows(5, 4);
  const memory = randomRows(3, 4);
  const labels = Int32Array.from([0, 1, 2, 1, 0]);
  const weights = Float64Array.from([1, 0.5, 1, 1, 0.25]);
  const at = () => clusterLoss(z, labels, weights, memory, 0.2);
  assertGradient(z.data, at().gradient, () => at().loss);

  // One feature, two centroids at cosines 1 and 0, τ = 0.5: −log(e² / (e² + e⁰)).
  const one = clusterLoss(rows(1, 2, Float64Array.from([1, 0])), Int32Array.from([0]), Float64Array.from([1]), rows(2, 2, Float64Array.from([1, 0, 0, 1])), 0.5);
  assert.ok(Math.abs(one.loss - -Math.log(Math.exp(2) / (Math.exp(2) + 1))) < 1e-12);
});

test('L_s: the gradient through z and through the augmented feature matches finite differences', () => {
  const z = randomRows(4, 5);
  const directions = randomRows(4, 5);
  const memory = randomRows(3, 5);
  const at = () => sampleLoss(z, Int32Array.from([0, 2, 1, 0]), directions, 0.3, memory, 0.1);
  assertGradient(z.data, at().gradient, () => at().loss);

  // With ε = 0 the positive is z itself: −log(e^{1/τ} / (e^{1/τ} + Σ_{k≠y} e^{z·c_k/τ})); its own centroid (label 0) is no negative.
  const feature = rows(1, 2, Float64Array.from([1, 0]));
  const centroids = rows(2, 2, Float64Array.from([1, 0, 0, 1]));
  const plain = sampleLoss(feature, Int32Array.from([0]), rows(1, 2, Float64Array.from([0, 1])), 0, centroids, 0.5);
  assert.ok(Math.abs(plain.loss - -Math.log(Math.exp(2) / (Math.exp(2) + 1))) < 1e-12);
});

test('L_D: gradients for the features and for the classifier match finite differences', () => {
  const z = randomRows(6, 3);
  const domains = Int32Array.from([0, 1, 2, 0, 1, 2]);
  const classifier = { domains: 3, weights: randomRows(3, 3, false).data, bias: Float64Array.from([0.1, -0.2, 0.3]) };
  const at = () => domainLoss(z, domains, classifier);
  assertGradient(z.data, at().gradient, () => at().loss);
  assertGradient(classifier.weights, at().weightGradient, () => at().loss);
  assertGradient(classifier.bias, at().biasGradient, () => at().loss);
  // ĝ are unit rows.
  const directions = unitDirections(at().gradient, 6, 3);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(Math.hypot(...directions.data.subarray(i * 3, i * 3 + 3)) - 1) < 1e-12);
});

test('MMD: the gradient matches finite differences; identical groups give 0 and a hand-computed pair its value', () => {
  const z = randomRows(7, 3);
  const groups = Int32Array.from([0, 1, 0, 1, 1, 2, 0]);
  const at = (): LossGradient => mmdLoss(z, groups, [0.5, 1]);
  assertGradient(z.data, at().gradient, () => at().loss);

  const same = mmdLoss(rows(2, 2, Float64Array.from([1, 0, 1, 0])), Int32Array.from([0, 1]), [1]);
  assert.ok(Math.abs(same.loss) < 1e-15);
  // Two points at distance² 2, σ = 1: k(a,a) + k(b,b) − 2k(a,b) = 2 − 2e^{−1}.
  const apart = mmdLoss(rows(2, 2, Float64Array.from([1, 0, 0, 1])), Int32Array.from([0, 1]), [1]);
  assert.ok(Math.abs(apart.loss - (2 - 2 * Math.exp(-1))) < 1e-12);
});

test('the whole objective: ∂L/∂U and ∂L/∂V of the adapter match finite differences, every term on', () => {
  const d = 6;
  const rank = 2;
  const u = Float64Array.from({ length: d * rank }, () => 0.3 * normal());
  const v = Float64Array.from({ length: d * rank }, () => 0.3 * normal());
  const batch: Batch = {
    inputs: randomRows(5, d, false),
    labels: Int32Array.from([0, 1, 1, 2, 0]),
    weights: Float64Array.from([1, 1, 0.5, 1, 0.5]),
    directions: randomRows(5, d),
    align: { inputs: randomRows(6, d, false), domains: Int32Array.from([0, 0, 1, 1, 2, 2]) },
  };
  const memory = randomRows(3, d);
  const settings: BatchSettings = { temperature: 0.2, augmentation: 0.3, weights: { sample: 1, cluster: 0.7, align: 2 }, weightDecay: 0.01, bandwidths: [0.5, 1] };
  const at = () => batchObjective(u, v, rank, batch, memory, settings);
  assertGradient(u, at().gradU, () => at().loss);
  assertGradient(v, at().gradV, () => at().loss);
});

test('the adapter applies x + U·Vᵀx as the trainer\'s forward pass does; U = 0 is the identity', () => {
  const d = 4;
  const u = Float32Array.from([1, 0, 0, 1, 0, 0, 0, 0]);
  const v = Float32Array.from([0, 0, 1, 0, 0, 1, 0, 0]);
  const adapter = new ResidualAdapter({ dimension: d, rank: 2, u, v });
  // Vᵀx = (x₁, x₂); U adds them to y₀ and y₁.
  assert.deepEqual([...adapter.apply(Float32Array.from([1, 2, 3, 4]))], [3, 5, 3, 4]);
  const pass = forward(Float64Array.from(u), Float64Array.from(v), 2, rows(1, d, Float64Array.from([1, 2, 3, 4])));
  const norm = Math.hypot(3, 5, 3, 4);
  assert.deepEqual([...pass.features.data].map((x) => Number(x.toFixed(9))), [3, 5, 3, 4].map((x) => Number((x / norm).toFixed(9))));
  assert.deepEqual([...new ResidualAdapter({ dimension: d, rank: 2, u: new Float32Array(8), v }).apply(Float32Array.from([1, 2, 3, 4]))], [1, 2, 3, 4], 'U = 0 is the identity');
  assert.throws(() => adapter.apply(new Float32Array(3)), /dimension 4/);
});

test('centring and the adapter commute: A·(f − μ_c) equals A·f − (the camera mean of A·f)', () => {
  const d = 8;
  const adapter = new ResidualAdapter({ dimension: d, rank: 3, u: Float32Array.from({ length: d * 3 }, () => 0.4 * normal()), v: Float32Array.from({ length: d * 3 }, () => 0.4 * normal()) });
  const tracks = Array.from({ length: 6 }, () => Float32Array.from({ length: d }, normal));
  const mean = (vectors: Float32Array[]) => Float32Array.from({ length: d }, (_, i) => vectors.reduce((sum, v) => sum + v[i]!, 0) / vectors.length);
  const mu = mean(tracks);
  const adaptedMean = mean(tracks.map((f) => adapter.apply(f)));
  for (const f of tracks) {
    const centredFirst = adapter.apply(Float32Array.from(f, (x, i) => x - mu[i]!));
    const adaptedFirst = Float32Array.from(adapter.apply(f), (x, i) => x - adaptedMean[i]!);
    for (let i = 0; i < d; i++) assert.ok(Math.abs(centredFirst[i]! - adaptedFirst[i]!) < 1e-5);
  }
});
