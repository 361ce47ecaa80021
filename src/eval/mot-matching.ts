import { iou, type Box } from '../core/geometry.js';
import { solveAssignment } from '../track/assignment.js';

export interface BoxMatch {
  a: number;
  b: number;
  iou: number;
}

/**
 * Optimal one-to-one matching of two box lists in one frame, as in the MOTChallenge
 * devkit and py-motmetrics: only pairs with IoU ≥ minIou are allowed; among matchings,
 * the largest number of pairs wins, then the largest total IoU.
 */
export function matchBoxesByIou(a: readonly Box[], b: readonly Box[], minIou: number): BoxMatch[] {
  const overlaps = a.map((boxA) => b.map((boxB) => iou(boxA, boxB)));
  // Costs are 1 − IoU ≤ 1 per pair; an unassigned price above min(|a|,|b|) per side
  // makes one more pair always worth more than any change in total IoU.
  const unassigned = Math.min(a.length, b.length) + 1;
  const { pairs } = solveAssignment({
    rows: a.length,
    cols: b.length,
    cost: (r, c) => {
      const v = overlaps[r]![c]!;
      return v >= minIou && v > 0 ? 1 - v : Infinity;
    },
    unassignedRowCost: () => unassigned,
    unassignedColCost: () => unassigned,
  });
  return pairs.map(([r, c]) => ({ a: r, b: c, iou: overlaps[r]![c]! }));
}
