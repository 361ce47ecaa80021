import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeClearMot } from '../src/eval/clear-mot.js';
import { computeIdentityMetrics } from '../src/eval/idf1.js';
import { evaluateTracking } from '../src/eval/mot-evaluation.js';
import type { MotRecord } from '../src/eval/mot-ground-truth.js';

/** 100x100 box at (x, 0). Boxes at the same x have IoU 1; 25 px apart, IoU 75/125 = 0.6. */
const rec = (frame: number, id: number, x: number, consider = true): MotRecord => ({
  frame,
  id,
  box: { x1: x, y1: 0, x2: x + 100, y2: 100 },
  confidence: consider ? 1 : 0,
  consider,
});
const track = (id: number, frames: number[], x: number) => frames.map((f) => rec(f, id, x));
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} !== ${expected}`);

test('perfect tracking: MOTA 1, MOTP 1, IDF1 1', () => {
  const gt = [...track(1, range(1, 4), 0), ...track(2, range(1, 4), 300)];
  const hyp = [...track(10, range(1, 4), 0), ...track(20, range(1, 4), 300)];
  const r = evaluateTracking(gt, hyp);
  assert.equal(r.frames, 4);
  assert.deepEqual([r.numGt, r.matches, r.misses, r.falsePositives, r.idSwitches, r.fragmentations], [8, 8, 0, 0, 0, 0]);
  assert.deepEqual([r.mota, r.motp, r.precision, r.recall], [1, 1, 1, 1]);
  assert.deepEqual([r.idtp, r.idfp, r.idfn, r.idp, r.idr, r.idf1], [8, 0, 0, 1, 1, 1]);
  assert.deepEqual([r.gtTrajectories, r.mostlyTracked, r.partiallyTracked, r.mostlyLost], [2, 2, 0, 0]);
  assert.deepEqual(r.identityPairs, [
    { gtId: 1, hypothesisId: 10, overlapFrames: 4 },
    { gtId: 2, hypothesisId: 20, overlapFrames: 4 },
  ]);
});

test('one ID switch: MOTA 0.75, IDF1 0.5', () => {
  // GT 1 in frames 1-4; hypothesis 10 covers frames 1-2, hypothesis 11 frames 3-4.
  // CLEAR-MOT: 4 matches, 1 switch at frame 3 -> MOTA = 1 - 1/4.
  // IDF1: GT 1 keeps one of them (2 frames): IDTP 2, IDFN 2, IDFP 2 (the other) -> 4/(4+2+2).
  const gt = track(1, range(1, 4), 0);
  const hyp = [...track(10, [1, 2], 0), ...track(11, [3, 4], 0)];
  const r = evaluateTracking(gt, hyp);
  assert.deepEqual([r.matches, r.misses, r.falsePositives, r.idSwitches], [4, 0, 0, 1]);
  assert.equal(r.mota, 0.75);
  assert.deepEqual([r.idtp, r.idfp, r.idfn, r.idp, r.idr, r.idf1], [2, 2, 2, 0.5, 0.5, 0.5]);
});

test('one false positive and one miss, with a partial overlap', () => {
  // GT 1 in frames 1-2, GT 2 in frame 1 only (missed). Hyp 10 covers GT 1 (IoU 1, then 0.6 at
  // 25 px offset); hyp 20 in frame 2 covers nothing.
  // numGt 3, matches 2, FN 1, FP 1 -> MOTA = 1 - 2/3; MOTP = (1 + 0.6)/2 = 0.8;
  // precision = recall = 2/3. IDF1: 1<->10 gives IDTP 2, IDFN 1, IDFP 1 -> 4/6.
  const gt = [...track(1, [1, 2], 0), rec(1, 2, 300)];
  const hyp = [rec(1, 10, 0), rec(2, 10, 25), rec(2, 20, 600)];
  const r = evaluateTracking(gt, hyp);
  assert.deepEqual([r.numGt, r.matches, r.misses, r.falsePositives, r.idSwitches], [3, 2, 1, 1, 0]);
  close(r.mota, 1 / 3);
  close(r.motp, 0.8);
  close(r.precision, 2 / 3);
  close(r.recall, 2 / 3);
  assert.deepEqual([r.idtp, r.idfp, r.idfn], [2, 1, 1]);
  close(r.idf1, 2 / 3);
  assert.deepEqual([r.mostlyTracked, r.partiallyTracked, r.mostlyLost], [1, 0, 1]);
});

test('a track fragmented into two ids costs MOTA one switch but halves IDF1; a gap with one id is the opposite', () => {
  // GT 1 in frames 1-10. Split: hyp 10 in 1-5, hyp 11 in 6-10.
  // MOTA = 1 - 1/10 = 0.9; IDF1: IDTP 5, IDFN 5, IDFP 5 -> 0.5.
  const gt = track(1, range(1, 10), 0);
  const split = evaluateTracking(gt, [...track(10, range(1, 5), 0), ...track(11, range(6, 10), 0)]);
  assert.equal(split.idSwitches, 1);
  close(split.mota, 0.9);
  assert.equal(split.idf1, 0.5);
  // Gap: hyp 10 in 1-4 and 7-10, missing 5-6. MOTA = 1 - 2/10 = 0.8;
  // IDF1 = 2*8 / (2*8 + 0 + 2) = 8/9 > MOTA. One fragmentation, no switch.
  const gap = evaluateTracking(gt, [...track(10, range(1, 4), 0), ...track(10, range(7, 10), 0)]);
  assert.deepEqual([gap.misses, gap.idSwitches, gap.fragmentations], [2, 0, 1]);
  close(gap.mota, 0.8);
  close(gap.idf1, 8 / 9);
});

test('the previous frame correspondence is kept while still valid, even if another hypothesis fits better', () => {
  // Frame 1: GT 1 <-> hyp 10 (IoU 1). Frame 2: hyp 10 has drifted (IoU 0.6), hyp 11 sits exactly on GT 1.
  // Kept: GT 1 <-> 10, hyp 11 is the FP, no switch: MOTA = 1 - 1/2, MOTP = (1 + 0.6)/2.
  // Re-matching from scratch would pick 11 (IoU 1) and count a switch (MOTA 0, MOTP 1).
  const gt = track(1, [1, 2], 0);
  const hyp = [rec(1, 10, 0), rec(2, 10, 25), rec(2, 11, 0)];
  const r = computeClearMot(gt, hyp, { iouThreshold: 0.5 });
  assert.deepEqual([r.matches, r.falsePositives, r.idSwitches], [2, 1, 0]);
  assert.equal(r.mota, 0.5);
  close(r.motp, 0.8);
});

test('only the previous frame correspondence is kept; a switch is judged against the last matched id', () => {
  // GT 1 in frames 1-3. Frame 1: hyp 10. Frame 2: no hypothesis (miss). Frame 3: hyp 11 exactly
  // on GT 1 and hyp 10 at IoU 0.6. The frame-1 pair is not carried over the missed frame, so
  // frame 3 is matched afresh to 11: a switch (last matched was 10), one fragmentation.
  // MOTA = 1 - (1 FN + 1 FP + 1 IDSW)/3 = 0; GT 1 matched in 2/3 frames -> partially tracked.
  const gt = track(1, range(1, 3), 0);
  const hyp = [rec(1, 10, 0), rec(3, 10, 25), rec(3, 11, 0)];
  const r = computeClearMot(gt, hyp, { iouThreshold: 0.5 });
  assert.deepEqual([r.matches, r.misses, r.falsePositives, r.idSwitches, r.fragmentations], [2, 1, 1, 1, 1]);
  assert.equal(r.mota, 0);
  assert.deepEqual([r.mostlyTracked, r.partiallyTracked, r.mostlyLost], [0, 1, 0]);
});

test('within a frame, the matching with the most pairs wins over the single best IoU', () => {
  // GT A = [0,100], GT B = [25,125]; h1 = [10,110], h2 = [-30,70].
  // IoU(A,h1) = 90/110 is the best pair, but then B has nothing (IoU(B,h2) = 45/155 < 0.5).
  // Optimal: A<->h2 (70/130) and B<->h1 (85/115): no miss, no FP.
  const gt = [rec(1, 1, 0), rec(1, 2, 25)];
  const hyp = [rec(1, 10, 10), rec(1, 20, -30)];
  const r = computeClearMot(gt, hyp, { iouThreshold: 0.5 });
  assert.deepEqual([r.matches, r.misses, r.falsePositives], [2, 0, 0]);
  close(r.motp, (70 / 130 + 85 / 115) / 2);
  // Cardinality comes before total IoU (as py-motmetrics' expensive edges): A = [0,100],
  // B = [18,118]; h1 = [0,100] on A exactly, h2 = [-18,82]. IoU(B,h2) = 64/136 < 0.5.
  // A<->h1 alone has IoU 1; A<->h2 + B<->h1 has two pairs at 82/118 each and wins.
  const two = computeClearMot([rec(1, 1, 0), rec(1, 2, 18)], [rec(1, 10, 0), rec(1, 20, -18)], { iouThreshold: 0.5 });
  assert.deepEqual([two.matches, two.misses, two.falsePositives], [2, 0, 0]);
  close(two.motp, 82 / 118);
});

test('IDF1 matches identities globally: two crossing targets whose hypotheses swap near the end', () => {
  // GT 1 at x=0 and GT 2 at x=300 in frames 1-6. Hyp 10 follows GT 1 in 1-4 then GT 2 in 5-6;
  // hyp 20 the reverse. Overlaps: (1,10)=4, (1,20)=2, (2,10)=2, (2,20)=4.
  // Optimal: 1<->10, 2<->20: IDTP 8, IDFP 4, IDFN 4 -> IDF1 16/24. CLEAR-MOT: 2 switches at frame 5.
  const gt = [...track(1, range(1, 6), 0), ...track(2, range(1, 6), 300)];
  const hyp = [
    ...track(10, range(1, 4), 0), ...track(10, [5, 6], 300),
    ...track(20, range(1, 4), 300), ...track(20, [5, 6], 0),
  ];
  const id = computeIdentityMetrics(gt, hyp, { iouThreshold: 0.5 });
  assert.deepEqual([id.idtp, id.idfp, id.idfn], [8, 4, 4]);
  close(id.idf1, 2 / 3);
  assert.deepEqual(id.identityPairs.map((p) => [p.gtId, p.hypothesisId, p.overlapFrames]), [[1, 10, 4], [2, 20, 4]]);
  const clear = computeClearMot(gt, hyp, { iouThreshold: 0.5 });
  assert.equal(clear.idSwitches, 2);
  close(clear.mota, 1 - 2 / 12);
});

test('an unmatched long hypothesis costs its full length in IDFP (fake nodes)', () => {
  // GT 1 in frames 1-2; hyp 10 on it in 1-2; hyp 11 elsewhere for 5 frames.
  // IDTP 2, IDFN 0, IDFP 5 -> IDP 2/7, IDR 1, IDF1 4/9.
  const gt = track(1, [1, 2], 0);
  const hyp = [...track(10, [1, 2], 0), ...track(11, range(1, 5), 500)];
  const id = computeIdentityMetrics(gt, hyp, { iouThreshold: 0.5 });
  assert.deepEqual([id.idtp, id.idfp, id.idfn, id.idr], [2, 5, 0, 1]);
  close(id.idp, 2 / 7);
  close(id.idf1, 4 / 9);
});

test('hypotheses on GT marked "do not consider" are removed, not counted as false positives', () => {
  const gt = [...track(1, [1, 2], 0), rec(1, 9, 500, false), rec(2, 9, 500, false)];
  const hyp = [...track(10, [1, 2], 0), ...track(30, [1, 2], 510)];
  const r = evaluateTracking(gt, hyp);
  assert.equal(r.ignoredHypotheses, 2);
  assert.deepEqual([r.numGt, r.numHypotheses, r.falsePositives, r.mota, r.idf1], [2, 2, 0, 1, 1]);
  // Without the flag the same GT box is a miss in both frames and the hypothesis matches it.
  const counted = evaluateTracking(gt.map((g) => ({ ...g, consider: true })), hyp);
  assert.deepEqual([counted.numGt, counted.matches, counted.ignoredHypotheses], [4, 4, 0]);
});

test('the IoU threshold decides what counts as a match', () => {
  const gt = track(1, [1], 0);
  const hyp = [rec(1, 10, 25)]; // IoU 0.6
  assert.equal(evaluateTracking(gt, hyp).matches, 1);
  const strict = evaluateTracking(gt, hyp, { iouThreshold: 0.7 });
  assert.deepEqual([strict.matches, strict.misses, strict.falsePositives, strict.mota, strict.idf1], [0, 1, 1, -1, 0]);
});
