import { iou } from '../core/geometry.js';
import type { Detection } from '../core/types.js';

/**
 * Class-aware greedy non-maximum suppression: highest score first, a detection is
 * dropped when it overlaps an already kept detection of the same class by more than
 * `iouThreshold`. Detections of different classes never suppress each other.
 * Returns the kept detections, highest score first.
 */
export function suppressOverlaps<T extends Detection>(detections: readonly T[], iouThreshold: number): T[] {
  const byScore = [...detections].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of byScore) {
    const overlapsKept = kept.some((k) => k.objectClass === candidate.objectClass && iou(k.box, candidate.box) > iouThreshold);
    if (!overlapsKept) kept.push(candidate);
  }
  return kept;
}
