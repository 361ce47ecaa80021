import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entropyConfidence } from '../src/match/confidence.js';

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

test('entropy confidence: two equal options are a coin toss (confidence 0)', () => {
  // One candidate exactly at the threshold: p = [1/2, 1/2], H = log 2, n = 2.
  const result = entropyConfidence([0.6], 0.6, 0.05);
  close(result.normalisedEntropy, 1);
  close(result.confidence, 0);
});

test('entropy confidence: p = [3/4, 1/4] gives 1 − H/log 2 = 0.188722', () => {
  // s = threshold + τ·ln 3 → exp(s/τ) / exp(t/τ) = 3 → p = [3/4, 1/4].
  const result = entropyConfidence([0.6 + 0.05 * Math.log(3)], 0.6, 0.05);
  const entropy = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)); // 0.5623351446
  close(result.normalisedEntropy, entropy / Math.log(2));
  close(result.confidence, 0.1887218755, 1e-9);
});

test('entropy confidence: two candidates [0.9, 0.7] and the threshold 0.6 at τ = 0.05', () => {
  // Logits 18, 14, 12 → p ∝ [1, e^−4, e^−6] = [0.97962921, 0.01794253, 0.00242826]; H = 0.10692083; n = 3.
  const result = entropyConfidence([0.9, 0.7], 0.6, 0.05);
  close(result.normalisedEntropy, 0.10692082633819393 / Math.log(3));
  close(result.confidence, 0.90267646972362, 1e-12);
  // The order of the candidates does not matter; a larger τ flattens p and lowers confidence.
  close(entropyConfidence([0.7, 0.9], 0.6, 0.05).confidence, result.confidence, 1e-15);
  assert.ok(entropyConfidence([0.9, 0.7], 0.6, 0.5).confidence < 0.1);
});

test('entropy confidence: no candidate leaves one option, a certain decision', () => {
  assert.deepEqual(entropyConfidence([], 0.6, 0.05), { normalisedEntropy: 0, confidence: 1 });
  assert.throws(() => entropyConfidence([0.7], 0.6, 0), /temperature/);
});
