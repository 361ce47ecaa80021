import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KalmanBoxFilter,
  boxToMeasurement,
  createKalmanBoxState,
  stateToBox,
} from '../src/track/kalman-box-filter.js';

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not within ${tol} of ${expected}`);

test('box <-> (cx, cy, a, h) measurement', () => {
  const z = boxToMeasurement({ x1: 75, y1: 150, x2: 125, y2: 250 }, new Float64Array(4));
  assert.deepEqual(Array.from(z), [100, 200, 0.5, 100]);
  const state = createKalmanBoxState();
  new KalmanBoxFilter().initiate(state, z);
  assert.deepEqual(stateToBox(state), { x1: 75, y1: 150, x2: 125, y2: 250 });
});

test('one initiate + predict + update step matches the hand-computed ByteTrack filter', () => {
  // h = 100, std weights 1/20 and 1/160.
  // initiate: var(pos) = (2*0.05*100)^2 = 100, var(a) = 1e-4, var(vel) = (10*100/160)^2 = 39.0625, var(va) = 1e-10
  // predict (zero velocity, mean unchanged): P = F P F^T + Q with Q pos = 5^2 = 25, a = 1e-4, vel = 0.625^2, va = 1e-10
  //   var(cx) = 100 + 39.0625 + 25 = 164.0625 = 2625/16, cov(cx, vcx) = 39.0625 = 625/16,
  //   var(vcx) = 39.0625 + 0.390625 = 39.453125
  // update with z = (110, 200, 0.5, 100): R pos = 25, S(cx) = 189.0625 = 3025/16
  //   K(cx) = 2625/3025 = 105/121, K(vcx) = 625/3025 = 25/121
  //   cx = 100 + 10*105/121, vcx = 250/121
  //   var(cx) = 2625/16 * (1 - 105/121) = 2625/121, cov(cx, vcx) = 625/16 * 16/121 = 625/121
  //   var(vcx) = 39.453125 - (625/16)*(25/121)
  const filter = new KalmanBoxFilter();
  const state = createKalmanBoxState();
  filter.initiate(state, [100, 200, 0.5, 100]);
  close(state.covariance[0]!, 100);
  close(state.covariance[36]!, 39.0625);

  filter.predict(state);
  assert.deepEqual(Array.from(state.mean), [100, 200, 0.5, 100, 0, 0, 0, 0]);
  close(state.covariance[0]!, 164.0625);
  close(state.covariance[4]!, 39.0625);
  close(state.covariance[32]!, 39.0625);
  close(state.covariance[36]!, 39.453125);
  close(state.covariance[18]!, 2e-4 + 1e-10, 1e-15);

  filter.update(state, [110, 200, 0.5, 100]);
  close(state.mean[0]!, 100 + 1050 / 121);
  close(state.mean[4]!, 250 / 121);
  close(state.mean[1]!, 200);
  close(state.mean[3]!, 100);
  close(state.covariance[0]!, 2625 / 121);
  close(state.covariance[4]!, 625 / 121);
  close(state.covariance[32]!, 625 / 121);
  close(state.covariance[36]!, 39.453125 - (625 / 16) * (25 / 121));
  // y was not disturbed: var(cy) shrinks the same way, no cross term with x.
  close(state.covariance[9]!, 2625 / 121);
  close(state.covariance[1]!, 0);
});

test('predict moves the box by its velocity', () => {
  const filter = new KalmanBoxFilter();
  const state = createKalmanBoxState();
  filter.initiate(state, [100, 200, 0.5, 100]);
  state.mean[4] = 3;
  state.mean[5] = -2;
  state.mean[7] = 1;
  filter.predict(state);
  assert.deepEqual(Array.from(state.mean.subarray(0, 4)), [103, 198, 0.5, 101]);
});

// Dense textbook reference: x = Fx, P = FPF' + Q; K = PH'(HPH' + R)^-1, x += K(z - Hx), P = (I - KH)P.
function referenceStep(mean: number[], cov: number[][], z: number[]): { mean: number[]; cov: number[][] } {
  const n = 8;
  const F: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j || j === i + 4 ? 1 : 0)));
  const mul = (a: number[][], b: number[][]) =>
    a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
  const tr = (a: number[][]) => a[0]!.map((_, j) => a.map((row) => row[j]!));
  const h0 = mean[3]!;
  const q = [h0 / 20, h0 / 20, 1e-2, h0 / 20, h0 / 160, h0 / 160, 1e-5, h0 / 160].map((s) => s * s);
  const m1 = F.map((row) => row.reduce((s, v, k) => s + v * mean[k]!, 0));
  const p1 = mul(mul(F, cov), tr(F)).map((row, i) => row.map((v, j) => v + (i === j ? q[i]! : 0)));
  const h1 = m1[3]!;
  const r = [h1 / 20, h1 / 20, 1e-1, h1 / 20].map((s) => s * s);
  const S = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => p1[i]![j]! + (i === j ? r[i]! : 0)));
  // Gauss-Jordan inverse of S.
  const aug = S.map((row, i) => [...row, ...[0, 1, 2, 3].map((j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < 4; c++) {
    const pivot = aug[c]![c]!;
    aug[c] = aug[c]!.map((v) => v / pivot);
    for (let rr = 0; rr < 4; rr++) {
      if (rr === c) continue;
      const f = aug[rr]![c]!;
      aug[rr] = aug[rr]!.map((v, j) => v - f * aug[c]![j]!);
    }
  }
  const Sinv = aug.map((row) => row.slice(4));
  const PHt = p1.map((row) => row.slice(0, 4));
  const K = mul(PHt, Sinv);
  const innov = [0, 1, 2, 3].map((i) => z[i]! - m1[i]!);
  const m2 = m1.map((v, i) => v + K[i]!.reduce((s, kv, k) => s + kv * innov[k]!, 0));
  const KH = K.map((row) => [...row, 0, 0, 0, 0]);
  const IminusKH = KH.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) - v));
  return { mean: m2, cov: mul(IminusKH, p1) };
}

test('a sequence of steps with correlated covariance matches a dense reference implementation', () => {
  const filter = new KalmanBoxFilter();
  const state = createKalmanBoxState();
  const zs = [
    [300, 120, 0.42, 180],
    [305, 121, 0.41, 182],
    [311, 123, 0.43, 185],
    [318, 122, 0.40, 184],
    [322, 126, 0.44, 190],
  ];
  filter.initiate(state, zs[0]!);
  let mean = Array.from(state.mean);
  let cov = Array.from({ length: 8 }, (_, i) => Array.from(state.covariance.subarray(i * 8, i * 8 + 8)));
  for (const z of zs.slice(1)) {
    filter.predict(state);
    filter.update(state, z);
    ({ mean, cov } = referenceStep(mean, cov, z));
  }
  for (let i = 0; i < 8; i++) close(state.mean[i]!, mean[i]!, 1e-9);
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 8; j++) close(state.covariance[i * 8 + j]!, cov[i]![j]!, 1e-8);
  }
  // The filter has picked up the rightward motion.
  assert.ok(state.mean[4]! > 3);
});
