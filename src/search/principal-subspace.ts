/**
 * The principal subspace of a set of unit vectors: the d directions of their uncentred second
 * moment E[x xᵀ] with the largest eigenvalues, found by subspace iteration on a sample. The
 * graph index searches in it: re-ID embeddings live near a low-dimensional manifold, so a
 * 512-d prototype projected on its gallery's 128 leading directions keeps nearly all of its
 * inner products with the others, and every distance the graph computes costs a quarter.
 * Uncentred (no mean subtracted), so the shared mean direction is kept and a projected unit
 * vector stays near unit length: cosine in the subspace ranks as the inner product does.
 *
 * The fit runs in chunks between turns of the event loop (`pause`): the second moment of 16k
 * samples at 512-d is 2·10⁹ multiply-adds, seconds of JS a camera must not wait for.
 */
import { uniformRandom } from '../core/random.js';

export interface PrincipalSubspace {
  /** Row-major `dimension × sourceDimension`: orthonormal rows, the leading direction first. */
  readonly basis: Float32Array;
  readonly dimension: number;
  readonly sourceDimension: number;
  /** Share of the sample's energy (Σ‖x‖²) the subspace keeps: 1 means nothing is lost. */
  readonly varianceKept: number;
}

export interface SubspaceFitOptions {
  /** Directions kept (≤ the source dimension). */
  dimension: number;
  /** Subspace iteration steps: the kept energy converges long before the single directions do. */
  iterations?: number;
  /** Awaited between chunks of work (default: one turn of the event loop). */
  pause?: () => Promise<void>;
  seed?: number;
}

const DEFAULT_ITERATIONS = 12;
/** Sample rows per chunk of the second moment (each D²/2 multiply-adds, ~4 ms at 512-d). */
const MOMENT_CHUNK = 32;
/** Basis rows per chunk of an iteration's product with the moment (each D² multiply-adds). */
const PRODUCT_CHUNK = 8;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Fits the subspace to `samples` (vectors of one length, any count ≥ 1). */
export async function fitPrincipalSubspace(samples: readonly Float32Array[], options: SubspaceFitOptions): Promise<PrincipalSubspace> {
  const first = samples[0];
  if (first === undefined) throw new RangeError('a principal subspace needs at least one sample');
  const size = first.length;
  const { dimension, iterations = DEFAULT_ITERATIONS, pause = nextTurn, seed = 1 } = options;
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > size) throw new RangeError(`subspace dimension ${dimension} is not in 1..${size}`);

  // Upper triangle of Σ x xᵀ, then mirrored.
  const moment = new Float64Array(size * size);
  for (let at = 0; at < samples.length; at += MOMENT_CHUNK) {
    for (const sample of samples.slice(at, at + MOMENT_CHUNK)) {
      if (sample.length !== size) throw new RangeError(`sample of length ${sample.length}, expected ${size}`);
      for (let i = 0; i < size; i++) {
        const xi = sample[i]!;
        if (xi === 0) continue;
        const row = i * size;
        for (let j = i; j < size; j++) moment[row + j]! += xi * sample[j]!;
      }
    }
    await pause();
  }
  for (let i = 0; i < size; i++) for (let j = 0; j < i; j++) moment[i * size + j] = moment[j * size + i]!;

  const random = uniformRandom(seed);
  let basis = Float64Array.from({ length: dimension * size }, () => random() - 0.5);
  orthonormaliseRows(basis, dimension, size);
  let kept = 0;
  for (let step = 0; step < iterations; step++) {
    const product = new Float64Array(dimension * size);
    kept = 0;
    for (let r = 0; r < dimension; r += PRODUCT_CHUNK) {
      for (let row = r; row < Math.min(dimension, r + PRODUCT_CHUNK); row++) kept += multiplyRow(moment, basis, row, size, product);
      await pause();
    }
    orthonormaliseRows(product, dimension, size);
    basis = product;
  }
  let energy = 0;
  for (let i = 0; i < size; i++) energy += moment[i * size + i]!;
  // kept = Σ qᵀ C q over the basis the last step started from: the energy that basis holds.
  return { basis: Float32Array.from(basis), dimension, sourceDimension: size, varianceKept: energy > 0 ? Math.min(1, kept / energy) : 1 };
}

/** `out[0..d)` = basis · vector[offset..offset+D). */
export function projectInto(subspace: PrincipalSubspace, vector: Float32Array, offset: number, out: Float32Array): void {
  const { basis, dimension, sourceDimension } = subspace;
  for (let r = 0; r < dimension; r++) {
    let sum = 0;
    const row = r * sourceDimension;
    for (let j = 0; j < sourceDimension; j++) sum += basis[row + j]! * vector[offset + j]!;
    out[r] = sum;
  }
}

/** product[row] = C · basis[row]; returns basis[row] · C · basis[row]. */
function multiplyRow(moment: Float64Array, basis: Float64Array, row: number, size: number, product: Float64Array): number {
  const offset = row * size;
  let quadratic = 0;
  for (let i = 0; i < size; i++) {
    let sum = 0;
    const momentRow = i * size;
    for (let j = 0; j < size; j++) sum += moment[momentRow + j]! * basis[offset + j]!;
    product[offset + i] = sum;
    quadratic += sum * basis[offset + i]!;
  }
  return quadratic;
}

/** Modified Gram–Schmidt over the rows; a row that vanishes (rank deficit) becomes a fresh axis. */
function orthonormaliseRows(rows: Float64Array, count: number, size: number): void {
  for (let r = 0; r < count; r++) {
    const offset = r * size;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < r; p++) {
        let dot = 0;
        for (let j = 0; j < size; j++) dot += rows[offset + j]! * rows[p * size + j]!;
        for (let j = 0; j < size; j++) rows[offset + j]! -= dot * rows[p * size + j]!;
      }
      let norm = 0;
      for (let j = 0; j < size; j++) norm += rows[offset + j]! ** 2;
      norm = Math.sqrt(norm);
      if (norm > 1e-9) {
        for (let j = 0; j < size; j++) rows[offset + j]! /= norm;
        break;
      }
      // Rank deficit: restart the row from the axis least covered so far, orthogonalised in pass two.
      rows.fill(0, offset, offset + size);
      rows[offset + leastCoveredAxis(rows, r, size)] = 1;
    }
  }
}

function leastCoveredAxis(rows: Float64Array, count: number, size: number): number {
  let best = 0;
  let bestCover = Infinity;
  for (let j = 0; j < size; j++) {
    let cover = 0;
    for (let p = 0; p < count; p++) cover += rows[p * size + j]! ** 2;
    if (cover < bestCover) {
      bestCover = cover;
      best = j;
    }
  }
  return best;
}
