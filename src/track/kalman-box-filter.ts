import type { Box } from '../core/geometry.js';

/**
 * Constant-velocity Kalman filter over a box as (cx, cy, a = w/h, h) plus the four
 * velocities, with noise proportional to box height: the SORT/DeepSORT/ByteTrack filter.
 * The time step is one frame.
 *
 * State lives in caller-owned `KalmanBoxState` buffers; the filter only keeps scratch
 * space, so one filter serves every track of a tracker without per-frame allocation.
 */
export interface KalmanBoxState {
  /** [cx, cy, a, h, vcx, vcy, va, vh] */
  readonly mean: Float64Array;
  /** 8x8 row-major covariance. */
  readonly covariance: Float64Array;
}

export interface KalmanBoxFilterOptions {
  /** Position noise as a fraction of box height (ByteTrack: 1/20). */
  stdWeightPosition: number;
  /** Velocity noise as a fraction of box height per frame (ByteTrack: 1/160). */
  stdWeightVelocity: number;
}

const DEFAULT_OPTIONS: KalmanBoxFilterOptions = { stdWeightPosition: 1 / 20, stdWeightVelocity: 1 / 160 };

// Aspect-ratio noise is absolute in the reference filter (not scaled by height).
const ASPECT_INIT_STD = 1e-2;
const ASPECT_VELOCITY_INIT_STD = 1e-5;
const ASPECT_PROCESS_STD = 1e-2;
const ASPECT_VELOCITY_PROCESS_STD = 1e-5;
const ASPECT_MEASUREMENT_STD = 1e-1;

export function createKalmanBoxState(): KalmanBoxState {
  return { mean: new Float64Array(8), covariance: new Float64Array(64) };
}

/** Writes the (cx, cy, a, h) measurement of `box` into `out`. */
export function boxToMeasurement(box: Box, out: Float64Array): Float64Array {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  out[0] = box.x1 + w / 2;
  out[1] = box.y1 + h / 2;
  out[2] = w / h;
  out[3] = h;
  return out;
}

export function stateToBox(state: KalmanBoxState): Box {
  const m = state.mean;
  const h = m[3]!;
  const w = m[2]! * h;
  return { x1: m[0]! - w / 2, y1: m[1]! - h / 2, x2: m[0]! + w / 2, y2: m[1]! + h / 2 };
}

export class KalmanBoxFilter {
  private readonly options: KalmanBoxFilterOptions;
  /** P·Hᵀ (the first four columns of P), 8x4. */
  private readonly pht = new Float64Array(32);
  /** Kalman gain, 8x4. */
  private readonly gain = new Float64Array(32);
  /** Innovation covariance S, then its Cholesky factor L (lower), 4x4. */
  private readonly chol = new Float64Array(16);
  private readonly innovation = new Float64Array(4);

  constructor(options: Partial<KalmanBoxFilterOptions> = {}) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
  }

  /** Starts a track at `measurement` with zero velocity and wide velocity uncertainty. */
  initiate(state: KalmanBoxState, measurement: ArrayLike<number>): void {
    const { mean, covariance } = state;
    const h = measurement[3]!;
    const pos = 2 * this.options.stdWeightPosition * h;
    const vel = 10 * this.options.stdWeightVelocity * h;
    for (let i = 0; i < 4; i++) mean[i] = measurement[i]!;
    mean.fill(0, 4);
    covariance.fill(0);
    covariance[0] = pos ** 2;
    covariance[9] = pos ** 2;
    covariance[18] = ASPECT_INIT_STD ** 2;
    covariance[27] = pos ** 2;
    covariance[36] = vel ** 2;
    covariance[45] = vel ** 2;
    covariance[54] = ASPECT_VELOCITY_INIT_STD ** 2;
    covariance[63] = vel ** 2;
  }

  /** One frame forward: x ← F·x, P ← F·P·Fᵀ + Q, with F = [[I, I], [0, I]]. */
  predict(state: KalmanBoxState): void {
    const { mean, covariance: p } = state;
    const h = mean[3]!;
    const pos = (this.options.stdWeightPosition * h) ** 2;
    const vel = (this.options.stdWeightVelocity * h) ** 2;
    for (let i = 0; i < 4; i++) mean[i] = mean[i]! + mean[i + 4]!;
    // F·P adds row i+4 to row i; (F·P)·Fᵀ then adds column j+4 to column j.
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 8; j++) p[i * 8 + j] = p[i * 8 + j]! + p[(i + 4) * 8 + j]!;
    }
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 4; j++) p[i * 8 + j] = p[i * 8 + j]! + p[i * 8 + j + 4]!;
    }
    p[0] = p[0]! + pos;
    p[9] = p[9]! + pos;
    p[18] = p[18]! + ASPECT_PROCESS_STD ** 2;
    p[27] = p[27]! + pos;
    p[36] = p[36]! + vel;
    p[45] = p[45]! + vel;
    p[54] = p[54]! + ASPECT_VELOCITY_PROCESS_STD ** 2;
    p[63] = p[63]! + vel;
  }

  /** Corrects the state with a (cx, cy, a, h) measurement; H = [I, 0]. */
  update(state: KalmanBoxState, measurement: ArrayLike<number>): void {
    const { mean, covariance: p } = state;
    const { pht, gain, chol: l, innovation } = this;
    const h = mean[3]!;
    const pos = (this.options.stdWeightPosition * h) ** 2;

    for (let i = 0; i < 8; i++) {
      for (let k = 0; k < 4; k++) pht[i * 4 + k] = p[i * 8 + k]!;
    }
    // S = H·P·Hᵀ + R, factorised in place as S = L·Lᵀ.
    for (let i = 0; i < 16; i++) l[i] = pht[i]!;
    l[0] = l[0]! + pos;
    l[5] = l[5]! + pos;
    l[10] = l[10]! + ASPECT_MEASUREMENT_STD ** 2;
    l[15] = l[15]! + pos;
    choleskyInPlace4(l);

    // K = P·Hᵀ·S⁻¹: row r of K solves S·kᵣ = row r of P·Hᵀ (S is symmetric).
    for (let r = 0; r < 8; r++) {
      for (let i = 0; i < 4; i++) {
        let s = pht[r * 4 + i]!;
        for (let k = 0; k < i; k++) s -= l[i * 4 + k]! * gain[r * 4 + k]!;
        gain[r * 4 + i] = s / l[i * 5]!;
      }
      for (let i = 3; i >= 0; i--) {
        let s = gain[r * 4 + i]!;
        for (let k = i + 1; k < 4; k++) s -= l[k * 4 + i]! * gain[r * 4 + k]!;
        gain[r * 4 + i] = s / l[i * 5]!;
      }
    }

    for (let k = 0; k < 4; k++) innovation[k] = measurement[k]! - mean[k]!;
    for (let r = 0; r < 8; r++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += gain[r * 4 + k]! * innovation[k]!;
      mean[r] = mean[r]! + s;
    }
    // P ← P − K·S·Kᵀ = P − K·(P·Hᵀ)ᵀ.
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += gain[i * 4 + k]! * pht[j * 4 + k]!;
        p[i * 8 + j] = p[i * 8 + j]! - s;
      }
    }
  }
}

/** Lower Cholesky factor of a symmetric positive-definite 4x4 matrix, written over it. */
function choleskyInPlace4(a: Float64Array): void {
  for (let j = 0; j < 4; j++) {
    let d = a[j * 5]!;
    for (let k = 0; k < j; k++) d -= a[j * 4 + k]! ** 2;
    if (!(d > 0)) throw new RangeError('Kalman innovation covariance is not positive definite');
    const ljj = Math.sqrt(d);
    a[j * 5] = ljj;
    for (let i = j + 1; i < 4; i++) {
      let s = a[i * 4 + j]!;
      for (let k = 0; k < j; k++) s -= a[i * 4 + k]! * a[j * 4 + k]!;
      a[i * 4 + j] = s / ljj;
    }
    for (let i = 0; i < j; i++) a[i * 4 + j] = 0;
  }
}
