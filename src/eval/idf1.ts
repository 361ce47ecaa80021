import { iou } from '../core/geometry.js';
import { solveAssignment } from '../track/assignment.js';
import { groupByFrame, type MotRecord } from './mot-ground-truth.js';

/**
 * Identity metrics (Ristani et al., 2016): GT and hypothesis trajectories are matched
 * one-to-one for the whole sequence so as to minimise IDFP + IDFN, where a frame counts
 * as a true positive for a matched pair when both are present with IoU ≥ iouThreshold.
 * Each trajectory may stay unmatched at the cost of its length (the usual fake nodes).
 */
export interface IdentityOptions {
  iouThreshold: number;
}

export interface IdentityPair {
  gtId: number;
  hypothesisId: number;
  /** Frames in which the pair overlaps with IoU ≥ threshold (their IDTP contribution). */
  overlapFrames: number;
}

export interface IdentityResult {
  idtp: number;
  idfp: number;
  idfn: number;
  /** IDTP / (IDTP + IDFP); NaN when both are 0. */
  idp: number;
  /** IDTP / (IDTP + IDFN); NaN when both are 0. */
  idr: number;
  /** 2·IDTP / (2·IDTP + IDFP + IDFN); NaN when there is nothing to score. */
  idf1: number;
  /** The optimal GT ↔ hypothesis identity matching, sorted by GT id. */
  identityPairs: IdentityPair[];
}

export function computeIdentityMetrics(
  gt: readonly MotRecord[],
  hypotheses: readonly MotRecord[],
  options: IdentityOptions,
): IdentityResult {
  const gtIds = distinctIds(gt);
  const hypIds = distinctIds(hypotheses);
  const gtLength = countById(gt);
  const hypLength = countById(hypotheses);

  // overlap[gt row][hyp col]
  const gtRow = new Map(gtIds.map((id, i) => [id, i]));
  const hypCol = new Map(hypIds.map((id, i) => [id, i]));
  const overlap = gtIds.map(() => new Float64Array(hypIds.length));
  const hypByFrame = groupByFrame(hypotheses);
  for (const [frame, gts] of groupByFrame(gt)) {
    const hyps = hypByFrame.get(frame) ?? [];
    for (const g of gts) {
      for (const h of hyps) {
        if (iou(g.box, h.box) >= options.iouThreshold) overlap[gtRow.get(g.id)!]![hypCol.get(h.id)!]! += 1;
      }
    }
  }

  const { pairs } = solveAssignment({
    rows: gtIds.length,
    cols: hypIds.length,
    // IDFN + IDFP of the pair; pairs that never overlap gain nothing over staying unmatched.
    cost: (r, c) => {
      const n = overlap[r]![c]!;
      return n > 0 ? gtLength.get(gtIds[r]!)! + hypLength.get(hypIds[c]!)! - 2 * n : Infinity;
    },
    unassignedRowCost: (r) => gtLength.get(gtIds[r]!)!,
    unassignedColCost: (c) => hypLength.get(hypIds[c]!)!,
  });

  const identityPairs = pairs.map(([r, c]) => ({
    gtId: gtIds[r]!,
    hypothesisId: hypIds[c]!,
    overlapFrames: overlap[r]![c]!,
  }));
  const idtp = identityPairs.reduce((s, p) => s + p.overlapFrames, 0);
  const idfn = gt.length - idtp;
  const idfp = hypotheses.length - idtp;
  return {
    idtp,
    idfp,
    idfn,
    idp: idtp + idfp === 0 ? NaN : idtp / (idtp + idfp),
    idr: idtp + idfn === 0 ? NaN : idtp / (idtp + idfn),
    idf1: idtp + idfp + idfn === 0 ? NaN : (2 * idtp) / (2 * idtp + idfp + idfn),
    identityPairs,
  };
}

function distinctIds(records: readonly MotRecord[]): number[] {
  return [...new Set(records.map((r) => r.id))].sort((a, b) => a - b);
}

function countById(records: readonly MotRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  return counts;
}
