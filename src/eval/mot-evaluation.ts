import { computeClearMot, type ClearMotResult } from './clear-mot.js';
import { computeIdentityMetrics, type IdentityResult } from './idf1.js';
import { groupByFrame, type MotRecord } from './mot-ground-truth.js';
import { matchBoxesByIou } from './mot-matching.js';

export interface TrackingEvaluationOptions {
  /** Minimum IoU for a hypothesis to cover a GT box (default 0.5). */
  iouThreshold?: number;
}

export interface TrackingEvaluation extends ClearMotResult, IdentityResult {
  /** Hypothesis boxes removed because they covered a GT box marked "do not consider". */
  ignoredHypotheses: number;
}

/**
 * CLEAR-MOT and identity metrics of `hypotheses` against `gt` (both MOT records, same
 * frame numbering). GT records with consider = false are ignore regions, as in the
 * MOTChallenge devkit: in each frame, hypotheses matched to one of them (optimal IoU
 * matching against all GT boxes of the frame) are removed, then the ignored GT is
 * dropped. Other GT filtering (e.g. minimum height) is the caller's, via filterMotRecords.
 */
export function evaluateTracking(
  gt: readonly MotRecord[],
  hypotheses: readonly MotRecord[],
  options: TrackingEvaluationOptions = {},
): TrackingEvaluation {
  const iouThreshold = options.iouThreshold ?? 0.5;
  const kept = dropHypothesesOnIgnoredGt(gt, hypotheses, iouThreshold);
  const scoredGt = gt.filter((r) => r.consider);
  return {
    ...computeClearMot(scoredGt, kept, { iouThreshold }),
    ...computeIdentityMetrics(scoredGt, kept, { iouThreshold }),
    ignoredHypotheses: hypotheses.length - kept.length,
  };
}

function dropHypothesesOnIgnoredGt(
  gt: readonly MotRecord[],
  hypotheses: readonly MotRecord[],
  iouThreshold: number,
): MotRecord[] {
  const gtByFrame = groupByFrame(gt);
  const dropped = new Set<MotRecord>();
  for (const [frame, hyps] of groupByFrame(hypotheses)) {
    const gts = gtByFrame.get(frame);
    if (!gts?.some((g) => !g.consider)) continue;
    const matches = matchBoxesByIou(
      gts.map((g) => g.box),
      hyps.map((h) => h.box),
      iouThreshold,
    );
    for (const m of matches) if (!gts[m.a]!.consider) dropped.add(hyps[m.b]!);
  }
  return hypotheses.filter((h) => !dropped.has(h));
}
