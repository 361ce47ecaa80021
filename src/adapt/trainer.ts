/**
 * Trains the residual adapter on the site's own unlabelled tracks (issue 7, DESIGN seeds 000,
 * 002, 003, 004). Each epoch re-derives pseudo-identities from the features as adapted so
 * far (clustering with co-occurrence constraints, entropy split), starts the cluster memory
 * from their prototypes, then takes Adam steps on
 *
 *   L = w_s·L_s + w_c·L_c + w_a·L_align + (decay/2)·(‖U‖² + ‖V‖²)
 *
 * (a fixed number of steps per epoch) over batches of P pseudo-identities × K samples, drawn by difficulty (seed 002) or
 * uniformly. The samples of a track are the embeddings of its two halves (one track is one
 * person: free positives), or its whole embedding when it has no halves. After each step the
 * memory moves by momentum towards the batch's features. L_align is MMD between each camera's
 * adapted features and the rest of the site's, on a separate batch drawn evenly per camera.
 * A weight of 0 switches a term off (the ablation). The inputs are centred (raw − camera mean):
 * the adapter learns what centring leaves.
 */
import type { AdaptConfig } from '../config/adapt-schema.js';
import { gaussianRandom, uniformRandom } from '../core/random.js';
import { ResidualAdapter } from './residual-adapter.js';
import { clusterLoss, domainLoss, mmdLoss, rows, sampleLoss, unitDirections, type DomainClassifier, type DomainLossGradient, type Rows } from './losses.js';
import { clusterTracks, crossCameraPairs, entropySplit, identitySampling, type ClusterOptions, type PseudoLabels, type TrackSpan } from './pseudo-labels.js';

/** One unlabelled track of the site, as the trainer sees it. */
export interface AdaptationTrack extends TrackSpan {
  key: string;
  /** Raw unit track embedding. */
  embedding: Float32Array;
  /** Raw unit embeddings of its earlier and later crops. */
  halves?: [Float32Array, Float32Array];
}

export interface LossWeights {
  sample: number;
  cluster: number;
  align: number;
}

export interface AdapterTrainingOptions {
  rank: number;
  epochs: number;
  stepsPerEpoch: number;
  /** P pseudo-identities × K samples per step. */
  batch: { identities: number; samplesPerIdentity: number };
  learningRate: number;
  /** L2 pull of U and V towards 0 (the identity map). */
  weightDecay: number;
  /** τ of L_s and L_c. */
  temperature: number;
  /** m of the cluster memory update c ← normalise(m·c + (1 − m)·f). */
  memoryMomentum: number;
  /** ε of the augmented feature f̃ = normalise(f + ε·ĝ). */
  augmentation: number;
  weights: LossWeights;
  hardIdentitySampling: boolean;
  entropySplit: { enabled: boolean; lowConfidenceWeight: number; temperature: number };
  clustering: ClusterOptions;
  /** Samples per camera in each L_align batch. */
  alignSamplesPerCamera: number;
  /** Kernel bandwidths σ of the MMD. */
  bandwidths: readonly number[];
  /** Directions of confident cross-camera pair differences removed at the start (0: start as the identity). */
  pairDirections: number;
  seed: number;
}

export interface EpochReport {
  epoch: number;
  pseudoIdentities: number;
  /** Share of tracks in the confident part of the entropy split. */
  confidentShare: number;
  loss: number;
  terms: LossWeights;
  seconds: number;
}

export interface TrainingResult {
  adapter: ResidualAdapter;
  epochs: EpochReport[];
}

export interface BatchSettings {
  temperature: number;
  augmentation: number;
  weights: LossWeights;
  weightDecay: number;
  bandwidths: readonly number[];
}

/** One step's data: centred inputs with their labels, and the L_align batch. */
export interface Batch {
  inputs: Rows;
  labels: Int32Array;
  weights: Float64Array;
  /** ĝ of each input (held constant, see losses.ts). */
  directions: Rows;
  align: { inputs: Rows; domains: Int32Array };
}

export interface Forward {
  hidden: Float64Array;
  norms: Float64Array;
  features: Rows;
}

/** z = normalise(x + U·Vᵀx) for every row, keeping what the backward pass needs. */
export function forward(u: Float64Array, v: Float64Array, rank: number, inputs: Rows): Forward {
  const { count: n, dimension: d } = inputs;
  const hidden = new Float64Array(n * rank);
  const norms = new Float64Array(n);
  const features = rows(n, d);
  for (let i = 0; i < n; i++) {
    const x = i * d;
    const h = i * rank;
    for (let t = 0; t < d; t++) {
      const value = inputs.data[x + t]!;
      for (let k = 0; k < rank; k++) hidden[h + k]! += v[t * rank + k]! * value;
    }
    let norm = 0;
    for (let t = 0; t < d; t++) {
      let y = inputs.data[x + t]!;
      for (let k = 0; k < rank; k++) y += u[t * rank + k]! * hidden[h + k]!;
      features.data[x + t] = y;
      norm += y * y;
    }
    norms[i] = norm = Math.sqrt(norm);
    for (let t = 0; t < d; t++) features.data[x + t]! /= norm;
  }
  return { hidden, norms, features };
}

/** Adds ∂loss/∂U and ∂loss/∂V for ∂loss/∂z = `gradient` (scaled by `scale`). */
function backward(u: Float64Array, rank: number, inputs: Rows, pass: Forward, gradient: Float64Array, scale: number, gradU: Float64Array, gradV: Float64Array): void {
  const { count: n, dimension: d } = inputs;
  const gradY = new Float64Array(d);
  const gradHidden = new Float64Array(rank);
  for (let i = 0; i < n; i++) {
    const x = i * d;
    // Through the normalisation: ∂/∂y = (g − z·(z·g)) / ‖y‖.
    let projection = 0;
    for (let t = 0; t < d; t++) projection += pass.features.data[x + t]! * gradient[x + t]!;
    for (let t = 0; t < d; t++) gradY[t] = (scale * (gradient[x + t]! - pass.features.data[x + t]! * projection)) / pass.norms[i]!;
    gradHidden.fill(0);
    for (let t = 0; t < d; t++) {
      const g = gradY[t]!;
      for (let k = 0; k < rank; k++) {
        gradU[t * rank + k]! += g * pass.hidden[i * rank + k]!;
        gradHidden[k]! += u[t * rank + k]! * g;
      }
    }
    for (let t = 0; t < d; t++) {
      const value = inputs.data[x + t]!;
      for (let k = 0; k < rank; k++) gradV[t * rank + k]! += value * gradHidden[k]!;
    }
  }
}

/** MMD of each camera against the rest of the site, averaged over cameras, with its gradient. */
function alignLoss(features: Rows, domains: Int32Array, bandwidths: readonly number[]): { loss: number; gradient: Float64Array } {
  const present = [...new Set(domains)];
  const gradient = new Float64Array(features.data.length);
  if (present.length < 2) return { loss: 0, gradient };
  let loss = 0;
  for (const domain of present) {
    const groups = domains.map((value) => (value === domain ? 0 : 1));
    const term = mmdLoss(features, groups, bandwidths);
    loss += term.loss / present.length;
    for (let t = 0; t < gradient.length; t++) gradient[t]! += term.gradient[t]! / present.length;
  }
  return { loss, gradient };
}

/** The objective of one step and its gradient with respect to U and V (checked by finite differences). */
export function batchObjective(
  u: Float64Array,
  v: Float64Array,
  rank: number,
  batch: Batch,
  memory: Rows,
  settings: BatchSettings,
): { loss: number; terms: LossWeights; gradU: Float64Array; gradV: Float64Array; features: Rows } {
  const gradU = new Float64Array(u.length);
  const gradV = new Float64Array(v.length);
  const pass = forward(u, v, rank, batch.inputs);
  const terms: LossWeights = { sample: 0, cluster: 0, align: 0 };
  const { weights } = settings;
  if (weights.sample > 0) {
    const term = sampleLoss(pass.features, batch.labels, batch.directions, settings.augmentation, memory, settings.temperature);
    terms.sample = term.loss;
    backward(u, rank, batch.inputs, pass, term.gradient, weights.sample, gradU, gradV);
  }
  if (weights.cluster > 0) {
    const term = clusterLoss(pass.features, batch.labels, batch.weights, memory, settings.temperature);
    terms.cluster = term.loss;
    backward(u, rank, batch.inputs, pass, term.gradient, weights.cluster, gradU, gradV);
  }
  if (weights.align > 0 && batch.align.inputs.count > 0) {
    const alignPass = forward(u, v, rank, batch.align.inputs);
    const term = alignLoss(alignPass.features, batch.align.domains, settings.bandwidths);
    terms.align = term.loss;
    backward(u, rank, batch.align.inputs, alignPass, term.gradient, weights.align, gradU, gradV);
  }
  let decay = 0;
  for (let t = 0; t < u.length; t++) {
    decay += u[t]! ** 2 + v[t]! ** 2;
    gradU[t]! += settings.weightDecay * u[t]!;
    gradV[t]! += settings.weightDecay * v[t]!;
  }
  const loss = weights.sample * terms.sample + weights.cluster * terms.cluster + weights.align * terms.align + (settings.weightDecay / 2) * decay;
  return { loss, terms, gradU, gradV, features: pass.features };
}

/** Adam (β₁ 0.9, β₂ 0.999): the usual choice for a small dense parameter set. */
class Adam {
  private readonly first: Float64Array;
  private readonly second: Float64Array;
  private steps = 0;

  constructor(
    private readonly parameters: Float64Array,
    private readonly learningRate: number,
  ) {
    this.first = new Float64Array(parameters.length);
    this.second = new Float64Array(parameters.length);
  }

  step(gradient: Float64Array): void {
    this.steps += 1;
    const correction1 = 1 - 0.9 ** this.steps;
    const correction2 = 1 - 0.999 ** this.steps;
    for (let t = 0; t < gradient.length; t++) {
      this.first[t] = 0.9 * this.first[t]! + 0.1 * gradient[t]!;
      this.second[t] = 0.999 * this.second[t]! + 0.001 * gradient[t]! ** 2;
      this.parameters[t]! -= (this.learningRate * (this.first[t]! / correction1)) / (Math.sqrt(this.second[t]! / correction2) + 1e-8);
    }
  }
}

/** Full-batch steps that fit the domain classifier to the current features at the start of each epoch. */
const DOMAIN_FIT_STEPS = 25;
const DOMAIN_LEARNING_RATE = 1;

/** One gradient step of the domain classifier. */
function stepDomainClassifier(classifier: DomainClassifier, term: DomainLossGradient): void {
  for (let t = 0; t < classifier.weights.length; t++) classifier.weights[t]! -= DOMAIN_LEARNING_RATE * term.weightGradient[t]!;
  for (let t = 0; t < classifier.bias.length; t++) classifier.bias[t]! -= DOMAIN_LEARNING_RATE * term.biasGradient[t]!;
}

function fitDomainClassifier(classifier: DomainClassifier, features: Rows, domains: Int32Array, steps: number): void {
  for (let s = 0; s < steps; s++) stepDomainClassifier(classifier, domainLoss(features, domains, classifier));
}

/** Rows of `source` picked by `indices`. */
function pick(source: Rows, indices: readonly number[]): Rows {
  const d = source.dimension;
  const out = rows(indices.length, d);
  indices.forEach((index, i) => out.data.set(source.data.subarray(index * d, (index + 1) * d), i * d));
  return out;
}

/** Draws up to `count` distinct indices with the given probabilities (never one of probability 0). */
function drawWithoutReplacement(probabilities: Float64Array, count: number, random: () => number): number[] {
  const remaining = Float64Array.from(probabilities);
  const chosen: number[] = [];
  while (chosen.length < count) {
    const total = remaining.reduce((sum, value) => sum + value, 0);
    if (!(total > 0)) break;
    let target = random() * total;
    let index = remaining.findIndex((value) => (target -= value) < 0);
    // Rounding can leave target ≥ 0 after the last: take the last index still drawable.
    if (index === -1) index = remaining.findLastIndex((value) => value > 0);
    chosen.push(index);
    remaining[index] = 0;
  }
  return chosen;
}

export function trainAdapter(
  tracks: readonly AdaptationTrack[],
  offsetOf: (cameraId: string) => Float32Array | undefined,
  options: AdapterTrainingOptions,
  onEpoch?: (report: EpochReport) => void,
): TrainingResult {
  if (tracks.length < 2) throw new RangeError(`adaptation needs at least 2 tracks, got ${tracks.length}`);
  const d = tracks[0]!.embedding.length;
  const rank = options.rank;
  const random = uniformRandom(options.seed);
  const normal = gaussianRandom(random);
  const cameraIds = [...new Set(tracks.map((track) => track.cameraId))].sort();
  const domainOf = new Map(cameraIds.map((id, index) => [id, index]));

  const centred = (cameraId: string, raw: Float32Array, out: Float64Array, at: number) => {
    const offset = offsetOf(cameraId);
    for (let t = 0; t < d; t++) out[at + t] = raw[t]! - (offset?.[t] ?? 0);
  };
  const trackInputs = rows(tracks.length, d);
  tracks.forEach((track, i) => centred(track.cameraId, track.embedding, trackInputs.data, i * d));
  const sampleTrack: number[] = [];
  const sampleVectors: { cameraId: string; raw: Float32Array }[] = [];
  tracks.forEach((track, i) => {
    for (const raw of track.halves ?? [track.embedding]) {
      sampleTrack.push(i);
      sampleVectors.push({ cameraId: track.cameraId, raw });
    }
  });
  const sampleInputs = rows(sampleVectors.length, d);
  sampleVectors.forEach(({ cameraId, raw }, i) => centred(cameraId, raw, sampleInputs.data, i * d));
  const sampleDomains = Int32Array.from(sampleTrack, (i) => domainOf.get(tracks[i]!.cameraId)!);
  const samplesOfDomain = cameraIds.map((_, domain) => [...sampleDomains.keys()].filter((i) => sampleDomains[i] === domain));

  const u = new Float64Array(d * rank);
  const v = Float64Array.from({ length: d * rank }, () => normal() / Math.sqrt(rank));
  if (options.pairDirections > 0) {
    const features = forward(u, v, rank, trackInputs).features; // U = 0: the centred inputs, normalised
    const pairs = crossCameraPairs(features, tracks, options.clustering.similarity);
    const directions = pairDifferenceDirections(features, pairs, Math.min(options.pairDirections, rank), normal);
    // Start as x − Σ p pᵀx: the directions in which confident pairs of two cameras differ are removed.
    directions.forEach((direction, k) => {
      for (let t = 0; t < d; t++) {
        v[t * rank + k] = direction[t]!;
        u[t * rank + k] = -direction[t]!;
      }
    });
  }
  const adamU = new Adam(u, options.learningRate);
  const adamV = new Adam(v, options.learningRate);
  const classifier: DomainClassifier = { domains: cameraIds.length, weights: new Float64Array(cameraIds.length * d), bias: new Float64Array(cameraIds.length) };
  const settings: BatchSettings = options;
  const epochs: EpochReport[] = [];

  const usesLabels = options.weights.sample > 0 || options.weights.cluster > 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    // Pseudo-identities, memory and the domain classifier serve L_s and L_c only: with both off
    // (the defaults) the O(n²) step is skipped and the batches are L_align's alone.
    let pseudo: PseudoLabels | undefined;
    if (usesLabels) {
      const trackFeatures = forward(u, v, rank, trackInputs).features;
      pseudo = entropySplit(trackFeatures, clusterTracks(trackFeatures, tracks, options.clustering), options.entropySplit);
    }
    const memory = pseudo?.prototypes ?? rows(0, d);
    const k = memory.count;
    const sampling = options.hardIdentitySampling ? identitySampling(memory) : new Float64Array(k).fill(1 / k);
    const membersOf: number[][] = Array.from({ length: k }, () => []);
    if (pseudo) sampleTrack.forEach((track, sample) => membersOf[pseudo.labels[track]!]!.push(sample));
    if (options.weights.sample > 0) fitDomainClassifier(classifier, forward(u, v, rank, sampleInputs).features, sampleDomains, epoch === 1 ? 4 * DOMAIN_FIT_STEPS : DOMAIN_FIT_STEPS);

    const steps = options.stepsPerEpoch;
    const sums: LossWeights & { loss: number } = { loss: 0, sample: 0, cluster: 0, align: 0 };
    for (let step = 0; step < steps; step++) {
      const picked: number[] = [];
      for (const label of drawWithoutReplacement(sampling, options.batch.identities, random)) {
        const members = membersOf[label]!;
        if (members.length === 0) continue;
        for (let s = 0; s < options.batch.samplesPerIdentity; s++) picked.push(members[Math.floor(random() * members.length)]!);
      }
      const inputs = pick(sampleInputs, picked);
      const labels = Int32Array.from(picked, (sample) => pseudo!.labels[sampleTrack[sample]!]!);
      const weights = Float64Array.from(picked, (sample) => pseudo!.weights[sampleTrack[sample]!]!);
      const domains = Int32Array.from(picked, (sample) => sampleDomains[sample]!);
      // The domain classifier and its directions ĝ serve L_s only.
      const domainTerm = options.weights.sample > 0 ? domainLoss(forward(u, v, rank, inputs).features, domains, classifier) : undefined;
      const alignPicked = samplesOfDomain.flatMap((members) =>
        Array.from({ length: Math.min(options.alignSamplesPerCamera, members.length) }, () => members[Math.floor(random() * members.length)]!),
      );
      const batch: Batch = {
        inputs,
        labels,
        weights,
        directions: domainTerm ? unitDirections(domainTerm.gradient, picked.length, d) : rows(picked.length, d),
        align: { inputs: pick(sampleInputs, alignPicked), domains: Int32Array.from(alignPicked, (sample) => sampleDomains[sample]!) },
      };
      const result = batchObjective(u, v, rank, batch, memory, settings);
      adamU.step(result.gradU);
      adamV.step(result.gradV);
      if (domainTerm) stepDomainClassifier(classifier, domainTerm);
      updateMemory(memory, result.features, labels, options.memoryMomentum);
      sums.loss += result.loss / steps;
      sums.sample += result.terms.sample / steps;
      sums.cluster += result.terms.cluster / steps;
      sums.align += result.terms.align / steps;
    }
    const report: EpochReport = {
      epoch,
      pseudoIdentities: k,
      confidentShare: pseudo ? pseudo.confident / tracks.length : 0,
      loss: sums.loss,
      terms: { sample: sums.sample, cluster: sums.cluster, align: sums.align },
      seconds: (performance.now() - started) / 1000,
    };
    epochs.push(report);
    onEpoch?.(report);
  }
  return { adapter: new ResidualAdapter({ dimension: d, rank, u: Float32Array.from(u), v: Float32Array.from(v) }), epochs };
}

/** c_y ← normalise(m·c_y + (1 − m)·z) for each feature z of label y, in batch order. */
export function updateMemory(memory: Rows, features: Rows, labels: Int32Array, momentum: number): void {
  const d = memory.dimension;
  for (let i = 0; i < features.count; i++) {
    const at = labels[i]! * d;
    let norm = 0;
    for (let t = 0; t < d; t++) norm += (memory.data[at + t] = momentum * memory.data[at + t]! + (1 - momentum) * features.data[i * d + t]!) ** 2;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let t = 0; t < d; t++) memory.data[at + t]! /= norm;
  }
}

/** The trainer's options from the config's `adapt` section. */
export function trainingOptionsFrom(config: AdaptConfig): AdapterTrainingOptions {
  return {
    rank: config.rank,
    epochs: config.epochs,
    stepsPerEpoch: config.steps_per_epoch,
    batch: { identities: config.batch.identities, samplesPerIdentity: config.batch.samples_per_identity },
    learningRate: config.learning_rate,
    weightDecay: config.weight_decay,
    temperature: config.temperature,
    memoryMomentum: config.memory_momentum,
    augmentation: config.augmentation,
    weights: { ...config.loss_weights },
    hardIdentitySampling: config.hard_identity_sampling,
    entropySplit: { enabled: config.entropy_split.enabled, lowConfidenceWeight: config.entropy_split.low_confidence_weight, temperature: config.entropy_split.temperature },
    clustering: { ...config.clustering },
    alignSamplesPerCamera: config.align.samples_per_camera,
    bandwidths: config.align.bandwidths,
    pairDirections: config.pair_directions,
    seed: config.seed,
  };
}

/**
 * The top `count` eigenvectors of Σ (z_a − z_b)(z_a − z_b)ᵀ over the pairs, by power iteration
 * with deflation on the pairs' differences (never a d × d matrix).
 */
export function pairDifferenceDirections(features: Rows, pairs: readonly [number, number][], count: number, normal: () => number): Float64Array[] {
  const d = features.dimension;
  const differences = pairs.map(([a, b]) => Float64Array.from({ length: d }, (_, t) => features.data[a * d + t]! - features.data[b * d + t]!));
  const directions: Float64Array[] = [];
  if (differences.length === 0) return directions;
  const orthogonalise = (w: Float64Array) => {
    for (const previous of directions) {
      let projection = 0;
      for (let t = 0; t < d; t++) projection += w[t]! * previous[t]!;
      for (let t = 0; t < d; t++) w[t]! -= projection * previous[t]!;
    }
    const norm = Math.hypot(...w);
    if (norm > 0) for (let t = 0; t < d; t++) w[t]! /= norm;
    return norm;
  };
  for (let k = 0; k < Math.min(count, differences.length); k++) {
    let w = Float64Array.from({ length: d }, normal);
    orthogonalise(w);
    for (let iteration = 0; iteration < POWER_ITERATIONS; iteration++) {
      const next = new Float64Array(d);
      for (const difference of differences) {
        let projection = 0;
        for (let t = 0; t < d; t++) projection += difference[t]! * w[t]!;
        for (let t = 0; t < d; t++) next[t]! += projection * difference[t]!;
      }
      if (orthogonalise(next) === 0) break;
      w = next;
    }
    directions.push(w);
  }
  return directions;
}

const POWER_ITERATIONS = 200;
