import { iou } from '../core/geometry.js';
import { groupByFrame, type MotRecord } from './mot-ground-truth.js';
import { matchBoxesByIou } from './mot-matching.js';

/**
 * CLEAR-MOT metrics (Bernardin & Stiefelhagen, 2008) with IoU ≥ iouThreshold as the
 * match criterion, following the MOTChallenge devkit:
 * - a GT–hypothesis pair matched in frame t−1 is kept in frame t while its IoU stays
 *   ≥ threshold (frames are consecutive integers; a frame without records breaks the chain);
 * - the remaining objects are matched optimally (most pairs, then most total IoU);
 * - an ID switch is a GT object matched to a different hypothesis than the last one it
 *   was matched to, however long ago.
 * MOTP is reported as the mean IoU of matched pairs (higher is better, as MOTChallenge
 * shows it), not as a mean distance.
 */
export interface ClearMotOptions {
  iouThreshold: number;
}

export interface ClearMotResult {
  /** Number of frames from the first to the last frame holding any record. */
  frames: number;
  numGt: number;
  numHypotheses: number;
  matches: number;
  /** False negatives. */
  misses: number;
  falsePositives: number;
  idSwitches: number;
  /** Interruptions of a GT trajectory's tracking between its first and last tracked frame. */
  fragmentations: number;
  /** 1 − (misses + falsePositives + idSwitches) / numGt; NaN without ground truth. */
  mota: number;
  /** Mean IoU of matched pairs; NaN without matches. */
  motp: number;
  precision: number;
  recall: number;
  gtTrajectories: number;
  /** GT trajectories matched in ≥ 80% of their frames. */
  mostlyTracked: number;
  /** GT trajectories matched in 20–80% of their frames. */
  partiallyTracked: number;
  /** GT trajectories matched in < 20% of their frames. */
  mostlyLost: number;
}

interface GtTrajectoryStats {
  present: number;
  matched: number;
  /** The trajectory has been matched at least once and missed since its last match. */
  interrupted: boolean;
  everMatched: boolean;
}

export function computeClearMot(
  gt: readonly MotRecord[],
  hypotheses: readonly MotRecord[],
  options: ClearMotOptions,
): ClearMotResult {
  const { iouThreshold } = options;
  const gtByFrame = groupByFrame(gt);
  const hypByFrame = groupByFrame(hypotheses);
  let firstFrame = Infinity;
  let lastFrame = -Infinity;
  for (const frame of [...gtByFrame.keys(), ...hypByFrame.keys()]) {
    firstFrame = Math.min(firstFrame, frame);
    lastFrame = Math.max(lastFrame, frame);
  }

  let matches = 0;
  let misses = 0;
  let falsePositives = 0;
  let idSwitches = 0;
  let fragmentations = 0;
  let iouSum = 0;
  let previousPairs = new Map<number, number>();
  const lastMatchedHypothesis = new Map<number, number>();
  const trajectories = new Map<number, GtTrajectoryStats>();

  for (let frame = firstFrame; frame <= lastFrame; frame++) {
    const gts = gtByFrame.get(frame) ?? [];
    const hyps = hypByFrame.get(frame) ?? [];
    const pairs = new Map<number, number>(); // gt index -> hyp index
    const hypTaken = new Set<number>();

    gts.forEach((g, gi) => {
      const previousHypId = previousPairs.get(g.id);
      if (previousHypId === undefined) return;
      const hi = hyps.findIndex((h) => h.id === previousHypId);
      if (hi >= 0 && iou(g.box, hyps[hi]!.box) >= iouThreshold) {
        pairs.set(gi, hi);
        hypTaken.add(hi);
      }
    });

    const openGt = gts.map((_, i) => i).filter((i) => !pairs.has(i));
    const openHyp = hyps.map((_, i) => i).filter((i) => !hypTaken.has(i));
    const fresh = matchBoxesByIou(
      openGt.map((i) => gts[i]!.box),
      openHyp.map((i) => hyps[i]!.box),
      iouThreshold,
    );
    for (const m of fresh) {
      const gi = openGt[m.a]!;
      const hi = openHyp[m.b]!;
      pairs.set(gi, hi);
      const last = lastMatchedHypothesis.get(gts[gi]!.id);
      if (last !== undefined && last !== hyps[hi]!.id) idSwitches++;
    }

    const currentPairs = new Map<number, number>();
    gts.forEach((g, gi) => {
      let stats = trajectories.get(g.id);
      if (!stats) trajectories.set(g.id, (stats = { present: 0, matched: 0, interrupted: false, everMatched: false }));
      stats.present++;
      const hi = pairs.get(gi);
      if (hi === undefined) {
        if (stats.everMatched) stats.interrupted = true;
        return;
      }
      const hypId = hyps[hi]!.id;
      if (stats.interrupted) fragmentations++;
      stats.matched++;
      stats.everMatched = true;
      stats.interrupted = false;
      iouSum += iou(g.box, hyps[hi]!.box);
      currentPairs.set(g.id, hypId);
      lastMatchedHypothesis.set(g.id, hypId);
    });
    previousPairs = currentPairs;

    matches += pairs.size;
    misses += gts.length - pairs.size;
    falsePositives += hyps.length - pairs.size;
  }

  let mostlyTracked = 0;
  let mostlyLost = 0;
  for (const { present, matched } of trajectories.values()) {
    const ratio = matched / present;
    if (ratio >= 0.8) mostlyTracked++;
    else if (ratio < 0.2) mostlyLost++;
  }
  const numGt = gt.length;
  return {
    frames: lastFrame >= firstFrame ? lastFrame - firstFrame + 1 : 0,
    numGt,
    numHypotheses: hypotheses.length,
    matches,
    misses,
    falsePositives,
    idSwitches,
    fragmentations,
    mota: numGt === 0 ? NaN : 1 - (misses + falsePositives + idSwitches) / numGt,
    motp: matches === 0 ? NaN : iouSum / matches,
    precision: matches + falsePositives === 0 ? NaN : matches / (matches + falsePositives),
    recall: numGt === 0 ? NaN : matches / numGt,
    gtTrajectories: trajectories.size,
    mostlyTracked,
    partiallyTracked: trajectories.size - mostlyTracked - mostlyLost,
    mostlyLost,
  };
}
