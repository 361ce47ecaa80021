import { z } from 'zod';
import { unit } from './fields.js';

/**
 * The config file's `adapt` section: on-site unsupervised adaptation (src/adapt/). A residual
 * low-rank adapter is trained on the site's own unlabelled tracks (seeds 000, 002, 003, 004)
 * and judged on a held-out slice of them before it may be used.
 */
export const adaptSchema = z.strictObject({
  // The most recent ended person tracks kept for training (memory and time grow as its square).
  max_tracks: z.int().min(10).max(5000).default(2000),
  // Nice value of the training thread: the cameras' threads keep the CPU (Linux: per thread).
  nice: z.int().min(-20).max(19).default(19),
  // r of y = x + U·Vᵀx: how far one training run can move the embedding.
  rank: z.int().min(1).max(256).default(4),
  // Each epoch re-derives the pseudo-identities, then takes this many steps (fixed, as in SpCL:
  // a small site's few tracks still get enough steps, a large one is sampled).
  epochs: z.int().min(1).max(200).default(3),
  steps_per_epoch: z.int().min(1).max(10_000).default(50),
  batch: z
    .strictObject({
      // P pseudo-identities × K samples per training step.
      identities: z.int().min(2).max(256).default(16),
      samples_per_identity: z.int().min(1).max(32).default(4),
    })
    .prefault({}),
  learning_rate: z.number().gt(0).max(1).default(0.0002),
  // L2 pull of the adapter towards the identity map.
  weight_decay: z.number().min(0).default(0.001),
  // τ of the sample-level and cluster losses.
  temperature: z.number().gt(0).max(1).default(0.05),
  // m of the cluster memory update c ← normalise(m·c + (1 − m)·f).
  memory_momentum: unit.default(0.5),
  // ε of the augmented feature f̃ = normalise(f + ε·ĝ), ĝ the domain classifier's gradient direction.
  augmentation: z.number().min(0).max(2).default(0.2),
  // L = sample·L_s + cluster·L_c + align·L_align; 0 switches a term off. L_s and L_c are off
  // by default: on PETS09 each lowered the cross-camera AUC (docs/accuracy.md, adaptation ablation).
  loss_weights: z
    .strictObject({
      sample: z.number().min(0).default(0),
      cluster: z.number().min(0).default(0),
      align: z.number().min(0).default(1),
    })
    .prefault({}),
  // Draw pseudo-identities by difficulty (seed 002) instead of uniformly.
  hard_identity_sampling: z.boolean().default(true),
  entropy_split: z
    .strictObject({
      enabled: z.boolean().default(true),
      // Weight of a label taken from the nearest prototype by a less confident track.
      low_confidence_weight: unit.default(0.5),
      temperature: z.number().gt(0).max(1).default(0.1),
    })
    .prefault({}),
  clustering: z
    .strictObject({
      // Tracks group into one pseudo-identity while their mean cosine (centred, adapted) is at least this.
      similarity: z.number().min(-1).max(1).default(0.2),
    })
    .prefault({}),
  align: z
    .strictObject({
      samples_per_camera: z.int().min(2).max(256).default(32),
      // Gaussian kernel bandwidths σ of the MMD between cameras (unit features: distances 0..2).
      bandwidths: z.array(z.number().gt(0)).min(1).default([0.5, 1, 2]),
    })
    .prefault({}),
  // One track in this many (by key) is held out of training to judge the candidate.
  held_out_every: z.int().min(2).max(100).default(3),
  // A candidate is activated when, on the held-out tracks, it mixes cameras among each track's
  // nearest tracks more than the active space by `margin`, and loses at most `tolerance` in
  // self-consistency and in agreement with the active space's confident cross-camera pairs.
  activation: z
    .strictObject({
      margin: unit.default(0.02),
      tolerance: unit.default(0.2),
    })
    .prefault({}),
  // The adapter starts by removing this many directions in which confident cross-camera
  // pseudo-pairs (mutual nearest tracks) differ; 0 starts from the identity.
  pair_directions: z.int().min(0).max(64).default(2),
  seed: z.int().min(0).default(1),
});

export type AdaptConfig = z.infer<typeof adaptSchema>;
