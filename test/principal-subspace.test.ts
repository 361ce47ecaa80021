import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitPrincipalSubspace, projectInto } from '../src/search/principal-subspace.js';
import { randomVectors } from './support/random-vectors.js';

const immediate = async () => {};
const rowOf = (basis: Float32Array, row: number, size: number) => Array.from(basis.subarray(row * size, (row + 1) * size));
const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`);

test('on axis-aligned samples the subspace is the axes by energy, and keeps their share of it', async () => {
  // Σ x xᵀ = diag(3, 1, 0): e1 carries 3/4 of the energy, e1 and e2 all of it.
  const samples = [
    [1, 0, 0],
    [-1, 0, 0],
    [1, 0, 0],
    [0, 1, 0],
  ].map((values) => Float32Array.from(values));
  const one = await fitPrincipalSubspace(samples, { dimension: 1, pause: immediate });
  close(one.varianceKept, 0.75, 1e-6, 'energy kept by one direction');
  const [x, y, z] = rowOf(one.basis, 0, 3);
  close(Math.abs(x!), 1, 1e-6, '|e1 component|');
  close(Math.abs(y!) + Math.abs(z!), 0, 1e-4, 'other components (12 iterations at an eigenvalue ratio of 1/3)');
  const two = await fitPrincipalSubspace(samples, { dimension: 2, pause: immediate });
  close(two.varianceKept, 1, 1e-6, 'energy kept by two directions');
  // The third axis carries nothing: a full-rank request still gives an orthonormal basis.
  const three = await fitPrincipalSubspace(samples, { dimension: 3, pause: immediate });
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      const dot = rowOf(three.basis, a, 3).reduce((sum, value, i) => sum + value * three.basis[b * 3 + i]!, 0);
      close(dot, a === b ? 1 : 0, 1e-6, `basis row ${a} · row ${b}`);
    }
  }
});

test('vectors of a plane in 10-d keep their length and inner products once projected on its 2-d subspace', async () => {
  const [u, w] = randomVectors(2, 10, 5);
  // Orthonormal u, v spanning the plane; samples a·u + b·v with var(a) = 4 var(b).
  const uw = u!.reduce((sum, value, i) => sum + value * w![i]!, 0);
  const v = w!.map((value, i) => value - uw * u![i]!);
  const vNorm = Math.hypot(...v);
  v.forEach((value, i) => (v[i] = value / vNorm));
  const coefficients = randomVectors(200, 2, 9);
  const samples = coefficients.map(([a, b]) => u!.map((value, i) => 2 * a! * value + b! * v[i]!));
  const subspace = await fitPrincipalSubspace(samples, { dimension: 2, pause: immediate });
  close(subspace.varianceKept, 1, 1e-6, 'energy kept');
  const [p, q] = [new Float32Array(2), new Float32Array(2)];
  projectInto(subspace, samples[0]!, 0, p);
  projectInto(subspace, samples[1]!, 0, q);
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, i) => sum + value * b[i]!, 0);
  close(dot(p, p), dot(samples[0]!, samples[0]!), 1e-5, 'squared length after projection');
  close(dot(p, q), dot(samples[0]!, samples[1]!), 1e-5, 'inner product after projection');
  // The leading direction is the plane's major axis u (up to sign).
  close(Math.abs(dot(subspace.basis.subarray(0, 10), u!)), 1, 1e-3, '|leading direction · u|');
});

test('projectInto reads the vector at its offset and multiplies by the basis rows', async () => {
  const subspace = await fitPrincipalSubspace([Float32Array.from([0, 2]), Float32Array.from([0, -1])], { dimension: 1, pause: immediate });
  const out = new Float32Array(1);
  projectInto(subspace, Float32Array.from([9, 9, 0.5, 3]), 2, out);
  close(Math.abs(out[0]!), 3, 1e-6, 'projection of (0.5, 3) on ±e2');
});

test('the fit refuses an empty sample, a dimension out of range and samples of mixed length', async () => {
  await assert.rejects(fitPrincipalSubspace([], { dimension: 1 }), /at least one sample/);
  await assert.rejects(fitPrincipalSubspace([new Float32Array(4)], { dimension: 5 }), /not in 1\.\.4/);
  await assert.rejects(fitPrincipalSubspace([new Float32Array(4), new Float32Array(3)], { dimension: 2 }), /length 3, expected 4/);
});
