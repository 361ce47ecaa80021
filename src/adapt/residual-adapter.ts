/**
 * The on-site adapter (issue 7): a residual low-rank linear map on the frozen re-ID
 * embedding, y = x + U·(Vᵀ·x), U and V of d × r. It is linear, so it composes with camera
 * centring in either order (A·(f − μ_c) = A·f − mean of A·f over camera c) and the gallery's
 * raw appearances (weighted sums of raw embeddings) project through it exactly; the matching
 * space renormalises afterwards. Identity at U = 0, so training starts from the model as
 * shipped and the rank bounds how far a night's training can move it.
 */

export interface AdapterWeights {
  dimension: number;
  rank: number;
  /** d × r, row-major. */
  u: Float32Array;
  /** d × r, row-major. */
  v: Float32Array;
}

export class ResidualAdapter {
  readonly dimension: number;
  readonly rank: number;
  private readonly u: Float32Array;
  private readonly v: Float32Array;
  /** Vᵀ·x, reused: apply() is called per track and per identity. */
  private readonly hidden: Float64Array;

  constructor(weights: AdapterWeights) {
    const { dimension, rank, u, v } = weights;
    if (!Number.isInteger(dimension) || dimension < 1 || !Number.isInteger(rank) || rank < 1) {
      throw new RangeError(`adapter needs a positive dimension and rank, got ${dimension} × ${rank}`);
    }
    if (u.length !== dimension * rank || v.length !== dimension * rank) {
      throw new RangeError(`adapter of ${dimension} × ${rank} needs ${dimension * rank} values in U and V, got ${u.length} and ${v.length}`);
    }
    this.dimension = dimension;
    this.rank = rank;
    this.u = u;
    this.v = v;
    this.hidden = new Float64Array(rank);
  }

  get weights(): AdapterWeights {
    return { dimension: this.dimension, rank: this.rank, u: this.u, v: this.v };
  }

  /** y = x + U·(Vᵀ·x) into `out` (may be `x` itself); returns out. */
  apply(x: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
    const { dimension: d, rank: r, u, v, hidden } = this;
    if (x.length !== d) throw new RangeError(`adapter of dimension ${d} applied to a vector of ${x.length}`);
    hidden.fill(0);
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      const row = i * r;
      for (let k = 0; k < r; k++) hidden[k]! += v[row + k]! * xi;
    }
    for (let i = 0; i < d; i++) {
      let sum = 0;
      const row = i * r;
      for (let k = 0; k < r; k++) sum += u[row + k]! * hidden[k]!;
      out[i] = x[i]! + sum;
    }
    return out;
  }
}
